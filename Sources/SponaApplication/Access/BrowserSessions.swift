import Crypto
import Foundation
import Logging
import PostgresNIO
import SponaDomain

/// The dashboard's sign-ins and sessions (`browser_sessions`, `Schema/0017`): what a browser
/// holds is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so a
/// copy of the table opens nothing. Every server process shares the rows, so a browser may be
/// answered by any replica.
public struct BrowserSessions: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// How long a session lives without use, and at most.
    public var idle: Duration
    public var lifetime: Duration

    /// A sign-in started at the identity provider and not yet back: the PKCE verifier that
    /// only this server knows, and where the browser was going.
    public struct PendingSignIn: Codable, Sendable, Equatable {
        public var verifier: String
        public var returnTo: String
        public init(verifier: String, returnTo: String) {
            self.verifier = verifier
            self.returnTo = returnTo
        }
    }

    /// A person signed in: who they are as the identity provider said at sign-in, and the
    /// token their forms must carry (CSRF).
    public struct Session: Codable, Sendable, Equatable {
        public var personID: String
        public var name: String?
        public var institution: InstitutionID
        public var role: Role
        public var districts: [DistrictCode]
        public var formToken: String
        /// Seconds since 1970 when it was last made to live on (idle time counts from it).
        public var renewedAt: Double
        /// Seconds since 1970 when the identity provider last vouched for the person (the
        /// sign-in): past the dashboard's re-check interval the browser goes back through the
        /// provider, which answers at once while its own session lives and refuses a person
        /// disabled there.
        public var verifiedAt: Double

        public init(personID: String, name: String?, institution: InstitutionID, role: Role, districts: [DistrictCode], formToken: String) {
            self.personID = personID
            self.name = name
            self.institution = institution
            self.role = role
            self.districts = districts
            self.formToken = formToken
            self.renewedAt = Date().timeIntervalSince1970
            self.verifiedAt = renewedAt
        }
    }

    public init(client: PostgresClient, logger: Logger, idle: Duration = .seconds(30 * 60), lifetime: Duration = .seconds(8 * 3600)) {
        self.client = client
        self.logger = logger
        self.idle = idle
        self.lifetime = lifetime
    }

    /// A fresh random token: 32 bytes, base64url (43 characters).
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64URLEncoded
    }

    static func hash(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    /// Keeps a sign-in under way for ten minutes under its `state`.
    public func begin(state: String, _ pending: PendingSignIn) async throws {
        let data = String(decoding: try JSONEncoder().encode(pending), as: UTF8.self)
        // Expired rows go as new ones come: the table holds only what can still be used.
        try await client.query("DELETE FROM browser_sessions WHERE expires_at < now()", logger: logger)
        try await client.query(
            """
            INSERT INTO browser_sessions (token_hash, kind, data, expires_at)
            VALUES (\(Self.hash(state)), 'pending', \(data)::jsonb, now() + interval '10 minutes')
            """,
            logger: logger
        )
    }

    /// The sign-in under way for `state`, taken (a `state` is good once), if it has not expired.
    public func finish(state: String) async throws -> PendingSignIn? {
        let rows = try await client.query(
            """
            DELETE FROM browser_sessions WHERE token_hash = \(Self.hash(state)) AND kind = 'pending'
            RETURNING data::text, expires_at > now()
            """,
            logger: logger
        )
        for try await (data, live) in rows.decode((String, Bool).self) where live {
            return try JSONDecoder().decode(PendingSignIn.self, from: Data(data.utf8))
        }
        return nil
    }

    /// Opens a session; returns the token for the browser's cookie.
    public func open(_ session: Session) async throws -> String {
        let token = Self.randomToken()
        let data = String(decoding: try JSONEncoder().encode(session), as: UTF8.self)
        let seconds = Int(idle.components.seconds)
        try await client.query(
            """
            INSERT INTO browser_sessions (token_hash, kind, data, expires_at)
            VALUES (\(Self.hash(token)), 'signed_in', \(data)::jsonb, now() + make_interval(secs => \(seconds)))
            """,
            logger: logger
        )
        return token
    }

    /// The session of a cookie's token, if it is open; its idle time starts again (written at
    /// most once a minute, so that reading pages costs no write each).
    public func session(_ token: String, now: Date = Date()) async throws -> Session? {
        guard token.utf8.count == 43 else { return nil }
        let hash = Self.hash(token)
        var found: Session?
        let rows = try await client.query(
            """
            SELECT data::text FROM browser_sessions
            WHERE token_hash = \(hash) AND kind = 'signed_in' AND expires_at > now()
            """,
            logger: logger
        )
        for try await data in rows.decode(String.self) {
            found = try JSONDecoder().decode(Session.self, from: Data(data.utf8))
        }
        guard var session = found else { return nil }
        if now.timeIntervalSince1970 - session.renewedAt > 60 {
            session.renewedAt = now.timeIntervalSince1970
            let data = String(decoding: try JSONEncoder().encode(session), as: UTF8.self)
            let (idle, lifetime) = (Int(idle.components.seconds), Int(lifetime.components.seconds))
            try await client.query(
                """
                UPDATE browser_sessions
                SET data = \(data)::jsonb,
                    expires_at = least(now() + make_interval(secs => \(idle)), created_at + make_interval(secs => \(lifetime)))
                WHERE token_hash = \(hash) AND kind = 'signed_in'
                """,
                logger: logger
            )
        }
        return session
    }

    /// Ends a session (sign-out): its token opens nothing from now on.
    public func close(_ token: String) async throws {
        try await client.query("DELETE FROM browser_sessions WHERE token_hash = \(Self.hash(token))", logger: logger)
    }
}

extension Data {
    /// Base64url without padding (RFC 4648 §5), as PKCE and cookies want it.
    public var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
