import Foundation

/// The facts of an institution's stream (`institution-<id>`): registered, updated,
/// deactivated, reactivated. Institutions are never deleted: old cases still name them.
public enum InstitutionEvent: Hashable, Sendable {
    case registered(Details)
    case updated(Details)
    case deactivated(reason: String)
    case reactivated

    public struct Details: Hashable, Codable, Sendable {
        public var id: InstitutionID
        public var nameLatin: String
        public var nameCyrillic: String?
        public var sector: Sector
        public var municipality: MunicipalityCode?
        public var isCenter: Bool

        public init(
            id: InstitutionID,
            nameLatin: String,
            nameCyrillic: String? = nil,
            sector: Sector,
            municipality: MunicipalityCode?,
            isCenter: Bool = false
        ) {
            self.id = id
            self.nameLatin = nameLatin
            self.nameCyrillic = nameCyrillic
            self.sector = sector
            self.municipality = municipality
            self.isCenter = isCenter
        }
    }

    struct Reason: Codable { var reason: String }
    struct Empty: Codable {}

    public var typeName: String {
        switch self {
        case .registered: "InstitutionRegistered"
        case .updated: "InstitutionUpdated"
        case .deactivated: "InstitutionDeactivated"
        case .reactivated: "InstitutionReactivated"
        }
    }

    public func encodePayload(with encoder: JSONEncoder) throws -> Data {
        switch self {
        case .registered(let details), .updated(let details): try encoder.encode(details)
        case .deactivated(let reason): try encoder.encode(Reason(reason: reason))
        case .reactivated: try encoder.encode(Empty())
        }
    }

    /// Decodes a stored event of any past version of its type (upcast to the current shape first).
    public init(typeName: String, schemaVersion: Int32, payload stored: Data, decoder: JSONDecoder) throws {
        let payload = try Self.schemas.upcast(type: typeName, version: schemaVersion, payload: stored)
        switch typeName {
        case "InstitutionRegistered": self = .registered(try decoder.decode(Details.self, from: payload))
        case "InstitutionUpdated": self = .updated(try decoder.decode(Details.self, from: payload))
        case "InstitutionDeactivated": self = .deactivated(reason: try decoder.decode(Reason.self, from: payload).reason)
        case "InstitutionReactivated": self = .reactivated
        default: throw CaseEvent.DecodingProblem.unknownType(typeName)
        }
    }

    /// The version each type is written in, and the way from each older one (see ``CaseEvent/schemas``).
    public static let schemas = EventSchemas(
        family: "institution",
        [
            "InstitutionRegistered": .init(current: 1),
            "InstitutionUpdated": .init(current: 1),
            "InstitutionDeactivated": .init(current: 1),
            "InstitutionReactivated": .init(current: 1),
        ]
    )

    /// The version this event is written in.
    public var schemaVersion: Int32 { Self.schemas.current(typeName) }

    /// The institution after `event`.
    public static func evolve(_ state: Institution?, _ event: InstitutionEvent) -> Institution? {
        switch event {
        case .registered(let details), .updated(let details):
            var institution = Institution(registered: details)
            institution.isActive = state?.isActive ?? true
            return institution
        case .deactivated:
            guard var state else { return nil }
            state.isActive = false
            return state
        case .reactivated:
            guard var state else { return nil }
            state.isActive = true
            return state
        }
    }
}

/// Why a change to the registry was refused.
public enum RegistryError: Error, Hashable, Sendable, CustomStringConvertible {
    case onlyAdmin
    case alreadyRegistered(InstitutionID)
    case notRegistered(InstitutionID)
    case alreadyInState(active: Bool)
    case unknownMunicipality(String)
    case missingText(field: String)
    case badTraining(String)
    case tooLong(field: String, limit: Int)
    /// The Center's powers (reading every case and its personal data, identifying victims)
    /// belong to the one institution with the Center's id; no registry edit gives or takes them.
    case centerIsNotARegistryEdit(InstitutionID)

