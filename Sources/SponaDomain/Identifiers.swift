import Foundation

/// Typed identifiers: a referral id can never be passed where a case id is expected.
public protocol Identifier: RawRepresentable, Hashable, Comparable, Codable, Sendable, CustomStringConvertible
where RawValue == UUID {
    init(rawValue: UUID)
}

extension Identifier {
    public init() { self.init(rawValue: UUID()) }
    public init?(_ text: String) {
        guard let uuid = UUID(uuidString: text) else { return nil }
        self.init(rawValue: uuid)
    }
    public var description: String { rawValue.uuidString.lowercased() }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue.uuidString < rhs.rawValue.uuidString }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let uuid = UUID(uuidString: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a UUID"))
        }
        self.init(rawValue: uuid)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public struct CaseID: Identifier {
    public let rawValue: UUID
    public init(rawValue: UUID) { self.rawValue = rawValue }
}
public struct InstitutionID: Identifier {
    public let rawValue: UUID
    public init(rawValue: UUID) { self.rawValue = rawValue }
}
public struct ReferralID: Identifier {
    public let rawValue: UUID
    public init(rawValue: UUID) { self.rawValue = rawValue }
}
public struct ConferenceID: Identifier {
    public let rawValue: UUID
    public init(rawValue: UUID) { self.rawValue = rawValue }
}
public struct DecisionID: Identifier {
    public let rawValue: UUID
    public init(rawValue: UUID) { self.rawValue = rawValue }
}
/// A person's pseudonym in the case: the same person in two cases can be linked by the
/// Center without anyone else learning who they are.
public struct SubjectID: Identifier {
    public let rawValue: UUID
    public init(rawValue: UUID) { self.rawValue = rawValue }
}

/// What a user may do. One role per token.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Staff of any institution: report, refer, accept, record what they did.
    case reporter
    /// The Center: triage, identification, conferences, every case.
    case coordinator
    /// A regional team: aggregates of its districts, never a case.
    case analyst
    /// Reads history, read-only; every read recorded.
    case auditor
    /// Institutions, users, tokens; erasure.
    case admin
}

/// Who is acting: recorded in every event's metadata.
public struct Actor: Hashable, Codable, Sendable {
    /// Who: `person:<sub>` for someone signed in at the identity provider, `token-<id>` for
    /// a service account. Stable; what audits search by.
    public var id: String
    /// The person's name as the identity provider gives it, so that the trail names a person
    /// an auditor can ask; nil for service accounts. Never used to decide anything.
    public var name: String?
    public var institution: InstitutionID
    public var role: Role

    public init(id: String, name: String? = nil, institution: InstitutionID, role: Role) {
        self.id = id
        self.name = name
        self.institution = institution
        self.role = role
    }
}
