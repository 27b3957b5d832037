import Foundation
import PostgresNIO
import SponaProjections
import SponaTestSupport
import Testing

@Suite("Rebuilding projections")
struct RebuildTests {
    /// Every row of every projection table, as text, sorted.
    func snapshot(_ api: APIHarness) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for table in ["institutions", "open_work", "case_reports", "stat_cases", "stat_institutions", "view_municipality_month", "view_sector_month"]
        {
            let rows = try await api.db.admin.query(PostgresQuery(unsafeSQL: "SELECT t::text FROM \(table) t ORDER BY 1"), logger: api.db.logger)
            var lines: [String] = []
            for try await line in rows.decode(String.self) { lines.append(line) }
            result[table] = lines
        }
        return result
    }

    @Test("a rebuild while the server runs equals the incrementally maintained views, and the runners carry on after it")
    func rebuildEqualsIncremental() async throws {
        try await APIHarness.run { api in
            let n = try await randomHistory(api, seed: 5, cases: 20)
            let projections = ["institutions", "case_work", "case_statistics"]
            try await waitForProjections(api, projections)
            let incremental = try await snapshot(api)
            #expect(incremental["view_municipality_month"]?.isEmpty == false)

            // Damage the read models the way a bug would; the rebuild must bring back the truth.
            try await api.db.admin.query("UPDATE view_municipality_month SET reports = reports + 100", logger: api.db.logger)
            try await api.db.admin.query(
                "DELETE FROM case_reports WHERE case_id IN (SELECT case_id FROM case_reports LIMIT 3)",
                logger: api.db.logger
            )
            #expect(try await snapshot(api) != incremental)

            let rebuild = try await runProcess(
                sponaExecutable,
                ["projections", "rebuild", "--all"],
                environment: ["SPONA_OWNER_DATABASE_URL": api.db.ownerURL, "DATABASE_URL": api.db.appURL]
            )
            #expect(rebuild.status == 0, "\(rebuild.output)\(rebuild.errorOutput)")
            #expect(rebuild.output.contains("case_statistics: rebuilt from"))
            #expect(try await snapshot(api) == incremental)

            // The server still answers from the swapped-in tables, and its runners go on.
            _ = try await n.fileReport()
            try await waitForProjections(api, projections)
            let after = try await snapshot(api)
            #expect(after["case_reports"]?.count == (incremental["case_reports"]?.count ?? 0) + 1)
            let mine = try await api.send(.get, "/v1/reports/mine", token: n.schoolStaff)
            #expect(mine.status == .ok)

            // Bad names are refused with one line and a non-zero exit.
            let unknown = try await runProcess(
                sponaExecutable,
                ["projections", "rebuild", "nonsense"],
                environment: ["SPONA_OWNER_DATABASE_URL": api.db.ownerURL]
            )
            #expect(unknown.status != 0)
            #expect(unknown.errorOutput.contains("there is no projection 'nonsense'"))
        }
    }

    @Test(
        "a projection stored by an older version is rebuilt when a server starts: its views answer 'rebuilding' meanwhile, writes go on, and the figures come back whole"
    )
    func versionChangeRebuildsOnStart() async throws {
        try await TestDatabase.withFresh(pollInterval: .milliseconds(50)) { db in
            let before = Snapshots()
            try await APIHarness.run(on: db) { api in
                let n = try await Network.make(api)
                for _ in 0..<6 { _ = try await n.fileReport() }
                try await api.eventually("the views to show the 6 reports") {
                    (try await api.send(.get, "/v1/views/cases", token: n.coordinator)["rows"] as? [Any])?.count == 6
                }
                // Every projection, not only the one the view reads: on a busy machine the
                // inboxes may still be a report behind, and the figures compared would be half-made.
                try await api.eventually("every projection caught up") {
                    let ready = try await api.send(.get, "/readyz", token: nil)
                    let lags = ready["projections"] as? [String: [String: Any]] ?? [:]
                    return lags.count == 3 && lags.values.allSatisfy { $0["eventsBehind"] as? Int == 0 }
                }
                await before.set(try await snapshot(api))
            }
            // The stored projections were built by an older version, whose fold left other figures.
            _ = try await db.owner.query("UPDATE projection_checkpoints SET version = 0", logger: db.logger)
            _ = try await db.owner.query("DELETE FROM view_municipality_month", logger: db.logger)
            _ = try await db.owner.query("DELETE FROM case_reports", logger: db.logger)

            try await APIHarness.run(on: db) { api in
                let coordinator = try await api.token(.center, .coordinator)
                var statuses = Set<String>()
                for _ in 0..<20 {
                    let view = try await api.send(.get, "/v1/views/municipalities", token: coordinator)
                    statuses.insert(view.status == .ok ? "ok" : (view["type"] as? String ?? "\(view.status.code)"))
                    if view.status == .serviceUnavailable { #expect(view.headers[.retryAfter] != nil) }
                }
                #expect(statuses.isSubset(of: ["ok", "urn:spona:problem:view-rebuilding"]), "\(statuses)")
                try await api.eventually("every projection rebuilt and ready") {
                    let ready = try await api.send(.get, "/readyz", token: nil)
                    let lags = ready["projections"] as? [String: [String: Any]] ?? [:]
                    return ready["status"] as? String == "ready" && ready["rebuilding"] == nil && lags.count == 3
                        && lags.values.allSatisfy { $0["eventsBehind"] as? Int == 0 }
                }
                let after = try await snapshot(api)
                let expected = await before.value
                let differing = after.keys.filter { after[$0] != expected[$0] }.sorted().map { table in
                    "\(table): \(Set(expected[table] ?? []).symmetricDifference(after[table] ?? []).sorted().prefix(4))"
                }
                #expect(differing.isEmpty, "the rebuild gives back the same figures; differing: \(differing)")
                let versions = try await api.db.admin.query("SELECT projection, version FROM projection_checkpoints", logger: api.db.logger)
                for try await (name, version) in versions.decode((String, Int32).self) {
                    #expect(Int(version) == ProjectionStatus.codeVersions[name], "\(name)")
                }
                // Writes went on all along and are folded too.
                #expect(try await api.send(.post, "/v1/cases", token: coordinator, json: Network.report).status == .created)
                try await api.eventually("the new report in the case list") {
                    (try await api.send(.get, "/v1/views/cases", token: coordinator)["rows"] as? [Any])?.count == 7
                }
            }
        }
    }

    actor Snapshots {
        var value: [String: [String]] = [:]
        func set(_ value: [String: [String]]) { self.value = value }
    }
}
