import Crypto
import Foundation
import Logging
import PostgresNIO
import SponaDomain
import SponaEventStore
import Synchronization

/// Bearer tokens: `spona_` and 43 characters of base64url randomness. Only their SHA-256 is
/// stored, so a copy of the database gives nobody a working token. Issued and revoked by the
/// `spona tokens` command with the owner's login; the server only reads them. With an
/// ``AccessTokenCache`` the answers are kept in memory while the database tells the process of
/// every change, so a revocation still takes effect on the next request after its notification.
public struct AccessTokens: Sendable {
    let client: PostgresClient
    let logger: Logger
    let cache: AccessTokenCache?
    let uses = UseLog()

    public init(client: PostgresClient, logger: Logger, cache: AccessTokenCache? = nil) {
        self.client = client
        self.logger = logger
        self.cache = cache
    }

    /// When this process last wrote down each token's use: at most every
    /// ``useRecordInterval``, so that use costs no write per request. Bounded like the cache.
    final class UseLog: Sendable {
        private let written = Mutex([UUID: ContinuousClock.Instant]())

        func due(_ id: UUID, now: ContinuousClock.Instant = .now) -> Bool {
            written.withLock { written in
                if let last = written[id], now - last < AccessTokens.useRecordInterval { return false }
                if written.count >= 10_000 { written.removeAll(keepingCapacity: true) }
                written[id] = now
                return true
            }
        }
    }

    /// Writes down that token `id` signed a request in, in the background: bookkeeping for
    /// `spona tokens list`, never a reason to fail or slow the request.
    private func noteUse(_ id: UUID) {
        guard uses.due(id) else { return }
        let client = self.client
        let logger = self.logger
        Task {
            do {
                try await client.query(
                    """
                    INSERT INTO access_token_use (token_id, last_used_at) VALUES (\(id), now())
                    ON CONFLICT (token_id) DO UPDATE SET last_used_at = excluded.last_used_at
                    """,
                    logger: logger
                )
            } catch {
                logger.debug("a token's last use was not written down", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
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
        /// The last request it signed in (recorded at most every ``useRecordInterval``).
        public var lastUsedAt: Date?
    }

    /// The longest a service account's token may live.
    public static let longestLife: TimeInterval = 90 * 86_400

    /// How often a token's use is written down, at most, per token and process.
    public static let useRecordInterval: Duration = .seconds(300)

    public enum IssueRefusal: Error, Equatable, CustomStringConvertible {
        case lifeTooLong, alreadyExpired
        public var description: String {
            switch self {
            case .lifeTooLong: "a service account's token expires within 90 days of its issue"
            case .alreadyExpired: "the token would expire before it is issued"
            }
        }
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case missing, unknown, revoked, expired, institutionInactive, institutionUnknown
        public var description: String {
            switch self {
            case .institutionUnknown: "the sign-in names an institution that is not registered in Spona"
            case .institutionInactive: "the token's institution is no longer active"
            case .missing: "send Authorization: Bearer <token>"
            case .unknown: "the token is not valid"
            case .revoked: "the token was revoked"
            case .expired: "the token has expired"
            }
        }
    }

    /// Issues a service account's token. Every token expires, within ``longestLife`` (the
    /// database holds the same rule, so no other path can issue one that never does).
    public func issue(
        institution: InstitutionID,
        role: Role,
        districts: [String],
        label: String,
        expiresAt: Date,
        now: Date = Date()
    ) async throws -> Issued {
        guard expiresAt > now else { throw IssueRefusal.alreadyExpired }
        guard expiresAt.timeIntervalSince(now) <= Self.longestLife else { throw IssueRefusal.lifeTooLong }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) }
        let token =
            "spona_"
            + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let id = UUID()
        try await client.query(
            """
            INSERT INTO access_tokens (id, token_hash, institution_id, role, districts, label, created_at, expires_at)
            VALUES (\(id), \(Self.hash(token)), \(institution.rawValue), \(role.rawValue), \(districts), \(label), \(now), \(expiresAt))
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
            SELECT t.id, t.institution_id, t.role, t.districts, t.label, t.created_at, t.expires_at, t.revoked_at, u.last_used_at
            FROM access_tokens t LEFT JOIN access_token_use u ON u.token_id = t.id ORDER BY t.created_at
            """,
            logger: logger
        )
        var result: [Listed] = []
        for try await (id, institution, role, districts, label, created, expires, revoked, used) in rows.decode(
            (UUID, UUID, String, [String], String, Date, Date?, Date?, Date?).self
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
                    revokedAt: revoked,
                    lastUsedAt: used
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
    /// The token's answer when it is kept in memory (nil: it must be read): no database, so no
    /// deadline to keep either.
    public func authenticateFromMemory(_ token: String, now: Date = Date()) throws -> Authenticated? {
        guard token.hasPrefix("spona_"), token.count < 200, let record = cache?.lookup(Self.hash(token)).record else { return nil }
        let admitted = try Self.admit(record, now: now)
        noteUse(record.id)
        return admitted
    }

    public func authenticate(_ token: String, now: Date = Date()) async throws -> Authenticated {
        guard token.hasPrefix("spona_"), token.count < 200 else { throw Refusal.unknown }
        let hash = Self.hash(token)
        let cached = cache?.lookup(hash)
        let record: Record
        if let kept = cached?.record {
            record = kept
        } else {
            guard let read = try await read(hash) else { throw Refusal.unknown }
            if let generation = cached?.generation { cache?.keep(read, for: hash, readIn: generation) }
            record = read
        }
        let admitted = try Self.admit(record, now: now)
        noteUse(record.id)
        return admitted
    }

    /// Admits a person the identity provider signed in, if their institution is registered
    /// and active in the registry's read model (kept in the cache like a token's answer, so a
    /// deactivation takes effect with its notification).
    public func admitPerson(
        id: String,
        name: String?,
        institution: InstitutionID,
        role: Role,
        districts: [DistrictCode],
        now: Date = Date()
    ) async throws -> Authenticated {
        let key = Self.hash("institution|\(institution.rawValue.uuidString.lowercased())")
        let cached = cache?.lookup(key)
        var active = cached?.record?.institutionActive
        if active == nil {
            let rows = try await client.query("SELECT active FROM institutions WHERE id = \(institution.rawValue)", logger: logger)
            for try await found in rows.decode(Bool.self) { active = found }
            if active == nil {
                // Registered moments ago, before the read model caught up: the registry's own
                // history says. (Only for ids the read model lacks; made-up ones end here.)
                let directory = InstitutionDirectory(store: PostgresEventStore(client: client, logger: logger))
                active = try await directory.institution(institution)?.0.isActive
            }
            guard let active else { throw Refusal.institutionUnknown }
            let record = Record(
                id: institution.rawValue,
                institution: institution.rawValue,
                role: role,
                districts: [],
                expiresAt: nil,
                revokedAt: nil,
                institutionActive: active
            )
            if let generation = cached?.generation { cache?.keep(record, for: key, readIn: generation) }
        }
        guard active == true else { throw Refusal.institutionInactive }
        return Authenticated(
            actor: Actor(id: id, name: name, institution: institution, role: role),
            districts: districts,
            isCenter: Institution.isCenter(institution)
        )
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
