import Crypto
import Foundation
import Logging
import PostgresNIO
import SponaDomain

/// Bearer tokens: `spona_` and 43 characters of base64url randomness. Only their SHA-256 is
/// stored, so a copy of the database gives nobody a working token. Issued and revoked by the
/// `spona tokens` command with the owner's login; the server only reads them. With an
/// ``AccessTokenCache`` the answers are kept in memory while the database tells the process of
/// every change, so a revocation still takes effect on the next request after its notification.
public struct AccessTokens: Sendable {
    let client: PostgresClient
    let logger: Logger
    let cache: AccessTokenCache?

    public init(client: PostgresClient, logger: Logger, cache: AccessTokenCache? = nil) {
        self.client = client
        self.logger = logger
        self.cache = cache
    }

    public struct Issued: Sendable {
        public var id: UUID
        /// Shown once; never stored.
        public var token: String
    }

    public struct Listed: Sendable {
        public var id: UUID
        public var institution: InstitutionID
        public var role: Role
        public var districts: [String]
        public var label: String
        public var createdAt: Date
        public var expiresAt: Date?
        public var revokedAt: Date?
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case missing, unknown, revoked, expired, institutionInactive
        public var description: String {
            switch self {
            case .institutionInactive: "the token's institution is no longer active"
            case .missing: "send Authorization: Bearer <token>"
            case .unknown: "the token is not valid"
            case .revoked: "the token was revoked"
            case .expired: "the token has expired"
            }
        }
    }

    public func issue(institution: InstitutionID, role: Role, districts: [String], label: String, expiresAt: Date?) async throws -> Issued {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        let token =
            "spona_"
            + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let id = UUID()
        try await client.query(
            """
            INSERT INTO access_tokens (id, token_hash, institution_id, role, districts, label, expires_at)
            VALUES (\(id), \(Self.hash(token)), \(institution.rawValue), \(role.rawValue), \(districts), \(label), \(expiresAt))
            """,
            logger: logger
        )
        return Issued(id: id, token: token)
    }

    /// True when a token was revoked now; false when there was none to revoke.
    public func revoke(_ id: UUID) async throws -> Bool {
        let rows = try await client.query(
            "UPDATE access_tokens SET revoked_at = now() WHERE id = \(id) AND revoked_at IS NULL RETURNING id",
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }

    public func list() async throws -> [Listed] {
        let rows = try await client.query(
            """
            SELECT id, institution_id, role, districts, label, created_at, expires_at, revoked_at
            FROM access_tokens ORDER BY created_at
            """,
            logger: logger
        )
        var result: [Listed] = []
        for try await (id, institution, role, districts, label, created, expires, revoked) in rows.decode(
            (UUID, UUID, String, [String], String, Date, Date?, Date?).self
        ) {
            result.append(
                Listed(
                    id: id,
                    institution: InstitutionID(rawValue: institution),
                    role: Role(rawValue: role) ?? .reporter,
                    districts: districts,
                    label: label,
                    createdAt: created,
                    expiresAt: expires,
                    revokedAt: revoked
                )
            )
        }
        return result
    }

    /// Who a token speaks for. ``authenticate(_:now:)`` throws ``Refusal`` for a token that
    /// does not admit, and the database's error when it cannot be asked (the API answers 503).
    public struct Authenticated: Sendable {
        public var actor: Actor
        public var districts: [DistrictCode]
        /// The token's institution is the Center (or another institution registered as one).
        public var isCenter: Bool
    }

    /// A token's row as read, with its institution's activity: what a cache may keep.
    struct Record: Sendable {
        var id: UUID
        var institution: UUID
        var role: Role
        var districts: [String]
        var expiresAt: Date?
        var revokedAt: Date?
        var institutionActive: Bool
    }

    /// Resolves a bearer token: from the cache when it holds the answer, else in one query
    /// (the token, and from the registry's read model whether its institution is active).
    public func authenticate(_ token: String, now: Date = Date()) async throws -> Authenticated {
        guard token.hasPrefix("spona_"), token.count < 200 else { throw Refusal.unknown }
        let hash = Self.hash(token)
        let cached = cache?.lookup(hash)
        if let record = cached?.record { return try Self.admit(record, now: now) }
        guard let record = try await read(hash) else { throw Refusal.unknown }
        if let generation = cached?.generation { cache?.keep(record, for: hash, readIn: generation) }
        return try Self.admit(record, now: now)
    }

    private func read(_ hash: Data) async throws -> Record? {
        let rows = try await client.query(
            """
            SELECT t.id, t.institution_id, t.role, t.districts, t.expires_at, t.revoked_at,
                   coalesce(i.active, true)
            FROM access_tokens t LEFT JOIN institutions i ON i.id = t.institution_id
            WHERE t.token_hash = \(hash)
            """,
            logger: logger
        )
        var found: Record?
        for try await (id, institution, roleText, districts, expires, revoked, active) in rows.decode(
            (UUID, UUID, String, [String], Date?, Date?, Bool).self
        ) {
            guard let role = Role(rawValue: roleText) else { continue }
            found = Record(
                id: id,
                institution: institution,
                role: role,
                districts: districts,
                expiresAt: expires,
                revokedAt: revoked,
                institutionActive: active
            )
        }
        return found
    }

    /// Whether a token's row admits its bearer now.
    static func admit(_ record: Record, now: Date) throws -> Authenticated {
        if record.revokedAt != nil { throw Refusal.revoked }
        if let expires = record.expiresAt, expires <= now { throw Refusal.expired }
        if !record.institutionActive { throw Refusal.institutionInactive }
        let institution = InstitutionID(rawValue: record.institution)
        return Authenticated(
            actor: Actor(id: "token-\(record.id.uuidString.lowercased())", institution: institution, role: record.role),
            districts: record.districts.map(DistrictCode.init(rawValue:)),
            isCenter: Institution.isCenter(institution)
        )
    }

    static func hash(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }
}
