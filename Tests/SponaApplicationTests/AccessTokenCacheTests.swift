import Foundation
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaTestSupport
import Testing

/// Token lookups kept in memory must never outlive what they were read from: a revoked token,
/// or one of an institution that was deactivated, is refused as soon as the server hears of it.
@Suite("Keeping token lookups in memory")
struct AccessTokenCacheTests {
    /// Runs `body` with a cache that is listening, and tokens that use it.
    static func withListeningCache(
        _ db: TestDatabase,
        maximumAge: Duration = .seconds(600),
        _ body: @Sendable (AccessTokens, AccessTokenCache) async throws -> Void
    ) async throws {
        let cache = AccessTokenCache(client: db.app, logger: db.logger, maximumAge: maximumAge)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await cache.run() }
            try await waitUntil("the cache listens") { cache.isListening }
            try await body(AccessTokens(client: db.app, logger: db.logger, cache: cache), cache)
            group.cancelAll()
        }
    }

    static func waitUntil(_ what: String, within limit: Duration = .seconds(3), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("\(what): not within \(limit)")
        throw CancellationError()
    }

    static func refusal(_ tokens: AccessTokens, _ token: String) async throws -> AccessTokens.Refusal? {
        do {
            _ = try await tokens.authenticate(token)
            return nil
        } catch let refusal as AccessTokens.Refusal {
            return refusal
        }
    }

    @Test("a token revoked while its lookup is kept is refused once the revocation is heard")
    func revocationIsHeard() async throws {
        try await TestDatabase.withFresh { db in
            let issuer = AccessTokens(client: db.owner, logger: db.logger)
            let institution = InstitutionID()
            let issued = try await issuer.issue(
                institution: institution,
                role: .reporter,
                districts: [],
                label: "leaving",
                expiresAt: Date().addingTimeInterval(86_400)
            )
            try await Self.withListeningCache(db) { tokens, _ in
                // Kept: the second answer needs no database, and both admit.
                #expect(try await tokens.authenticate(issued.token).actor.institution == institution)
                #expect(try await tokens.authenticate(issued.token).actor.role == .reporter)
                #expect(try await issuer.revoke(issued.id))
                // The cache keeps answers for ten minutes here: only the notification can end it.
                try await Self.waitUntil("the revoked token refused") {
                    try await Self.refusal(tokens, issued.token) == .revoked
                }
            }
        }
    }

    @Test("a token of an institution deactivated in the registry's read model is refused once heard")
    func deactivationIsHeard() async throws {
        try await TestDatabase.withFresh { db in
            let institution = UUID()
            try await db.owner.query(
                """
                INSERT INTO institutions (id, name_lat, name_cyr, sector, municipality, district, active, is_center, updated_at)
                VALUES (\(institution), 'OŠ test', 'ОШ тест', 'education', 'prokuplje', 'RS-21', true, false, now())
                """,
                logger: db.logger
            )
            let issued = try await AccessTokens(client: db.owner, logger: db.logger)
                .issue(
                    institution: InstitutionID(rawValue: institution),
                    role: .reporter,
                    districts: [],
                    label: "staff",
                    expiresAt: Date().addingTimeInterval(86_400)
                )
            try await Self.withListeningCache(db) { tokens, _ in
                _ = try await tokens.authenticate(issued.token)
                try await db.owner.query("UPDATE institutions SET active = false WHERE id = \(institution)", logger: db.logger)
                try await Self.waitUntil("the deactivated institution's token refused") {
                    try await Self.refusal(tokens, issued.token) == .institutionInactive
                }
            }
        }
    }

    @Test("an expiry is checked on every use, also of a kept lookup")
    func expiryOfKeptLookup() async throws {
        try await TestDatabase.withFresh { db in
            let issued = try await AccessTokens(client: db.owner, logger: db.logger)
                .issue(institution: InstitutionID(), role: .coordinator, districts: [], label: "short", expiresAt: Date().addingTimeInterval(60))
            try await Self.withListeningCache(db) { tokens, _ in
                _ = try await tokens.authenticate(issued.token)
                let refusal: AccessTokens.Refusal?
                do {
                    _ = try await tokens.authenticate(issued.token, now: Date().addingTimeInterval(120))
                    refusal = nil
                } catch let error as AccessTokens.Refusal {
                    refusal = error
                }
                #expect(refusal == .expired)
            }
        }
    }

    @Test("while nothing listens nothing is kept: a revocation takes effect on the next request")
    func withoutListeningNothingIsKept() async throws {
        try await TestDatabase.withFresh { db in
            let issuer = AccessTokens(client: db.owner, logger: db.logger)
            let issued = try await issuer.issue(
                institution: InstitutionID(),
                role: .reporter,
                districts: [],
                label: "x",
                expiresAt: Date().addingTimeInterval(86_400)
            )
            let cache = AccessTokenCache(client: db.app, logger: db.logger)
            let tokens = AccessTokens(client: db.app, logger: db.logger, cache: cache)
            #expect(!cache.isListening)
            _ = try await tokens.authenticate(issued.token)
            #expect(try await issuer.revoke(issued.id))
            #expect(try await Self.refusal(tokens, issued.token) == .revoked)
        }
    }
}
