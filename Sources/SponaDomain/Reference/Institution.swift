/// A social work centre, a school, a police administration, an NGO…: whoever takes part.
public struct Institution: Hashable, Codable, Sendable {
    public var id: InstitutionID
    public var nameLatin: String
    public var nameCyrillic: String?
    public var sector: Sector
    /// Nil for national bodies (a ministry, the Center, the Commissariat).
    public var municipality: MunicipalityCode?
    public var isActive: Bool
    /// The Center for Protection of Victims of Trafficking: it alone identifies victims.
    public var isCenter: Bool

    public init(
        id: InstitutionID,
        nameLatin: String,
        nameCyrillic: String? = nil,
        sector: Sector,
        municipality: MunicipalityCode?,
        isActive: Bool = true,
        isCenter: Bool = false
    ) {
        self.id = id
        self.nameLatin = nameLatin
        self.nameCyrillic = nameCyrillic
        self.sector = sector
        self.municipality = municipality
        self.isActive = isActive
        self.isCenter = isCenter
    }
}
