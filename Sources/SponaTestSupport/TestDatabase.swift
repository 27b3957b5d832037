import Foundation
import Logging
import PostgresNIO
import SchemaMigrations
import SponaEventStore

/// A scratch database on the real PostgreSQL that `make test` provides, migrated with the
/// project's own `Schema/`, and dropped afterwards. Every test gets its own, so tests run in
/// parallel without seeing each other's events.
///
/// Three connections, as in production: `admin` (a superuser, to play the tampering database
/// administrator), `owner` (who migrated it) and `app` (the server's login: SELECT on events
/// and `spona_append`, nothing more).
public struct TestDatabase: Sendable {
    public let name: String
    public let admin: PostgresClient
    public let owner: PostgresClient
    public let app: PostgresClient
    public let store: PostgresEventStore
    public let logger: Logger
    /// The app login's URL for this database, for running the `spona` binary against it.
    public let appURL: String
    public let ownerURL: String

    public enum SetupError: Error, CustomStringConvertible {
        case missingEnvironment(String)
        public var description: String {
            switch self {
            case .missingEnvironment(let name):
                "\(name) is not set: run the tests with `make test`, which starts a PostgreSQL and sets it"
            }
        }
    }

    static func environment(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw SetupError.missingEnvironment(name)
        }
        return value
    }

    /// Replaces the database of a URL.
    public static func url(_ url: String, database: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/\(database)"
        return components.string!
    }

    public static var schemaDirectory: URL {
        if let directory = ProcessInfo.processInfo.environment["SPONA_SCHEMA_DIR"] {
            return URL(fileURLWithPath: directory)
        }
        // Sources/SponaTestSupport/TestDatabase.swift → the package root.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Schema")
    }

    /// Creates and migrates a scratch database, runs `body` with it, and drops it.
    public static func withFresh<Result: Sendable>(
        pollInterval: Duration = .milliseconds(200),
        _ body: (TestDatabase) async throws -> Result
    ) async throws -> Result {
        // Every test of the process starts at once; unbounded, their pools reached the
        // cluster's max_connections and waited on each other for good. So a few databases at
        // a time, the rest queue.
        await slots.acquire()
        do {
            let result = try await withFreshDatabase(pollInterval: pollInterval, body)
            await slots.release()
            return result
        } catch {
            await slots.release()
            throw error
        }
    }

    static let slots = Slots(12)

    /// A counting semaphore for tasks.
    actor Slots {
        private var free: Int
        private var waiting: [CheckedContinuation<Void, Never>] = []

        init(_ count: Int) { free = count }

        func acquire() async {
            if free > 0 {
                free -= 1
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty {
                free += 1
            } else {
                waiting.removeFirst().resume()
            }
        }
    }

    /// A database restored from `dump` (a `pg_dump -Fc` file) into `cluster`, not migrated:
    /// what an operator has after `pg_restore`, before `spona migrate`. Dropped afterwards.
    public static func withRestored<Result: Sendable>(
        _ dump: URL,
        into cluster: TestCluster,
        _ body: (TestDatabase) async throws -> Result
    ) async throws -> Result {
        try await withFreshDatabase(pollInterval: .milliseconds(50), cluster: cluster, prepare: .restore(dump), body)
    }

    /// A migrated scratch database in `cluster` (a second cluster of the test's own).
    public static func withFresh<Result: Sendable>(in cluster: TestCluster, _ body: (TestDatabase) async throws -> Result) async throws -> Result {
        try await withFreshDatabase(pollInterval: .milliseconds(50), cluster: cluster, prepare: .migrate, body)
    }

    /// The database `name` of `cluster` as it is (one recovered from a backup, say): neither
    /// created, migrated nor dropped.
    public static func withExisting<Result: Sendable>(
        _ name: String,
        in cluster: TestCluster,
        _ body: (TestDatabase) async throws -> Result
    ) async throws -> Result {
        try await connect(name, pollInterval: .milliseconds(50), urls: try urls(cluster), prepare: .none, body)
    }

    enum Preparation {
        case none
        case migrate
        case restore(URL)
    }

    /// The superuser's, the owner's and the server's URLs of a cluster, without a database.
    static func urls(_ cluster: TestCluster?) throws -> (admin: String, owner: String, app: String) {
        (
            try cluster?.adminURL ?? environment("SPONA_ADMIN_DATABASE_URL"), try cluster?.ownerURL ?? environment("SPONA_OWNER_DATABASE_URL"),
            try cluster?.appURL ?? environment("DATABASE_URL")
        )
    }

    // Every test runs in parallel with the others: small pools for the side connections keep
    // the whole suite well inside the cluster's max_connections.
    static func configuration(_ url: String, connections: Int) throws -> PostgresClient.Configuration {
        var configuration = try DatabaseURL(url).configuration
        configuration.options.maximumConnections = connections
        return configuration
    }

    static func withFreshDatabase<Result: Sendable>(
        pollInterval: Duration,
        cluster: TestCluster? = nil,
        prepare: Preparation = .migrate,
        _ body: (TestDatabase) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "spona.test")
        logger.logLevel = .warning
        let urls = try urls(cluster)
        let ownerName = URLComponents(string: urls.owner)?.user ?? "spona_owner"
        let name = "spona_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        return try await withPostgresClient(try configuration(urls.admin, connections: 1), logger: logger) { server in
            try await server.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) OWNER \(ownerName)"), logger: logger)
            do {
                let result = try await connect(name, pollInterval: pollInterval, urls: urls, prepare: prepare, body)
                // Within a minute: a test that restarted its cluster may leave this pool unable to lease.
                _ = try await withTimeout(.seconds(60)) { [logger] in
                    try await server.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: logger)
                }
                return result
            } catch {
                _ = try? await withTimeout(.seconds(60)) { [logger] in
                    try await server.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
                }
                throw error
            }
        }
    }

    /// Connects to the database `name` as its superuser, owner and server, prepares it, and runs `body`.
    static func connect<Result: Sendable>(
        _ name: String,
        pollInterval: Duration,
        urls: (admin: String, owner: String, app: String),
        prepare: Preparation,
        _ body: (TestDatabase) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "spona.test")
        logger.logLevel = .warning
        let ownerName = URLComponents(string: urls.owner)?.user ?? "spona_owner"
        let ownerURL = url(urls.owner, database: name)
        let appURL = url(urls.app, database: name)
        return try await withPostgresClient(try configuration(url(urls.admin, database: name), connections: 3), logger: logger) { admin in
            try await withPostgresClient(try configuration(ownerURL, connections: 3), logger: logger) { owner in
                switch prepare {
                case .none:
                    break
                case .migrate:
                    try await SchemaMigrator(directory: schemaDirectory).migrate(client: owner, logger: logger)
                case .restore(let dump):
                    try await TestCluster.runTool(
                        "pg_restore",
                        [
                            "--no-owner", "--role=\(ownerName)", "--exit-on-error",
                            "--dbname=\(url(urls.admin, database: name))", dump.path,
                        ]
                    )
                }
                return try await withPostgresClient(try configuration(appURL, connections: 12), logger: logger) { app in
                    let store = PostgresEventStore(client: app, logger: logger, pollInterval: pollInterval, readTimeout: .seconds(5))
                    // The store's notifier runs beside the test, and is stopped after it within
                    // seconds whatever it waits for (a test that restarted the database leaves
                    // it a pool that may never lease again).
                    let running = Task { _ = try? await store.run() }
                    func stopStore() async {
                        running.cancel()
                        await waitAtMost(.seconds(5), for: running)
                    }
                    do {
                        let result = try await body(
                            TestDatabase(
                                name: name,
                                admin: admin,
                                owner: owner,
                                app: app,
                                store: store,
                                logger: logger,
                                appURL: appURL,
                                ownerURL: ownerURL
                            )
                        )
                        await stopStore()
                        return result
                    } catch {
                        await stopStore()
                        throw error
                    }
                }
            }
        }
    }

    /// Waits, up to 30 seconds, until every stored event is below the read horizon: other
    /// tests' transactions on the same cluster hold it back for a moment (the demo's bulk
    /// writes, on a loaded machine, for many seconds), and readers, seals and projections see
    /// only what is below it. False when it did not get there.
    public func waitUntilReadable() async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let rows = try await admin.query(
                "SELECT count(*) FILTER (WHERE transaction_id < spona_read_horizon()) = count(*) FROM events",
                logger: logger
            )
            for try await readable in rows.decode(Bool.self) where readable { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Writes this database as `pg_dump -Fc` does, for a restore elsewhere.
    public func dump(to file: URL) async throws {
        let adminURL = try Self.environment("SPONA_ADMIN_DATABASE_URL")
        try await TestCluster.runTool("pg_dump", ["--format=custom", "--file=\(file.path)", "--dbname=\(Self.url(adminURL, database: name))"])
    }

    /// Waits, up to 60 seconds, until a cluster in recovery has been promoted and takes writes.
    public func waitForPromotion() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let rows = try await admin.query("SELECT pg_is_in_recovery()", logger: logger)
            for try await recovering in rows.decode(Bool.self) where !recovering { return }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// The number of rows in `events`, read as the superuser.
    public func eventCount() async throws -> Int {
        let rows = try await admin.query("SELECT count(*)::bigint FROM events", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}

/// The `spona` binary `make test` built.
public var sponaExecutable: String {
    ProcessInfo.processInfo.environment["SPONA_BIN"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/spona").path
}
