import Crypto
import Foundation
import Logging
import PostgresNIO
import SponaDomain

/// Bearer tokens: `spona_` and 43 characters of base64url randomness. Only their SHA-256 is
/// stored, so a copy of the database gives nobody a working token. Issued and revoked by the
/// `spona tokens` command with the owner's login; the server only reads them, on every
/// request, so a revocation takes effect on the next one.
public struct AccessTokens: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
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

    /// The actor a presented token stands for, checked against the table on every call.
    /// Throws ``Refusal`` for a token that does not admit, and the database's error when it
    /// cannot be asked (which the API answers with 503, not 401).
    /// Who a token speaks for, resolved on every request.
    public struct Authenticated: Sendable {
        public var actor: Actor
        public var districts: [DistrictCode]
        /// The token's institution is the Center (or another institution registered as one).
        public var isCenter: Bool
    }

    /// Resolves a bearer token in one query: the token, and from the registry's read model
    /// whether its institution is the Center and still active.
    public func authenticate(_ token: String, now: Date = Date()) async throws -> Authenticated {
        guard token.hasPrefix("spona_"), token.count < 200 else { throw Refusal.unknown }
        let rows = try await client.query(
            """
            SELECT t.id, t.institution_id, t.role, t.districts, t.expires_at, t.revoked_at,
                   coalesce(i.active, true)
            FROM access_tokens t LEFT JOIN institutions i ON i.id = t.institution_id
            WHERE t.token_hash = \(Self.hash(token))
            """,
            logger: logger
        )
        var found: (UUID, UUID, String, [String], Date?, Date?, Bool)?
        for try await row in rows.decode((UUID, UUID, String, [String], Date?, Date?, Bool).self) { found = row }
        guard let (id, institutionID, roleText, districts, expires, revoked, active) = found,
            let role = Role(rawValue: roleText)
        else { throw Refusal.unknown }
        if revoked != nil { throw Refusal.revoked }
        if let expires, expires <= now { throw Refusal.expired }
        if !active { throw Refusal.institutionInactive }
        let institution = InstitutionID(rawValue: institutionID)
        return Authenticated(
            actor: Actor(id: "token-\(id.uuidString.lowercased())", institution: institution, role: role),
            districts: districts.map(DistrictCode.init(rawValue:)),
            isCenter: Institution.isCenter(institution)
        )
    }

    static func hash(_ token: String) -> Data {
        Data(SHA256.hash(data: Data(token.utf8)))
    }
}
