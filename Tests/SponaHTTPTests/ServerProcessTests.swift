import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A port no one listens on now, below the kernel's ephemeral range (32768 and up here), so
/// that no outgoing connection of the machine (to PostgreSQL, say) can hold it when a server
/// binds it a moment later.
func freePort() -> Int {
    while true {
        let port = Int.random(in: 20_000...32_000)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { continue }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound == 0 { return port }
    }
}

/// A `spona serve` process of its own, logging to a file.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let log: URL
    let port: Int

    init(databaseURL: String, keyDirectory: URL, environment extra: [String: String] = [:]) throws {
        port = freePort()
        log = FileManager.default.temporaryDirectory.appendingPathComponent("spona-serve-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: sponaExecutable)
        process.arguments = ["serve"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            [
                "DATABASE_URL": databaseURL, "SPONA_PORT": "\(port)", "SPONA_LOG_LEVEL": "info",
                "SPONA_MASTER_KEY": MasterKey.generate(), "SPONA_KEY_DIR": keyDirectory.path,
            ].merging(extra) { _, new in new }
        ) { _, new in new }
        let handle = try FileHandle(forWritingTo: log)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    /// The projections this process has been elected to run.
    var elected: Set<String> {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return Set(
            text.split(separator: "\n").filter { $0.contains("projection runner elected") }.compactMap { line in
                line.split(separator: " ").first { $0.hasPrefix("projection=") }.map { String($0.dropFirst("projection=".count)) }
            }
        )
    }

    /// The last lines of the log, for a failure's message.
    var logTail: String {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").suffix(25).joined(separator: "\n")
    }

    /// Whether the HTTP server has bound its port (after the start-up checks).
    var listening: Bool {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("Server started and listening")
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, and how long the process took to exit (nil: it did not within `limit`).
    func terminate(within limit: Duration) async -> Duration? {
        let started = ContinuousClock.now
        process.terminate()
        while process.isRunning, ContinuousClock.now - started < limit { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : ContinuousClock.now - started
    }

    /// GET `path` on this server with curl: the status (0: no answer) and how long it took.
    func get(_ path: String, timeout seconds: Int = 60) async -> (status: Int, took: Duration, error: String) {
        let started = ContinuousClock.now
        let result = try? await runProcess(
            "/usr/bin/curl",
            [
                "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "\(seconds)",
                "http://127.0.0.1:\(port)\(path)",
            ]
        )
        return (Int(result?.output ?? "") ?? 0, ContinuousClock.now - started, result?.errorOutput ?? "curl did not run")
    }

    /// SIGTERM, and SIGKILL if it has not exited within ten seconds: a test's `defer` waits
    /// for this, so it must not wait for a shutdown that never ends.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: log)
    }
}

@Suite("Projections across server processes")
struct ServerProcessTests {
    static let names: Set<String> = ["institutions", "case_work", "case_statistics"]

    /// The Center and one school in Prokuplje, registered as the servers would find them.
    static func registerSchool(_ db: TestDatabase) async throws -> InstitutionID {
        let registry = RegistryService(store: db.store, geography: shippedGeography)
        try await registry.ensureCenter(requestID: "test")
        let school = InstitutionID()
        try await registry.handle(
            .register(.init(id: school, nameLatin: "OŠ Prokuplje", sector: .education, municipality: MunicipalityCode(rawValue: "prokuplje"))),
            on: school,
            actor: Actor(id: "admin", institution: .center, role: .admin),
            requestID: "test",
            idempotencyKey: nil
        )
        return school
    }

    /// Files `count` reports, eight at a time, through the application's service.
    func fileReports(_ count: Int, db: TestDatabase, school: InstitutionID) async throws {
        let cases = CaseService(store: db.store, geography: shippedGeography, vault: try PersonalDataVault.temporary())
        let caller = Caller(actor: Actor(id: "staff-1", institution: school, role: .reporter), isCenter: false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for _ in stride(from: worker, to: count, by: 8) {
                        let report = CaseCommand.FileReport(
                            municipality: MunicipalityCode(rawValue: ["prokuplje", "blace", "nis"].randomElement()!),
                            channel: .app,
                            subject: SubjectProfile(ageGroup: .child14to17, gender: .female),
                            urgency: .urgent
                        )
                        _ = try await cases.handle(
                            .fileReport(report),
                            on: report.caseID,
                            expectedVersion: nil,
                            caller: caller,
                            requestID: "process-test",
                            idempotencyKey: nil
                        )
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Every projection's checkpoint, until all are at the head and have applied each event once.
    func waitUntilCaughtUp(_ db: TestDatabase) async throws -> [String: Int64] {
        let deadline = ContinuousClock.now + .seconds(30)
        var applied: [String: Int64] = [:]
        while ContinuousClock.now < deadline {
            // A query on a connection the restart left half-dead is given up, not waited on.
            guard
                let (total, statuses) = try? await withTimeout(
                    .seconds(5),
                    {
                        (
                            Int64(try await db.eventCount()),
                            try await ProjectionStatus.read(Array(Self.names), client: db.app, store: db.store, logger: db.logger)
                        )
                    }
                )
            else { continue }
            applied = Dictionary(uniqueKeysWithValues: statuses.map { ($0.name, $0.eventsApplied) })
            if statuses.allSatisfy({ $0.eventsBehind == 0 && $0.eventsApplied == total }) { return applied }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("projections did not catch up: \(applied)")
        return applied
    }

    @Test("two servers: each projection runs once; kill -9 its holder and the other takes over within seconds, applying every event exactly once")
    func failover() async throws {
        try await TestDatabase.withFresh { db in
            let school = try await Self.registerSchool(db)
            let keys = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-\(UUID().uuidString)")
            let first = try ServerProcess(databaseURL: db.appURL, keyDirectory: keys)
            defer { first.stop() }
            let second = try ServerProcess(databaseURL: db.appURL, keyDirectory: keys)
            defer { second.stop() }

            // Every projection is elected once, in one of the two.
            let deadline = ContinuousClock.now + .seconds(20)
            while first.elected.union(second.elected) != Self.names, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(first.elected.union(second.elected) == Self.names)
            #expect(first.elected.isDisjoint(with: second.elected))

            // Kill -9 the holder in the middle of a stream of writes.
            let (victim, survivor) = first.elected.isEmpty ? (second, first) : (first, second)
            let lost = victim.elected
            async let writes: Void = fileReports(400, db: db, school: school)
            try await Task.sleep(for: .milliseconds(300))
            victim.kill9()
            let killedAt = ContinuousClock.now
            while !lost.isSubset(of: survivor.elected), ContinuousClock.now - killedAt < .seconds(15) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let takeover = ContinuousClock.now - killedAt
            #expect(lost.isSubset(of: survivor.elected), "the survivor never took over \(lost)")
            #expect(takeover < .seconds(10), "takeover took \(takeover)")
            try await writes

            // Every event applied exactly once, and the views equal a rebuild from scratch.
            let applied = try await waitUntilCaughtUp(db)
            let total = Int64(try await db.eventCount())
            #expect(applied.values.allSatisfy { $0 == total }, "\(applied) vs \(total) events")
            let live = try await Self.snapshot(db)
            _ = try await ProjectionRebuild(owner: db.owner, store: PostgresEventStore(client: db.owner, logger: db.logger), logger: db.logger)
                .rebuild(CaseStatisticsProjection())
            _ = try await ProjectionRebuild(owner: db.owner, store: PostgresEventStore(client: db.owner, logger: db.logger), logger: db.logger)
                .rebuild(CaseWorkProjection())
            #expect(try await Self.snapshot(db) == live)
        }
    }

    /// Which projections hold their runner's lock now, and how many times each (from pg_locks).
    static func heldLocks(_ db: TestDatabase) async throws -> [Int64: Int] {
        let rows = try await db.admin.query(
            """
            SELECT objid::bigint, count(*)::bigint FROM pg_locks
            WHERE locktype = 'advisory' AND classid = 1397772370 AND granted GROUP BY objid
            """,
            logger: db.logger
        )
        var held: [Int64: Int] = [:]
        for try await (object, count) in rows.decode((Int64, Int64).self) { held[object] = Int(count) }
        return held
    }

    @Test(
        "PostgreSQL restarted fast, then immediate, under writes and reads: one runner per projection across two servers, every event applied once within seconds, every request answered within the deadline, SIGTERM within 5 s"
    )
    func databaseRestarts() async throws {
        let cluster = try await TestCluster.start()
        defer { cluster.stop() }
        try await TestDatabase.withFresh(in: cluster) { db in
            let school = try await Self.registerSchool(db)
            let keys = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-\(UUID().uuidString)")
            let deadlineSeconds = 5
            let environment = ["SPONA_REQUEST_DEADLINE": "\(deadlineSeconds)"]
            let servers = [
                try ServerProcess(databaseURL: db.appURL, keyDirectory: keys, environment: environment),
                try ServerProcess(databaseURL: db.appURL, keyDirectory: keys, environment: environment),
            ]
            defer { for server in servers { server.stop() } }
            let started = ContinuousClock.now
            while Set(servers.flatMap(\.elected)) != Self.names || !servers.allSatisfy({ $0.listening }), ContinuousClock.now - started < .seconds(20)
            {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(Set(servers.flatMap(\.elected)) == Self.names)
            let allListening = servers.allSatisfy { $0.listening }
            #expect(allListening)

            let cases = CaseService(store: db.store, geography: shippedGeography, vault: try PersonalDataVault.temporary())
            let caller = Caller(actor: Actor(id: "staff-1", institution: school, role: .reporter), isCenter: false)
            for mode in ["fast", "immediate"] {
                // Writes that carry on through the restart (each retried with its key until recorded).
                // Every wait is bounded (each attempt 10 s, all of them 120 s): on a loaded machine
                // this test may fail, never hang.
                let writes = Task {
                    let until = ContinuousClock.now + .seconds(120)
                    for index in 0..<120 {
                        let report = CaseCommand.FileReport(
                            municipality: MunicipalityCode(rawValue: "prokuplje"),
                            channel: .app,
                            subject: SubjectProfile(ageGroup: .child14to17, gender: .female),
                            urgency: .urgent
                        )
                        while ContinuousClock.now < until {
                            do {
                                _ = try await withTimeout(.seconds(10)) {
                                    try await cases.handle(
                                        .fileReport(report),
                                        on: report.caseID,
                                        expectedVersion: nil,
                                        caller: caller,
                                        requestID: "restart-\(mode)-\(index)",
                                        idempotencyKey: "restart-\(mode)-\(index)"
                                    )
                                }
                                break
                            } catch {
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                    }
                    if ContinuousClock.now >= until { Issue.record("\(mode): the writes did not all get through within 120 s") }
                }
                // Reads that go on through it: each answered, and within the deadline.
                let reads = Task {
                    var slowest = Duration.zero
                    var unanswered: [String] = []
                    for round in 0..<30 {
                        let server = servers[round % 2]
                        // /metrics too: while the database is down it must answer (NaN lags), never stop the process.
                        let (status, took, error) = await server.get(round % 3 == 0 ? "/metrics" : "/readyz", timeout: 20)
                        slowest = max(slowest, took)
                        if status == 0 {
                            let log = (try? String(contentsOf: server.log, encoding: .utf8)) ?? ""
                            unanswered.append("\(error) running=\(server.process.isRunning) log: \(log.suffix(1500))")
                        }
                        try? await Task.sleep(for: .milliseconds(100))
                    }
                    return (slowest, unanswered)
                }
                try await Task.sleep(for: .milliseconds(400))
                try await cluster.restart(mode: mode)
                try await writes.value
                let (slowest, unanswered) = await reads.value
                #expect(unanswered.isEmpty, "\(mode): requests got no answer: \(unanswered)")
                #expect(slowest < .seconds(deadlineSeconds + 3), "\(mode): a request took \(slowest)")

                // Every projection caught up, each event applied once, one runner each.
                let restartedAt = ContinuousClock.now
                let applied = try await waitUntilCaughtUp(db)
                #expect(ContinuousClock.now - restartedAt < .seconds(20), "\(mode): caught up after \(ContinuousClock.now - restartedAt)")
                // Bounded like every other query after a restart: a half-dead pool fails the test, never hangs it.
                let total = Int64(try await withTimeout(.seconds(10)) { try await db.eventCount() })
                #expect(applied.values.allSatisfy { $0 == total }, "\(mode): \(applied) vs \(total) events")
                var held: [Int64: Int] = [:]
                let electedBy = ContinuousClock.now + .seconds(20)
                repeat {
                    held = (try? await withTimeout(.seconds(5)) { try await Self.heldLocks(db) }) ?? held
                    if held.count == Self.names.count { break }
                    try await Task.sleep(for: .milliseconds(200))
                } while ContinuousClock.now < electedBy
                #expect(held.count == Self.names.count && held.values.allSatisfy { $0 == 1 }, "\(mode): runner locks \(held)")
            }

            // After both faults, SIGTERM still ends each server within 5 s.
            for server in servers {
                let took = await server.terminate(within: .seconds(5))
                #expect(took != nil, "a server did not stop within 5 s of SIGTERM after the faults; its log ends:\n\(server.logTail)")
            }
        }
    }

    @Test("a client that trickles its request head, a line at a time, is cut off at the idle timeout: nobody holds a connection by sending slowly")
    func slowRequestHead() async throws {
        try await TestDatabase.withFresh { db in
            let keys = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-\(UUID().uuidString)")
            let server = try ServerProcess(databaseURL: db.appURL, keyDirectory: keys, environment: ["SPONA_IDLE_TIMEOUT": "2"])
            defer { server.stop() }
            let started = ContinuousClock.now
            while !server.listening, ContinuousClock.now - started < .seconds(20) { try await Task.sleep(for: .milliseconds(100)) }
            #expect(await server.get("/healthz").status == 200)

            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(socket >= 0)
            defer { close(socket) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(server.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            func send(_ text: String) -> Bool {
                Array(text.utf8).withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } > 0
            }
            /// True once the server has closed the connection.
            func closedByServer() -> Bool {
                var byte: UInt8 = 0
                let read = recv(socket, &byte, 1, Int32(MSG_DONTWAIT))
                return read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            }
            #expect(send("GET /healthz HTTP/1.1\r\nHost: spona\r\n"))
            let trickling = ContinuousClock.now
            var closedAfter: Duration?
            while ContinuousClock.now - trickling < .seconds(15) {
                try await Task.sleep(for: .milliseconds(500))
                if closedByServer() || !send("X-Slow: 1\r\n") {
                    closedAfter = ContinuousClock.now - trickling
                    break
                }
            }
            #expect(closedAfter != nil, "the server kept a connection whose head never completed for 15 s")
            #expect((closedAfter ?? .seconds(99)) < .seconds(8), "closed after \(String(describing: closedAfter))")
            // Others are still served.
            #expect(await server.get("/healthz").status == 200)
        }
    }

    static func snapshot(_ db: TestDatabase) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for table in ["case_reports", "stat_cases", "view_municipality_month", "view_sector_month"] {
            let rows = try await db.admin.query(PostgresQuery(unsafeSQL: "SELECT t::text FROM \(table) t ORDER BY 1"), logger: db.logger)
            var lines: [String] = []
            for try await line in rows.decode(String.self) { lines.append(line) }
            result[table] = lines
        }
        return result
    }

    @Test(
        "a server with SPONA_LOG_FORMAT=json writes one JSON object per line, one access line per request with the proxy's request id, and never personal data; metrics and probes only on the management port"
    )
    func jsonLogsAndManagementPort() async throws {
        try await TestDatabase.withFresh { db in
            let school = try await Self.registerSchool(db)
            let token = try await AccessTokens(client: db.owner, logger: db.logger)
                .issue(institution: school, role: .reporter, districts: [], label: "logs", expiresAt: Date().addingTimeInterval(3600)).token
            let keys = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: keys) }
            let management = freePort()
            let server = try ServerProcess(
                databaseURL: db.appURL,
                keyDirectory: keys,
                environment: ["SPONA_LOG_FORMAT": "json", "SPONA_MANAGEMENT_PORT": "\(management)", "SPONA_LOG_LEVEL": "info"]
            )
            defer { server.stop() }
            let started = ContinuousClock.now
            while !server.listening, ContinuousClock.now - started < .seconds(30) { try await Task.sleep(for: .milliseconds(100)) }

            func curl(_ arguments: [String], port: Int) async throws -> (status: Int, body: String) {
                let result = try await runProcess(
                    "/usr/bin/curl",
                    ["-sS", "--max-time", "30", "-w", "\n%{http_code}"] + arguments.dropLast() + ["http://127.0.0.1:\(port)\(arguments.last!)"]
                )
                let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
                return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
            }
            // Both ports bound (two servers, two "listening" lines).
            while try await curl(["/openapi.yaml"], port: server.port).status != 200, ContinuousClock.now - started < .seconds(30) {
                try await Task.sleep(for: .milliseconds(100))
            }
            // Probes and metrics: on the management port, not on the API's.
            let onAPI = try await curl(["/metrics"], port: server.port)
            #expect(onAPI.status == 404, "\(onAPI)\n\(server.logTail)")
            let metrics = try await curl(["/metrics"], port: management)
            #expect(metrics.status == 200 && metrics.body.contains("spona_build_info"), "\(metrics.status)")
            #expect(try await curl(["/healthz"], port: management).status == 200)

            let secretName = "Zagorka Tajnović"
            let secretReason = "razgovor sa Zagorkom"
            let report =
                #"{"municipality":"prokuplje","channel":"app","subject":{"ageGroup":"child_14_17","gender":"female"},"personalData":{"name":"\#(secretName)","narrative":"Zagorka je rekla sve."}}"#
            let filed = try await runProcess(
                "/usr/bin/curl",
                [
                    "-sS", "-i", "--max-time", "30", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json",
                    "-H", "Idempotency-Key: logs-1", "-H", "X-Request-ID: proxy-req-42", "-d", report,
                    "http://127.0.0.1:\(server.port)/v1/cases",
                ]
            )
            let location = try #require(
                filed.output.split(separator: "\r\n").first { $0.lowercased().hasPrefix("location:") }?.dropFirst("location:".count)
                    .trimmingCharacters(in: .whitespaces),
                "\(filed.output)"
            )
            let read = try await curl(
                ["-H", "Authorization: Bearer \(token)", "-H", "Spona-Read-Reason: razgovor%20sa%20Zagorkom", location + "/personal-data"],
                port: server.port
            )
            #expect(read.status == 200, "\(read.body)")
            #expect(try await curl(["-H", "Authorization: Bearer spona_wrong", "/v1/inbox"], port: server.port).status == 401)
            try await Task.sleep(for: .milliseconds(300))

            let text = try String(contentsOf: server.log, encoding: .utf8)
            var access: [[String: Any]] = []
            for line in text.split(separator: "\n") {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "not a JSON object: \(line.prefix(200))")
                guard let object else { continue }
                #expect(object["time"] is String && object["level"] is String && object["message"] is String, "\(line.prefix(200))")
                if object["message"] as? String == "request" { access.append(object) }
            }
            let filing = access.first { $0["route"] as? String == "/v1/cases" && $0["method"] as? String == "POST" }
            #expect(filing?["status"] as? String == "201", "\(access)")
            #expect(filing?["hb.request.id"] as? String == "proxy-req-42", "\(String(describing: filing))")
            #expect(filing?["duration_ms"] is String)
            #expect(access.contains { $0["route"] as? String == "/v1/cases/{case}/personal-data" && $0["status"] as? String == "200" })
            #expect(access.contains { $0["status"] as? String == "401" })
            for secret in [secretName, "Zagork", "Tajnovi", secretReason, "razgovor"] {
                #expect(!text.localizedCaseInsensitiveContains(secret), "the log holds '\(secret)'")
            }
            #expect(!text.contains(location), "the log holds a case's path")
        }
    }

    @Test("replicas that start together all prepare the key database: none trips over another's creating the table")
    func keyDatabasePreparedConcurrently() async throws {
        try await TestDatabase.withFresh { keyDatabase in
            let url = try DatabaseURL(keyDatabase.ownerURL)
            let stores = (0..<8).map { _ in PostgresSubjectKeyStore(url: url, logger: keyDatabase.logger) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores { group.addTask { try await store.run() } }
                try await withThrowingTaskGroup(of: Void.self) { preparing in
                    for store in stores { preparing.addTask { try await store.prepare() } }
                    try await preparing.waitForAll()
                }
                group.cancelAll()
            }
        }
    }

    @Test(
        "two servers on two machines' worth of processes share the subjects' keys through a key database apart from the events': one seals, the other opens, an erasure on one holds on the other"
    )
    func sharedKeyDatabase() async throws {
        try await TestDatabase.withFresh { db in
            try await TestDatabase.withFresh { keyDatabase in
                let school = try await Self.registerSchool(db)
                let issuer = AccessTokens(client: db.owner, logger: db.logger)
                let staff = try await issuer.issue(
                    institution: school,
                    role: .reporter,
                    districts: [],
                    label: "k",
                    expiresAt: Date().addingTimeInterval(3600)
                ).token
                let admin = try await issuer.issue(
                    institution: .center,
                    role: .admin,
                    districts: [],
                    label: "k",
                    expiresAt: Date().addingTimeInterval(3600)
                ).token
                let environment = [
                    "SPONA_KEY_DIR": "", "SPONA_KEY_DATABASE_URL": keyDatabase.ownerURL, "SPONA_MASTER_KEY": MasterKey.generate(),
                ]
                let unused = FileManager.default.temporaryDirectory.appendingPathComponent("spona-unused-\(UUID().uuidString)")
                let first = try ServerProcess(databaseURL: db.appURL, keyDirectory: unused, environment: environment)
                defer { first.stop() }
                let second = try ServerProcess(databaseURL: db.appURL, keyDirectory: unused, environment: environment)
                defer { second.stop() }
                let started = ContinuousClock.now
                while !(first.listening && second.listening), ContinuousClock.now - started < .seconds(30) {
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(first.listening && second.listening, "\(first.logTail)\n\(second.logTail)")

                func call(_ server: ServerProcess, _ arguments: [String]) async throws -> (status: Int, headers: String, body: String) {
                    let result = try await runProcess(
                        "/usr/bin/curl",
                        ["-sS", "-i", "--max-time", "30"] + arguments.dropLast() + ["http://127.0.0.1:\(server.port)\(arguments.last!)"]
                    )
                    let parts = result.output.components(separatedBy: "\r\n\r\n")
                    let head = parts.first ?? ""
                    let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                    return (status, head, parts.dropFirst().joined(separator: "\r\n\r\n"))
                }
                func header(_ name: String, _ head: String) -> String? {
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                        .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
                }
                let report =
                    #"{"municipality":"prokuplje","channel":"app","subject":{"ageGroup":"child_14_17","gender":"female"},"personalData":{"name":"Jelena Deljena"}}"#
                let filed = try await call(
                    first,
                    [
                        "-H", "Authorization: Bearer \(staff)", "-H", "Content-Type: application/json", "-H", "Idempotency-Key: shared-1", "-d",
                        report, "/v1/cases",
                    ]
                )
                #expect(filed.status == 201, "\(filed)")
                let path = try #require(header("Location", filed.headers))
                let reason = ["-H", "Spona-Read-Reason: check"]
                let onSecond = try await call(second, ["-H", "Authorization: Bearer \(staff)"] + reason + [path + "/personal-data"])
                #expect(onSecond.status == 200 && onSecond.body.contains("Jelena Deljena"), "\(onSecond)")

                // The key is in the key database, and nowhere in the events' database.
                var keys = 0
                for try await count in try await keyDatabase.admin.query("SELECT count(*) FROM subject_keys", logger: db.logger).decode(Int64.self) {
                    keys = Int(count)
                }
                #expect(keys == 1)
                var tables = 0
                for try await count in try await db.admin.query("SELECT count(*) FROM pg_tables WHERE tablename = 'subject_keys'", logger: db.logger)
                    .decode(Int64.self)
                {
                    tables = Int(count)
                }
                #expect(tables == 0)

                let etag = try #require(header("ETag", onSecond.headers))
                let erased = try await call(
                    second,
                    [
                        "-H", "Authorization: Bearer \(admin)", "-H", "Content-Type: application/json", "-H", "Idempotency-Key: erase-1", "-H",
                        "If-Match: \(etag)", "-d", #"{"legalBasis":"GDPR Art. 17","reference":"K-1"}"#, path + "/erase-personal-data",
                    ]
                )
                #expect(erased.status == 200, "\(erased)")
                let onFirst = try await call(first, ["-H", "Authorization: Bearer \(staff)"] + reason + [path + "/personal-data"])
                #expect(onFirst.status == 200 && onFirst.body.contains("erased") && !onFirst.body.contains("Jelena"), "\(onFirst)")
            }
        }
    }
}
