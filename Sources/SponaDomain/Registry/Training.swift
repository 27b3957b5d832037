import Foundation

public struct TrainingID: Identifier {
    public let rawValue: UUID
    public init(rawValue: UUID) { self.rawValue = rawValue }
}

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

    public init(
        id: TrainingID = TrainingID(),
        date: String,
        host: MunicipalityCode,
        participantsBySector: [Sector: Int] = [:],
        participants: Int,
        women: Int,
        men: Int,
        municipalities: [MunicipalityCode] = [],
        institutions: [InstitutionID] = []
    ) {
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
    /// The version a training is written in, and the way from each older one (see ``CaseEvent/schemas``).
    public static let schemas = EventSchemas(family: "training", [typeName: .init(current: 1)])
    public static var schemaVersion: Int32 { schemas.current(typeName) }

    /// Decodes a stored training of any past version (upcast to the current shape first).
    public static func decode(schemaVersion: Int32, payload stored: Data, decoder: JSONDecoder) throws -> TrainingHeld {
        try decoder.decode(TrainingHeld.self, from: try schemas.upcast(type: typeName, version: schemaVersion, payload: stored))
    }

    /// The realistic bounds of a training's figures. Regional trainings gather tens of people;
    /// the bounds leave room for a national conference and keep every sum a reader makes of
    /// many trainings far from overflowing.
    public static let maxParticipants = 10_000
    /// Serbia has fewer than 200 cities, municipalities and city municipalities.
    public static let maxMunicipalities = 200
    public static let maxInstitutions = 2_000

    /// The rules for recording one: an administrator or the Center, a known host and
    /// municipalities, and figures a reader can fold (``validateFigures()``).
    public func validate(actor: Actor, isCenter: Bool, geography: Geography) throws(RegistryError) {
        guard actor.role == .admin || (actor.role == .coordinator && isCenter) else { throw .onlyAdmin }
        try validateFigures()
        guard geography.municipality(host) != nil else { throw .unknownMunicipality(host.rawValue) }
        for municipality in municipalities where geography.municipality(municipality) == nil {
            throw .unknownMunicipality(municipality.rawValue)
        }
    }

    /// What holds for every training, whoever recorded it and whenever: a real calendar day,
    /// counts within their bounds that add up. Readers of the history check it too, so a
    /// training stored before these rules existed is named, never folded into nonsense.
    public func validateFigures() throws(RegistryError) {
        guard Self.calendarDay(date) != nil else { throw .badTraining("the date must be a real day from 2000 to 2100, written YYYY-MM-DD") }
        let bounds = 0...Self.maxParticipants
        guard bounds.contains(participants), bounds.contains(women), bounds.contains(men),
            participantsBySector.values.allSatisfy(bounds.contains)
        else { throw .badTraining("counts must be whole numbers from 0 to \(Self.maxParticipants)") }
        // Each term is bounded above, so these sums cannot overflow.
        guard women + men <= participants else { throw .badTraining("women and men add up to more than the participants") }
        guard participantsBySector.values.reduce(0, +) <= participants else {
            throw .badTraining("the participants by sector add up to more than the participants")
        }
        guard municipalities.count <= Self.maxMunicipalities else {
            throw .badTraining("a training covers at most \(Self.maxMunicipalities) municipalities")
        }
        guard institutions.count <= Self.maxInstitutions else {
            throw .badTraining("a training names at most \(Self.maxInstitutions) institutions")
        }
    }

    /// `YYYY-MM-DD` as year, month and day when it names a day that exists (no 30 February),
    /// from 2000 to 2100.
    public static func calendarDay(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (2000...2100).contains(year), (1...12).contains(month), day >= 1
        else { return nil }
        let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard day <= days else { return nil }
        return (year, month, day)
    }
}
