import Foundation

public struct TrainingID: Identifier { public let rawValue: UUID; public init(rawValue: UUID) { self.rawValue = rawValue } }

/// A regional training on recognising trafficking: the stream `training-<id>` holds one
/// `TrainingHeld` event. Regional teams compare reports before and after it.
public struct TrainingHeld: Hashable, Codable, Sendable {
    public var id: TrainingID
    /// The day it was held, `YYYY-MM-DD`.
    public var date: String
    public var host: MunicipalityCode
    /// Participants by sector; sectors nobody came from are left out.
    public var participantsBySector: [Sector: Int]
    public var participants: Int
    public var women: Int
    public var men: Int
    /// The municipalities whose staff took part.
    public var municipalities: [MunicipalityCode]
    public var institutions: [InstitutionID]

    public init(id: TrainingID = TrainingID(), date: String, host: MunicipalityCode, participantsBySector: [Sector: Int] = [:], participants: Int, women: Int, men: Int, municipalities: [MunicipalityCode] = [], institutions: [InstitutionID] = []) {
        self.id = id
        self.date = date
        self.host = host
        self.participantsBySector = participantsBySector
        self.participants = participants
        self.women = women
        self.men = men
        self.municipalities = municipalities
        self.institutions = institutions
    }

    public static let typeName = "TrainingHeld"
    public static let schemaVersion: Int32 = 1

    /// The rules for recording one: an administrator or the Center, a real day, a known host
    /// and municipalities, and counts that add up.
    public func validate(actor: Actor, isCenter: Bool, geography: Geography) throws(RegistryError) {
        guard actor.role == .admin || (actor.role == .coordinator && isCenter) else { throw .onlyAdmin }
        let parts = date.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (2000...2100).contains(year), (1...12).contains(month), (1...31).contains(day)
        else { throw .badTraining("the date must be a day written YYYY-MM-DD") }
        guard geography.municipality(host) != nil else { throw .unknownMunicipality(host.rawValue) }
        for municipality in municipalities where geography.municipality(municipality) == nil {
            throw .unknownMunicipality(municipality.rawValue)
        }
        guard participants >= 0, women >= 0, men >= 0, participantsBySector.values.allSatisfy({ $0 >= 0 }) else {
            throw .badTraining("counts cannot be negative")
        }
        guard women + men <= participants else { throw .badTraining("women and men add up to more than the participants") }
        guard participantsBySector.values.reduce(0, +) <= participants else {
            throw .badTraining("the participants by sector add up to more than the participants")
        }
    }
}
