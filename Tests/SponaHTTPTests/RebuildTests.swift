import Foundation
import PostgresNIO
import SponaTestSupport
import Testing

@Suite("Rebuilding projections")
struct RebuildTests {
    /// Every row of every projection table, as text, sorted.
    func snapshot(_ api: APIHarness) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for table in ["institutions", "open_work", "case_reports", "stat_cases", "stat_institutions", "view_municipality_month", "view_sector_month"] {
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
            try await api.db.admin.query("DELETE FROM case_reports WHERE case_id IN (SELECT case_id FROM case_reports LIMIT 3)", logger: api.db.logger)
            #expect(try await snapshot(api) != incremental)

            let rebuild = try runProcess(sponaExecutable, ["projections", "rebuild", "--all"],
                                         environment: ["SPONA_OWNER_DATABASE_URL": api.db.ownerURL, "DATABASE_URL": api.db.appURL])
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
            let unknown = try runProcess(sponaExecutable, ["projections", "rebuild", "nonsense"],
                                         environment: ["SPONA_OWNER_DATABASE_URL": api.db.ownerURL])
            #expect(unknown.status != 0)
            #expect(unknown.errorOutput.contains("there is no projection 'nonsense'"))
        }
    }
}
