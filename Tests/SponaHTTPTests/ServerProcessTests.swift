import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaTestSupport
import Testing

/// A `spona serve` process of its own, logging to a file.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let log: URL
    let port: Int

    init(databaseURL: String, keyDirectory: URL) throws {
        port = Int.random(in: 20_000...60_000)
        log = FileManager.default.temporaryDirectory.appendingPathComponent("spona-serve-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: sponaExecutable)
        process.arguments = ["serve"]
        process.environment = ProcessInfo.processInfo.environment.merging([
            "DATABASE_URL": databaseURL, "SPONA_PORT": "\(port)", "SPONA_LOG_LEVEL": "info",
            "SPONA_MASTER_KEY": MasterKey.generate(), "SPONA_KEY_DIR": keyDirectory.path,
        ]) { _, new in new }
        let handle = try FileHandle(forWritingTo: log)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    /// The projections this process has been elected to run.
    var elected: Set<String> {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return Set(text.split(separator: "\n").filter { $0.contains("projection runner elected") }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("projection=") }.map { String($0.dropFirst("projection=".count)) }
        })
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: log)
    }
}

@Suite("Projections across server processes")
struct ServerProcessTests {
    static let names: Set<String> = ["institutions", "case_work", "case_statistics"]

    /// Files `count` reports, eight at a time, through the application's service.
    func fileReports(_ count: Int, db: TestDatabase, school: InstitutionID) async throws {
        let cases = CaseService(store: db.store, geography: shippedGeography)
        let caller = Caller(actor: Actor(id: "staff-1", institution: school, role: .reporter), isCenter: false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for _ in stride(from: worker, to: count, by: 8) {
                        let report = CaseCommand.FileReport(
                            municipality: MunicipalityCode(rawValue: ["prokuplje", "blace", "nis"].randomElement()!), channel: .app,
                            subject: SubjectProfile(ageGroup: .child14to17, gender: .female), urgency: .urgent)
                        _ = try await cases.handle(.fileReport(report), on: report.caseID, expectedVersion: nil, caller: caller,
                                                   requestID: "process-test", idempotencyKey: nil)
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
            let total = Int64(try await db.eventCount())
            let statuses = try await ProjectionStatus.read(Array(Self.names), client: db.app, store: db.store, logger: db.logger)
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
            let registry = RegistryService(store: db.store, geography: shippedGeography)
            try await registry.ensureCenter(requestID: "test")
            let school = InstitutionID()
            try await registry.handle(.register(.init(id: school, nameLatin: "OŠ Prokuplje", sector: .education, municipality: MunicipalityCode(rawValue: "prokuplje"))),
                                      on: school, actor: Actor(id: "admin", institution: .center, role: .admin), requestID: "test", idempotencyKey: nil)
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
}
