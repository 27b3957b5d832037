/// Serbia's administrative districts (and the City of Belgrade), ISO 3166-2:RS coded: `RS-00`
/// is Belgrade, `RS-01` … `RS-24` the districts. Regional teams are scoped by district.
public struct DistrictCode: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A city, municipality or city municipality, by the project's own stable code: the Latin
/// name in lower-case ASCII (`prokuplje`), prefixed by its city for a city municipality
/// (`beograd-vozdovac`, `nis-palilula`). No licensed list of the official codes exists; once
/// given, a code never changes, even if the name does.
public struct MunicipalityCode: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

public struct District: Hashable, Sendable, Codable {
    public var code: DistrictCode
    public var nameLatin: String
    public var nameCyrillic: String
}

public struct Municipality: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        case city
        case municipality
        /// A part of a city with a local government of its own (Voždovac, Niška Banja, Sevojno…).
        case cityMunicipality = "city_municipality"
    }

    public var code: MunicipalityCode
    public var district: DistrictCode
    public var kind: Kind
    public var nameLatin: String
    public var nameCyrillic: String
    /// The city a city municipality belongs to.
    public var parent: MunicipalityCode?
}

/// The geography the project ships in `Reference/`: every district, city, municipality and city
/// municipality, and aliases for places that are not themselves municipalities (a settlement
/// such as Sremska Kamenica belongs to Novi Sad).
public struct Geography: Sendable {
    public let districts: [District]
    public let municipalities: [Municipality]
    private let districtsByCode: [DistrictCode: District]
    private let municipalitiesByCode: [MunicipalityCode: Municipality]
    private let byName: [String: [MunicipalityCode]]

    public enum LoadError: Error, CustomStringConvertible, Equatable {
        case csv(file: String, CSVTable.ParseError)
        case missingColumn(file: String, column: String)
        case unknownDistrict(municipality: String, district: String)
        case unknownParent(municipality: String, parent: String)
        case duplicateCode(String)
        case badKind(municipality: String, kind: String)

        public var description: String {
            switch self {
            case let .csv(file, error): "\(file): \(error)"
            case let .missingColumn(file, column): "\(file): no column '\(column)'"
            case let .unknownDistrict(municipality, district): "municipality \(municipality) names an unknown district \(district)"
            case let .unknownParent(municipality, parent): "city municipality \(municipality) names an unknown city \(parent)"
            case .duplicateCode(let code): "the code \(code) is given twice"
            case let .badKind(municipality, kind): "municipality \(municipality) has an unknown kind '\(kind)'"
            }
        }
    }

    /// Reads the three files of `Reference/`: `districts.csv`, `municipalities.csv`,
    /// `place-aliases.csv` (given as text: the domain does no I/O).
    public init(districtsCSV: String, municipalitiesCSV: String, aliasesCSV: String) throws(LoadError) {
        func table(_ text: String, _ file: String, _ columns: [String]) throws(LoadError) -> [[String: String]] {
            let table: CSVTable
            do { table = try CSVTable(parsing: text) } catch { throw .csv(file: file, error) }
            for column in columns where !table.header.contains(column) { throw .missingColumn(file: file, column: column) }
            return table.rows
        }

        var districts: [District] = []
        for row in try table(districtsCSV, "districts.csv", ["code", "name_lat", "name_cyr"]) {
            districts.append(District(code: DistrictCode(rawValue: row["code"]!), nameLatin: row["name_lat"]!, nameCyrillic: row["name_cyr"]!))
        }
        let districtsByCode = Dictionary(districts.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })
        guard districtsByCode.count == districts.count else { throw .duplicateCode("a district") }

        var municipalities: [Municipality] = []
        var codes = Set<MunicipalityCode>()
        for row in try table(municipalitiesCSV, "municipalities.csv", ["code", "district", "kind", "name_lat", "name_cyr", "parent"]) {
            let code = MunicipalityCode(rawValue: row["code"]!)
            guard codes.insert(code).inserted else { throw .duplicateCode(code.rawValue) }
            let district = DistrictCode(rawValue: row["district"]!)
            guard districtsByCode[district] != nil else { throw .unknownDistrict(municipality: code.rawValue, district: district.rawValue) }
            guard let kind = Municipality.Kind(rawValue: row["kind"]!) else { throw .badKind(municipality: code.rawValue, kind: row["kind"]!) }
            let parent = row["parent"]!.isEmpty ? nil : MunicipalityCode(rawValue: row["parent"]!)
            municipalities.append(
                Municipality(
                    code: code,
                    district: district,
                    kind: kind,
                    nameLatin: row["name_lat"]!,
                    nameCyrillic: row["name_cyr"]!,
                    parent: parent
                )
            )
        }
        for municipality in municipalities {
            if let parent = municipality.parent, !codes.contains(parent) {
                throw .unknownParent(municipality: municipality.code.rawValue, parent: parent.rawValue)
            }
        }

        var byName: [String: [MunicipalityCode]] = [:]
        for municipality in municipalities {
            for name in Set([Self.key(municipality.nameLatin), Self.key(municipality.nameCyrillic)]) {
                byName[name, default: []].append(municipality.code)
            }
        }
        for row in try table(aliasesCSV, "place-aliases.csv", ["alias_lat", "alias_cyr", "municipality"]) {
            let code = MunicipalityCode(rawValue: row["municipality"]!)
            guard codes.contains(code) else { throw .unknownParent(municipality: row["alias_lat"]!, parent: code.rawValue) }
            for name in Set([Self.key(row["alias_lat"]!), Self.key(row["alias_cyr"]!)]) where !name.isEmpty {
                byName[name, default: []].append(code)
            }
        }

        self.districts = districts.sorted { $0.code < $1.code }
        self.municipalities = municipalities
        self.districtsByCode = districtsByCode
        self.municipalitiesByCode = Dictionary(uniqueKeysWithValues: municipalities.map { ($0.code, $0) })
        self.byName = byName
    }

    public func municipality(_ code: MunicipalityCode) -> Municipality? { municipalitiesByCode[code] }
    public func district(_ code: DistrictCode) -> District? { districtsByCode[code] }

    /// Finds a place by the name people write, in Latin or Cyrillic script, ignoring case.
    /// A name two places share (Palilula is in Belgrade and in Niš) needs `within`, the city.
    public func resolve(name: String, within city: String? = nil) -> Municipality? {
        let candidates = (byName[Self.key(name)] ?? []).compactMap { municipalitiesByCode[$0] }
        if candidates.count == 1 { return candidates[0] }
        guard let city, let parent = resolve(name: city) else { return nil }
        let inCity = candidates.filter { $0.parent == parent.code }
        return inCity.count == 1 ? inCity[0] : nil
    }

    /// The municipalities of a district, cities' city municipalities included.
    /// A city and its city municipalities (Beograd and its 17), or just the place itself: what a
    /// training or a figure "for the city" covers.
    public func cityAndParts(_ code: MunicipalityCode) -> [MunicipalityCode] {
        guard municipality(code)?.kind == .city else { return [code] }
        return [code] + municipalitiesByCode.values.filter { $0.parent == code }.map(\.code).sorted()
    }

    public func municipalities(in district: DistrictCode) -> [Municipality] {
        municipalities.filter { $0.district == district }
    }

    private static func key(_ name: String) -> String {
        name.lowercased().split(whereSeparator: { $0 == " " || $0 == "-" }).joined(separator: " ")
    }
}
