import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import SchemaMigrations
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaTestSupport
import Testing

@testable import SponaHTTP

@Suite("Operations routes")
struct HealthTests {
    @Test("healthz answers while the process lives; readyz while the database answers")
    func healthAndReadiness() async throws {
        try await APIHarness.run { api in
            #expect(try await api.send(.get, "/healthz", token: nil).status == .ok)
            // The first connection on a loaded machine may take longer than readyz waits.
            try await api.eventually("readyz ready") {
                let ready = try await api.send(.get, "/readyz", token: nil)
                return ready.status == .ok && ready.text.contains("ready")
            }
            // The lag is detail that a loaded machine may leave out for a moment; it comes back.
            try await api.eventually("readyz naming every projection's lag") {
                let ready = try await api.send(.get, "/readyz", token: nil)
                let projections = ready["projections"] as? [String: [String: Any]] ?? [:]
                return Set(projections.keys) == ["institutions", "case_work", "case_statistics"]
            }

            // Lag shows, and goes back to zero once the runners have caught up.
            let n = try await Network.make(api)
            _ = try await n.fileReport()
            try await api.eventually("every projection at the head") {
                let ready = try await api.send(.get, "/readyz", token: nil)
                let lags = ready["projections"] as? [String: [String: Any]] ?? [:]
                return lags.count == 3 && lags.values.allSatisfy { $0["eventsBehind"] as? Int == 0 }
            }
            // The same lag for Prometheus, and the requests by route template, never by id.
            _ = try await api.send(.get, "/v1/cases/\(UUID())", token: n.schoolStaff)
            let metrics = try await api.send(.get, "/metrics", token: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let lagLine = metrics.text.split(separator: "\n").first { $0.hasPrefix(#"spona_projection_events_behind{projection="case_work"}"#) }
            #expect(lagLine.map { Double($0.split(separator: " ").last ?? "") == 0 } == true, "\(lagLine ?? "no lag line")")
            #expect(metrics.text.contains("spona_http_requests_total{"), "\(metrics.text.prefix(500))")
            #expect(metrics.text.contains("spona_http_request_duration_seconds_bucket{"))
            #expect(metrics.text.contains("spona_database_up 1") && metrics.text.contains("process_open_fds "))
            #expect(metrics.text.contains("/v1/cases/{case}"))
            #expect(!metrics.text.lowercased().contains(api.db.name.lowercased()))

            let status = try await runProcess(sponaExecutable, ["projections", "status"], environment: ["DATABASE_URL": api.db.appURL])
            #expect(status.status == 0, "\(status.errorOutput)")
            #expect(status.output.contains("case_statistics"))
            #expect(
                status.output.split(separator: "\n").dropFirst().allSatisfy { $0.split(separator: " ", omittingEmptySubsequences: true)[2] == "0" }
            )
        }
    }

    @Test("readyz answers 503 while the database's schema is behind this server's, naming the command that fixes it")
    func schemaBehind() async throws {
        try await APIHarness.run { api in
            try await api.eventually("readyz ready") { try await api.send(.get, "/readyz", token: nil).status == .ok }
            let newest = SchemaMigrator.requiredLevel
            try await api.db.owner.query("DELETE FROM schema_migrations WHERE version = \(newest)", logger: api.db.logger)
            let behind = try await api.send(.get, "/readyz", token: nil)
            #expect(behind.status == .serviceUnavailable)
            #expect(behind["type"] as? String == "urn:spona:problem:schema-behind")
            #expect((behind["detail"] as? String)?.contains("spona migrate") == true, "\(behind.text)")
            #expect(try await api.send(.get, "/healthz", token: nil).status == .ok)
        }
    }

    @Test("readyz answers 503 problem+json with Retry-After when the database is unreachable")
    func notReadyWithoutDatabase() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // Nothing listens on port 1.
        let configuration = PostgresClient.Configuration(host: "127.0.0.1", port: 1, username: "nobody", password: nil, database: nil, tls: .disable)
        try await withPostgresClient(configuration, logger: logger) { unreachable in
            let dependencies = Dependencies(
                database: unreachable,
                store: PostgresEventStore(client: unreachable, logger: logger),
                geography: shippedGeography,
                logger: logger,
                databaseDeadline: .seconds(1)
            )
            let app = Application(router: buildRouter(dependencies))
            try await app.test(.router) { client in
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.retryAfter] == "5")
                    let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    #expect(body?["status"] as? Int == 503)
                    #expect(body?["title"] as? String == "Database unavailable")
                }
                // A request that needs the database fails the same way, never with a 500.
                try await client.execute(uri: "/v1/inbox", method: .get, headers: [.authorization: "Bearer spona_x"]) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "5")
                }
                try await client.execute(uri: "/no-such-route", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
            }
        }
    }

    @Test("a transaction left open in another database of the cluster is named in readyz and the metrics while it holds the read horizon back")
    func heldHorizonIsNamed() async throws {
        try await APIHarness.run { api in
            let adminURL = try #require(ProcessInfo.processInfo.environment["SPONA_ADMIN_DATABASE_URL"])
            var configuration = try DatabaseURL(TestDatabase.url(adminURL, database: "postgres")).configuration
            configuration.options.maximumConnections = 1
            let application = "forgotten-psql-\(UUID().uuidString.prefix(6))"
            try await withPostgresClient(configuration, logger: api.db.logger) { other in
                try await other.withConnection { connection in
                    _ = try await connection.query(PostgresQuery(unsafeSQL: "SET application_name = '\(application)'"), logger: api.db.logger)
                    _ = try await connection.query("BEGIN", logger: api.db.logger)
                    _ = try await connection.query("SELECT pg_current_xact_id()", logger: api.db.logger)
                    // Views cannot show what is filed behind it.
                    let n = try await Network.make(api)
                    _ = try await n.fileReport()
                    try await api.eventually("readyz to name the open transaction") {
                        let ready = try await api.send(.get, "/readyz", token: nil)
                        let holder = ready["horizonHeldBy"] as? [String: Any]
                        return holder?["application"] as? String == application && holder?["database"] as? String == "postgres"
                            && holder?["state"] as? String == "idle in transaction" && holder?["pid"] as? Int != nil
                    }
                    let metrics = try await api.send(.get, "/metrics", token: nil).text
                    let held = metrics.split(separator: "\n").first { $0.hasPrefix("spona_read_horizon_held_seconds ") }
                    #expect((held?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 0.5, "\(held ?? "no gauge")")
                    _ = try await connection.query("ROLLBACK", logger: api.db.logger)
                }
            }
            try await api.eventually("readyz to name nobody once it ended") {
                let ready = try await api.send(.get, "/readyz", token: nil)
                return ready.status == .ok && (ready["horizonHeldBy"] as? [String: Any])?["application"] as? String != application
            }
        }
    }

    @Test(
        "right after start a server is not ready until every read model has reached the history it found, even behind a transaction left open elsewhere; when it says ready, the registry lists every institution"
    )
    func readyMeansCaughtUp() async throws {
        try await TestDatabase.withFresh(pollInterval: .milliseconds(50)) { db in
            // A history written before this server starts: the shipped registry and a demo.
            let (institutions, trainings) = try await DemoTests.loadReference(db.store)
            let history = try DemoHistory(
                geography: shippedGeography,
                institutions: institutions,
                trainings: trainings,
                from: Date().addingTimeInterval(-400 * 86_400),
                until: Date().addingTimeInterval(-86_400),
                seed: 16
            )
            _ = try await DemoWriter(
                service: CaseService(store: db.store, geography: shippedGeography, vault: try PersonalDataVault.temporary()),
                history: history,
                seed: 16
            ).write(cases: 40)
            // A transaction left open in another database of the cluster, and one more
            // institution registered after it began.
            try await Self.withLateRegistration(db) { connection, late in
                try await APIHarness.run(on: db) { api in
                    // While it stays open, the server cannot see the late registration, so it
                    // is not ready — and says what it waits for.
                    for _ in 0..<6 {
                        let ready = try await api.send(.get, "/readyz", token: nil)
                        #expect(ready.status == .serviceUnavailable, "\(ready.text)")
                        #expect(ready["type"] as? String == "urn:spona:problem:catching-up", "\(ready.text)")
                        try await Task.sleep(for: .milliseconds(250))
                    }
                    let waiting = try await api.send(.get, "/readyz", token: nil)
                    // It names the oldest transaction open in the cluster (this one, or one
                    // of another test running beside it).
                    #expect((waiting["detail"] as? String)?.contains("transaction still open in the cluster (pid ") == true, "\(waiting.text)")
                    _ = try await connection.query("ROLLBACK", logger: db.logger)
                    var ready = false
                    let deadline = ContinuousClock.now + .seconds(30)
                    while ContinuousClock.now < deadline {
                        let answer = try await api.send(.get, "/readyz", token: nil)
                        if answer.status == .serviceUnavailable {
                            #expect(answer["type"] as? String == "urn:spona:problem:catching-up", "\(answer.text)")
                            try await Task.sleep(for: .milliseconds(50))
                            continue
                        }
                        #expect(answer.status == .ok)
                        let lags = answer["projections"] as? [String: [String: Any]] ?? [:]
                        // Ready means caught up with what was there at start.
                        let listed = try await api.send(.get, "/v1/institutions?limit=1000", token: try await api.token(.center, .admin)).array
                        #expect(listed.count >= min(1000, institutions.count + 1), "ready, yet the registry lists \(listed.count): \(lags)")
                        #expect(
                            listed.contains { ($0["id"] as? String)?.lowercased() == late.rawValue.uuidString.lowercased() },
                            "ready without the late registration: \(lags)"
                        )
                        ready = true
                        break
                    }
                    #expect(ready, "never ready")
                }
            }
        }
    }

    @Test(
        "a transaction held open longer than the warning does not keep a starting server out of service: it serves what its views can show, degraded, naming it, and is ready once it ends"
    )
    func heldLongerThanTheWarning() async throws {
        try await TestDatabase.withFresh(pollInterval: .milliseconds(50)) { db in
            let (institutions, _) = try await DemoTests.loadReference(db.store)
            let school = try #require(institutions.first { $0.sector == .education })
            try await Self.withLateRegistration(db) { connection, late in
                try await APIHarness.run(
                    on: db,
                    configure: {
                        $0.horizonWarning = .seconds(1)
                        $0.horizonNamedAfter = .seconds(1)
                    }
                ) { api in
                    try await api.eventually("a degraded readiness behind the open transaction") {
                        let ready = try await api.send(.get, "/readyz", token: nil)
                        return ready.status == .ok && ready["status"] as? String == "degraded" && ready["horizonHeldBy"] != nil
                    }
                    // Reports are taken meanwhile. (Quickly: the open transaction holds every
                    // other test's views in this cluster still.)
                    let filed = try await api.send(.post, "/v1/cases", token: try await api.token(school.id, .reporter), json: Network.report)
                    #expect(filed.status == .created, "\(filed.text)")
                    _ = try await connection.query("ROLLBACK", logger: db.logger)
                    try await api.eventually("ready once it ended, with the late registration") {
                        let ready = try await api.send(.get, "/readyz", token: nil)
                        let listed = try await api.send(.get, "/v1/institutions?limit=1000", token: try await api.token(.center, .admin)).array
                        return ready["status"] as? String == "ready"
                            && listed.contains { ($0["id"] as? String)?.lowercased() == late.rawValue.uuidString.lowercased() }
                    }
                }
            }
        }
    }

    /// A transaction left open in another database of the cluster (it holds the read horizon
    /// for every database), and an institution registered after it began: committed, but
    /// behind the horizon until `body` ends that transaction with ROLLBACK on `connection`.
    static func withLateRegistration(
        _ db: TestDatabase,
        _ body: (_ connection: PostgresConnection, _ late: InstitutionID) async throws -> Void
    ) async throws {
        let adminURL = try #require(ProcessInfo.processInfo.environment["SPONA_ADMIN_DATABASE_URL"])
        var configuration = try DatabaseURL(TestDatabase.url(adminURL, database: "postgres")).configuration
        configuration.options.maximumConnections = 1
        let late = InstitutionID()
        try await withPostgresClient(configuration, logger: db.logger) { other in
            try await other.withConnection { connection in
                _ = try await connection.query("SET application_name = 'forgotten-at-start'", logger: db.logger)
                _ = try await connection.query("BEGIN", logger: db.logger)
                _ = try await connection.query("SELECT pg_current_xact_id()", logger: db.logger)
                try await RegistryService(store: db.store, geography: shippedGeography).handle(
                    .register(.init(id: late, nameLatin: "Registered late", sector: .ngo, municipality: MunicipalityCode(rawValue: "blace"))),
                    on: late,
                    actor: Actor(id: "test-admin", institution: .center, role: .admin),
                    requestID: "late",
                    idempotencyKey: nil
                )
                try await body(connection, late)
            }
        }
    }
}
