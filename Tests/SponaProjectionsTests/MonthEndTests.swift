import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaTestSupport
import Testing

@testable import SponaProjections

@Suite("Views as of past moments, from the month ends kept")
struct MonthEndTests {
    /// A history of four months and a bit: the registry recorded five months ago, then each
    /// month's cases, the last ones this month, recorded by the owner at those times (as a
    /// history kept elsewhere is imported).
    static func writeHistory(_ db: TestDatabase) async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func table(_ name: String) throws -> CSVTable {
            try CSVTable(parsing: String(contentsOf: root.appendingPathComponent("Reference/\(name)"), encoding: .utf8))
        }
        let geography = Desk.geography
        let importer = ReferenceImport(geography: geography)
        let details = try importer.institutions(try table("institutions-2025.csv"))
        let trainings = try importer.trainings(try table("trainings-2025.csv"))
        let history = try DemoHistory(
            geography: geography,
            institutions: details.map(Institution.init(registered:)),
            trainings: trainings,
            from: Date().addingTimeInterval(-86_400 * 150),
            until: Date(),
            seed: 7
        )
        let vault = try PersonalDataVault.temporary()
        for (monthsAgo, cases) in [(5, 0..<0), (4, 0..<12), (3, 12..<30), (2, 30..<40), (1, 40..<55), (0, 55..<62)] {
            var configuration = try DatabaseURL(db.ownerURL).configuration
            configuration.options.maximumConnections = 4
            if monthsAgo > 0 { configuration.options.additionalStartupParameters = [("spona.recorded_earlier_by", "\(monthsAgo * 30) days")] }
            try await withPostgresClient(configuration, logger: db.logger) { client in
                let store = PostgresEventStore(client: client, logger: db.logger)
                if monthsAgo == 5 {
                    try await RegistryService(store: store, geography: geography).load(
                        institutions: details,
                        trainings: trainings,
                        actor: Actor(id: "test", institution: .center, role: .admin),
                        requestID: "test"
                    )
                } else {
                    let writer = DemoWriter(service: CaseService(store: store, geography: geography, vault: vault), history: history, seed: 7)
                    _ = try await writer.writeInBulk(cases: cases, concurrency: 2)
                }
            }
        }
        #expect(try await db.waitUntilReadable())
    }

    /// Every row of the statistics' tables, as text, in order (without the month each row
    /// version holds since, which a replay into temporary tables does not keep).
    static func contents(on connection: PostgresConnection, logger: Logger) async throws -> [String: String] {
        var contents: [String: String] = [:]
        let all = try await MonthEnds.columns(of: CaseStatisticsProjection.keptTables, on: connection, logger: logger)
        for table in CaseStatisticsProjection.keptTables {
            let columns = all[table]!.split(separator: ", ").filter { $0 != "since_month" }.joined(separator: ", ")
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: "SELECT coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '') FROM (SELECT \(columns) FROM \(table)) r"
                ),
                logger: logger
            )
            for try await text in rows.decode(String.self) { contents[table] = text }
        }
        return contents
    }

    /// Folds the history with a runner, as a server does, until it has caught up.
    static func follow(_ db: TestDatabase) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await ProjectionRunner(
                    client: db.app,
                    store: db.store,
                    projection: CaseStatisticsProjection(),
                    logger: db.logger,
                    retryInterval: .milliseconds(100)
                ).run()
            }
            defer { group.cancelAll() }
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let rows = try await db.owner.query(
                    """
                    SELECT coalesce((SELECT position FROM projection_checkpoints WHERE projection = 'case_statistics'), 0)
                           >= (SELECT max(global_position) FROM events WHERE split_part(stream_id, '-', 1) IN ('case', 'institution', 'training'))
                    """,
                    logger: db.logger
                )
                for try await done in rows.decode(Bool.self) where done { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("the statistics did not catch up")
        }
    }

    /// Moments across the history: the end of each month, moments inside each month (among
    /// its events), and one before it all.
    static func moments(_ db: TestDatabase) async throws -> [Date] {
        var moments: [Date] = [Date().addingTimeInterval(-86_400 * 400)]
        let rows = try await db.owner.query(
            """
            SELECT extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY recorded_at))::float8, min(date_trunc('month', recorded_at, 'UTC'))
            FROM events GROUP BY date_trunc('month', recorded_at, 'UTC') ORDER BY 2
            """,
            logger: db.logger
        )
        for try await (middle, start) in rows.decode((Double, Date).self) {
            moments.append(Date(timeIntervalSince1970: middle))
            moments.append(start.addingTimeInterval(-0.000_5))
        }
        return moments
    }

    @Test("the statistics at any moment equal a replay of the events up to it: at a month's end, inside a month, live and after a rebuild")
    func monthEndsEqualReplay() async throws {
        try await TestDatabase.withFresh { db in
            try await Self.writeHistory(db)
            try await Self.follow(db)
            let projection = CaseStatisticsProjection()
            let kept = try await db.owner.query("SELECT count(*) FROM view_municipality_month_history", logger: db.logger)
            for try await count in kept.decode(Int64.self) { #expect(count > 0, "earlier versions of the rows are kept") }

            func compare(_ label: String) async throws {
                var plans: [PointInTime.Plan] = []
                for moment in try await Self.moments(db) {
                    let plan = try await db.owner.withConnection {
                        try await PointInTime.plan([projection], at: moment, on: $0, store: db.store, logger: db.logger)
                    }
                    let fromMonthEnds = try await PointInTime.withViews(
                        [projection],
                        at: moment,
                        client: db.owner,
                        store: db.store,
                        logger: db.logger
                    ) {
                        try await Self.contents(on: $0, logger: db.logger)
                    }
                    let replayed = try await PointInTime.withViews(
                        [projection],
                        at: moment,
                        planned: .replay,
                        client: db.owner,
                        store: db.store,
                        logger: db.logger
                    ) {
                        try await Self.contents(on: $0, logger: db.logger)
                    }
                    plans.append(plan)
                    let onDemand = Set(CaseStatisticsProjection.keptMonthEnds.onDemand.map(\.table))
                    for table in CaseStatisticsProjection.keptTables {
                        let kept = Set((fromMonthEnds[table] ?? "").split(separator: "\n"))
                        let events = Set((replayed[table] ?? "").split(separator: "\n"))
                        // Inside a month, the tables restored on demand hold the rows the
                        // month's events read, each as the replay from the start has it.
                        if case .fromMonthEnd = plan, onDemand.contains(table) {
                            #expect(kept.isSubset(of: events), "\(label): \(table) as of \(moment): \(kept.subtracting(events).sorted().prefix(3))")
                            continue
                        }
                        #expect(
                            kept == events,
                            "\(label): \(table) as of \(moment) (\(plan)): only kept \(kept.subtracting(events).sorted().prefix(3)), only replayed \(events.subtracting(kept).sorted().prefix(3))"
                        )
                    }
                }
                // Not a vacuous comparison: both ways from the month ends were taken, and the
                // views had rows.
                #expect(plans.contains { if case .monthEnd = $0 { true } else { false } }, "\(label)")
                #expect(plans.contains { if case .fromMonthEnd = $0 { true } else { false } }, "\(label)")
            }
            try await compare("live")
            _ = try await ProjectionRebuild(owner: db.owner, store: db.store, logger: db.logger).rebuild(projection)
            try await compare("rebuilt")
        }
    }

    @Test("only the owner of the history may record events at an earlier time, and such events say so")
    func backdatingIsTheOwners() async throws {
        try await TestDatabase.withFresh { db in
            var configuration = try DatabaseURL(db.appURL).configuration
            configuration.options.additionalStartupParameters = [("spona.recorded_earlier_by", "30 days")]
            await #expect(throws: (any Error).self) {
                try await withPostgresClient(configuration, logger: db.logger) { client in
                    _ = try await PostgresEventStore(client: client, logger: db.logger)
                        .append(to: "test-1", expected: .noStream, events: [EventData(type: "Noted", payload: Data("{}".utf8))])
                }
            }
            var owner = try DatabaseURL(db.ownerURL).configuration
            owner.options.additionalStartupParameters = [("spona.recorded_earlier_by", "30 days")]
            _ = try await withPostgresClient(owner, logger: db.logger) { client in
                try await PostgresEventStore(client: client, logger: db.logger)
                    .append(to: "test-2", expected: .noStream, events: [EventData(type: "Noted", payload: Data("{}".utf8))])
            }
            let rows = try await db.owner.query(
                "SELECT metadata->>'recordedEarlierBy', now() - recorded_at > interval '29 days' FROM events WHERE stream_id = 'test-2'",
                logger: db.logger
            )
            var seen = false
            for try await (by, earlier) in rows.decode((String?, Bool).self) {
                #expect(by == "30 days")
                #expect(earlier)
                seen = true
            }
            #expect(seen)
            let none = try await db.owner.query("SELECT count(*) FROM events WHERE stream_id = 'test-1'", logger: db.logger)
            for try await count in none.decode(Int64.self) { #expect(count == 0) }
        }
    }
}