    public var isForbidden: Bool { self == .onlyAdmin }
    public var isConflict: Bool {
        switch self {
        case .alreadyRegistered, .alreadyInState: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .onlyAdmin: "only an administrator may change the registry"
        case .alreadyRegistered(let id): "institution \(id) is already registered"
        case .notRegistered(let id): "there is no institution \(id)"
        case .alreadyInState(let active): "the institution is already \(active ? "active" : "inactive")"
        case .unknownMunicipality(let code): "'\(code)' is not a municipality code; see GET /v1/municipalities"
        case .missingText(let field): "\(field) must not be empty"
        case let .tooLong(field, limit): "\(field) is longer than \(limit) characters"
        case .centerIsNotARegistryEdit(let id):
            id == .center
                ? "the Center stays the Center: leave out isCenter, or send true"
                : "isCenter is not a registry edit: the Center is the institution \(InstitutionID.center), and only it"
        case .badTraining(let reason): reason
        }
    }
}

public enum InstitutionCommand: Hashable, Sendable, Encodable {
    case register(InstitutionEvent.Details)
    case update(InstitutionEvent.Details)
    case deactivate(reason: String)
    case reactivate
}

/// The registry's rules: administrators register and change institutions; a municipality
/// must be one the project knows (or none, for a national body).
public enum InstitutionDecider {
    public static func decide(
        _ command: InstitutionCommand,
        on state: Institution?,
        actor: Actor,
        geography: Geography
    ) throws(RegistryError) -> [InstitutionEvent] {
        guard actor.role == .admin else { throw .onlyAdmin }
        switch command {
        case .register(let details):
            guard state == nil else { throw .alreadyRegistered(details.id) }
            try validate(details, geography)
            return [.registered(details)]
        case .update(let details):
            guard state != nil else { throw .notRegistered(details.id) }
            try validate(details, geography)
            return [.updated(details)]
        case .deactivate(let reason):
            guard let state else { throw .notRegistered(InstitutionID(rawValue: UUID(uuid: UUID_NULL))) }
            guard state.isActive else { throw .alreadyInState(active: false) }
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw .missingText(field: "the reason") }
            guard reason.count <= CaseLimits.maxTextCharacters else { throw .tooLong(field: "the reason", limit: CaseLimits.maxTextCharacters) }
            return [.deactivated(reason: reason)]
        case .reactivate:
            guard let state else { throw .notRegistered(InstitutionID(rawValue: UUID(uuid: UUID_NULL))) }
            guard !state.isActive else { throw .alreadyInState(active: true) }
            return [.reactivated]
        }
    }

    /// The longest institution names in the registry are about 150 characters.
    public static let maxNameCharacters = 300

    private static func validate(_ details: InstitutionEvent.Details, _ geography: Geography) throws(RegistryError) {
        guard details.isCenter == Institution.isCenter(details.id) else { throw .centerIsNotARegistryEdit(details.id) }
        guard !details.nameLatin.trimmingCharacters(in: .whitespaces).isEmpty else { throw .missingText(field: "the name") }
        for (name, field) in [(details.nameLatin, "the Latin name"), (details.nameCyrillic ?? "", "the Cyrillic name")]
        where name.count > maxNameCharacters {
            throw .tooLong(field: field, limit: maxNameCharacters)
        }
        if let municipality = details.municipality, geography.municipality(municipality) == nil {
            throw .unknownMunicipality(municipality.rawValue)
        }
    }
}

private let UUID_NULL: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

extension InstitutionID {
    /// The Center for Protection of Victims of Trafficking: it exists from the start, with
    /// this well-known id, so a fresh installation can issue its first tokens.
    public static let center = InstitutionID(rawValue: UUID(uuidString: "00000000-0000-4000-8000-00000000c2e0")!)
}

extension Institution {
    /// The institution as its registration describes it: active.
    public init(registered details: InstitutionEvent.Details) {
        self.init(
            id: details.id,
            nameLatin: details.nameLatin,
            nameCyrillic: details.nameCyrillic,
            sector: details.sector,
            municipality: details.municipality,
            isActive: true,
            isCenter: Institution.isCenter(details.id)
        )
    }

    /// Whether `id` is the Center: by its id alone. What a stored registration says is not
    /// asked, so no event, however it got into the history, makes another institution the Center.
    public static func isCenter(_ id: InstitutionID) -> Bool { id == .center }
}
