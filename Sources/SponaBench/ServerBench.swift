import Foundation
import Logging
import PostgresNIO
import SchemaMigrations
import SponaApplication
import SponaDomain
import SponaEventStore

/// The server as it is deployed and used: `spona serve` (the release build) in a process of its
/// own with its projections running, driven over loopback by wrk from another process, beside
/// pgbench's plain INSERTs of the same payload into the bare baseline table of the same cluster,
/// in the same run. Nothing of the client shares the server's process or its scheduler.
struct ServerBench {
    let spona: String
    let wrk: String
    let pgbench: String
    let adminURL: String
    let ownerURL: String
    let appURL: String
    let referenceDirectory: String
    let schemaDirectory: String
    let clients: Int
    let seconds: Int
    let logger: Logger

    struct Figure {
        var requestsPerSecond: Double
        var p50: String
        var p99: String
        var failures: Int
    }

    struct Result {
        var health: Figure
        var report: Figure
        var insertsPerSecond: Double
    }

    enum Failure: Error, CustomStringConvertible {
        case serverDidNotStart(String)
        case wrkOutput(String)
        var description: String {
            switch self {
            case .serverDidNotStart(let log): "spona serve did not become ready: \(log.suffix(600))"
            case .wrkOutput(let text): "wrk printed no rate: \(text.suffix(400))"
            }
        }
    }

    func run() async throws -> Result {
        let database = "spona_bench_server"
        let ownerName = URLComponents(string: ownerURL)?.user ?? "spona_owner"
        try await withPostgresClient(try DatabaseURL(adminURL).configuration, logger: logger) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"), logger: logger)
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database) OWNER \(ownerName)"), logger: logger)
        }
        let ownerDatabaseURL = SponaBench.url(ownerURL, database: database)
        let appDatabaseURL = SponaBench.url(appURL, database: database)
        let geography = try ReferenceData.geography(in: URL(fileURLWithPath: referenceDirectory))

        // The schema, the baseline table, a school and a reporter's token, as an operator sets up.
        let token = try await withPostgresClient(try DatabaseURL(ownerDatabaseURL).configuration, logger: logger) { owner in
            try await SchemaMigrator(directory: URL(fileURLWithPath: schemaDirectory)).migrate(client: owner, logger: logger)
            for statement in SponaBench.baselineTable {
                try await owner.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            let store = PostgresEventStore(client: owner, logger: logger)
            let registry = RegistryService(store: store, geography: geography)
            try await registry.ensureCenter(requestID: "bench")
            let school = InstitutionID()
            try await registry.handle(
                .register(
                    .init(id: school, nameLatin: "OŠ Prokuplje (bench)", sector: .education, municipality: MunicipalityCode(rawValue: "prokuplje"))
                ),
                on: school,
                actor: Actor(id: "bench", institution: .center, role: .admin),
                requestID: "bench",
                idempotencyKey: nil
            )
            return try await AccessTokens(client: owner, logger: logger)
                .issue(institution: school, role: .reporter, districts: [], label: "bench", expiresAt: Date().addingTimeInterval(86_400)).token
        }

        let port = 18_000 + Int.random(in: 0..<2000)
        let base = "http://127.0.0.1:\(port)"
        let serverLog = FileManager.default.temporaryDirectory.appendingPathComponent("spona-bench-server-\(UUID()).log")
        _ = FileManager.default.createFile(atPath: serverLog.path, contents: nil)
        let keyDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("spona-bench-keys-\(UUID())")
        defer {
            try? FileManager.default.removeItem(at: serverLog)
            try? FileManager.default.removeItem(at: keyDirectory)
        }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: spona)
        server.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = appDatabaseURL
        environment["SPONA_PORT"] = "\(port)"
        environment["SPONA_HOST"] = "127.0.0.1"
        environment["SPONA_REFERENCE_DIR"] = referenceDirectory
        environment["SPONA_LOG_LEVEL"] = "warning"
        environment["SPONA_DB_POOL_SIZE"] = "\(clients + 8)"
        environment["SPONA_SEAL_INTERVAL"] = "0"
        environment["SPONA_MASTER_KEY"] = MasterKey.generate()
        environment["SPONA_KEY_DIR"] = keyDirectory.path
        server.environment = environment
        let log = try FileHandle(forWritingTo: serverLog)
        server.standardOutput = log
        server.standardError = log
        try server.run()
        defer {
            if server.isRunning {
                server.terminate()
                server.waitUntilExit()
            }
        }
        try await waitUntilReady(base, server: server, log: serverLog)

        // Warm up (the pool, prepared statements, the token cache), then measure.
        _ = try wrk(base + "/v1/cases", script: reportScript(token: token), seconds: 2)
        let health = try wrk(base + "/healthz", script: nil, seconds: max(2, seconds / 2))
        let report = try wrk(base + "/v1/cases", script: reportScript(token: token), seconds: seconds)
        server.terminate()
        server.waitUntilExit()

        let insertScript = SponaBench.pgbenchInsert
        let perClient = max(500, Int(Double(seconds) * 20_000) / clients)
        let inserts = try SponaBench.pgbench(pgbench, url: appDatabaseURL, clients: clients, transactions: perClient, statement: insertScript)
        return Result(health: health, report: report, insertsPerSecond: inserts)
    }

    private func waitUntilReady(_ base: String, server: Process, log: URL) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard server.isRunning else { break }
            if let status = try? curlStatus(base + "/readyz"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw Failure.serverDidNotStart((try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// The status code of a GET, through wrk's sibling on every Debian machine: curl.
    private func curlStatus(_ url: String) throws -> Int? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Int(text)
    }

    /// A wrk script filing the bench's report with the reporter's token and a fresh
    /// Idempotency-Key per request, as a client application does.
    private func reportScript(token: String) -> String {
        let body = String(decoding: HTTPBench.report, as: UTF8.self)
        return """
            local counter = 0
            local threads = 0
            function setup(thread)
              thread:set("tid", threads)
              threads = threads + 1
            end
            function init(args)
              prefix = tostring(tid) .. "-" .. tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000000)) .. "-"
            end
            local body = [[\(body)]]
            function request()
              counter = counter + 1
              return wrk.format("POST", nil, {
                ["Content-Type"] = "application/json",
                ["Authorization"] = "Bearer \(token)",
                ["Idempotency-Key"] = prefix .. counter,
              }, body)
            end
            """
    }

    /// Runs wrk with `clients` connections on two threads; its rate, latency percentiles and
    /// the answers that were not 2xx.
    private func wrk(_ url: String, script: String?, seconds: Int) throws -> Figure {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("spona-wrk-\(UUID()).lua")
        defer { try? FileManager.default.removeItem(at: file) }
        var arguments = ["-t", "2", "-c", "\(clients)", "-d", "\(seconds)s", "--latency", "--timeout", "10s"]
        if let script {
            try script.write(to: file, atomically: true, encoding: .utf8)
            arguments += ["-s", file.path]
        }
        arguments.append(url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let rateLine = lines.first(where: { $0.hasPrefix("Requests/sec:") }),
            let rate = Double(rateLine.dropFirst("Requests/sec:".count).trimmingCharacters(in: .whitespaces))
        else { throw Failure.wrkOutput(text) }
        func percentile(_ label: String) -> String {
            lines.first { $0.hasPrefix(label) }.map { $0.dropFirst(label.count).trimmingCharacters(in: .whitespaces) } ?? "-"
        }
        let failures =
            lines.first { $0.hasPrefix("Non-2xx or 3xx responses:") }
            .flatMap { Int($0.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") } ?? 0
        return Figure(requestsPerSecond: rate, p50: percentile("50%"), p99: percentile("99%"), failures: failures)
    }
}
