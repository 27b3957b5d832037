import Foundation
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaRecords
import SponaTestSupport
import Testing

/// No stored event can stop the server: a projection that cannot apply one stands still at
/// it, says so everywhere an operator looks, and goes on when an operator skips it; the
/// other projections and the API carry on meanwhile.
@Suite("Containment of events no reader can apply")
struct ContainmentTests {
    /// Waits up to `seconds` for `condition`.
    func waitFor(_ what: String, seconds: Int = 30, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// A training written before today's bounds existed: the store takes it (it knows no
    /// domain), as an old version of Spona did.
    func appendPoisonedTraining(_ api: APIHarness) async throws -> UUID {
        let id = UUID()
        let payload =
            #"{"date": "2026-02-30", "host": "zrenjanin", "participants": 2147483648, "women": 0, "men": 0, "participantsBySector": {}, "municipalities": [], "institutions": [], "id": "\#(id.uuidString.lowercased())"}"#
        _ = try await api.db.store.append(
            to: Streams.training(TrainingID(rawValue: id)),
            expected: .noStream,
            events: [EventData(type: TrainingHeld.typeName, schemaVersion: 1, payload: Data(payload.utf8))]
        )
        let stored = try await api.db.store.readStream(Streams.training(TrainingID(rawValue: id)))
        return try #require(stored.first?.id)
    }

    func failures(_ api: APIHarness) async throws -> [String: ProjectionFailure] {
        try await ProjectionFailures.all(client: api.db.admin, logger: api.db.logger)
    }

    /// Waits for case_statistics to stop, and answers where.
    func statisticsStopped(_ api: APIHarness) async throws -> ProjectionFailure {
        try await waitFor("case_statistics to stop at the poisoned event") { try await failures(api)["case_statistics"] != nil }
        return try #require(try await failures(api)["case_statistics"])
    }

    @Test("a poisoned event stops only its projection, is named in status, readiness and metrics, and a recorded skip lets it go on")
    func poisonedEventIsContained() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            _ = try await n.fileReport()
            let poisoned = try await appendPoisonedTraining(api)
            _ = try await n.fileReport()

            let failure = try await statisticsStopped(api)
            #expect(failure.eventID == poisoned)
            #expect(failure.type == "TrainingHeld")
            #expect(failure.error.contains("date"), "\(failure.error)")
            #expect(try await failures(api).count == 1, "only the projection that folds trainings stops")

            // The other projections and the API carry on.
            try await waitFor("case_work to apply both reports") {
                let mine = try await api.send(.get, "/v1/reports/mine", token: n.schoolStaff)
                return (mine["reports"] as? [Any])?.count == 2
            }
            let ready = try await api.send(.get, "/readyz", token: nil)
            #expect(ready.status == .ok)
            #expect(ready["status"] as? String == "degraded")
            #expect(ready.text.lowercased().contains(poisoned.uuidString.lowercased()), "\(ready.text)")
            let metrics = try await api.send(.get, "/metrics", token: nil)
            #expect(metrics.text.contains(#"spona_projection_stopped{projection="case_statistics"} 1"#), "\(metrics.text)")
            // Its views can only be wrong now, and say so.
            let view = try await api.send(.get, "/v1/views/municipalities", token: n.coordinator)
            #expect(view.status == .serviceUnavailable)
            #expect(view["type"] as? String == "urn:spona:problem:view-stopped")

            let environment = ["DATABASE_URL": api.db.appURL, "SPONA_OWNER_DATABASE_URL": api.db.ownerURL]
            let status = try await runProcess(sponaExecutable, ["projections", "status"], environment: environment)
            #expect(status.status == 3, "\(status.output)\(status.errorOutput)")
            #expect(status.output.lowercased().contains("case_statistics stopped at event \(poisoned.uuidString.lowercased())"), "\(status.output)")

            let wrongEvent = try await runProcess(
                sponaExecutable,
                ["projections", "skip", "case_statistics", UUID().uuidString, "--reason", "x"],
                environment: environment
            )
            #expect(wrongEvent.status != 0)
            #expect(wrongEvent.errorOutput.contains("has not stopped at event"), "\(wrongEvent.errorOutput)")

            let skip = try await runProcess(
                sponaExecutable,
                ["projections", "skip", "case_statistics", poisoned.uuidString, "--reason", "ticket 42: a training no day had"],
                environment: environment
            )
            #expect(skip.status == 0, "\(skip.output)\(skip.errorOutput)")
            try await waitFor("case_statistics to go on past the skipped event and count both reports") {
                guard try await failures(api).isEmpty else { return false }
                let view = try await api.send(.get, "/v1/views/municipalities?municipality=prokuplje", token: n.coordinator)
                return view.status == .ok && view.text.contains(#""reports":2"#)
            }

            // The skip is a fact of the history, with its reason.
            let skips = try await api.db.store.readStream(ProjectionEventSkipped.stream)
            #expect(skips.count == 1)
            let recorded = try JSONDecoder().decode(ProjectionEventSkipped.self, from: try #require(skips.first).payload)
            #expect(recorded.eventID == poisoned)
            #expect(recorded.reason == "ticket 42: a training no day had")

            // A rebuild leaves the same event out, and does not stop on it.
            let rebuild = try await runProcess(sponaExecutable, ["projections", "rebuild", "case_statistics"], environment: environment)
            #expect(rebuild.status == 0, "\(rebuild.output)\(rebuild.errorOutput)")
        }
    }

    @Test("a report stored before places were bounded is named, not folded into hundreds of place flows")
    func storedReportBeyondTodaysBounds() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, _) = try await n.fileReport()
            // The report as stored, with 30 places recruited from and 30 exploited in: what an
            // older version accepted.
            let filed = try #require(try await api.db.store.readStream(try StreamID("case-" + path.split(separator: "/").last!)).first)
            var payload = try #require(try JSONSerialization.jsonObject(with: filed.payload) as? [String: Any])
            let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ").map(String.init)
            var places: [[String: String]] = []
            for i in 0..<30 {
                places.append(["role": "recruitment", "country": "Q\(letters[i % 26])\(i)"])
                places.append(["role": "exploitation", "country": "X\(letters[i % 26])\(i)"])
            }
            payload["locations"] = places
            let id = CaseID(rawValue: UUID())
            payload["caseID"] = id.rawValue.uuidString
            _ = try await api.db.store.append(
                to: Streams.case(id),
                expected: .noStream,
                events: [
                    EventData(type: filed.type, schemaVersion: filed.schemaVersion, payload: try JSONSerialization.data(withJSONObject: payload))
                ]
            )
            let failure = try await statisticsStopped(api)
            #expect(failure.type == "ReportFiled")
            #expect(failure.stream == Streams.case(id).rawValue)
            #expect(failure.error.contains("locations"), "\(failure.error)")
            let rows = try await api.db.admin.query("SELECT count(*)::int FROM view_place_flows", logger: api.db.logger)
            for try await count in rows.decode(Int.self) { #expect(count < 10, "the stored report's 900 flows were not folded") }
        }
    }

    @Test("a rebuild that meets an event it cannot apply names it and swaps nothing in")
    func rebuildNamesThePoisonedEvent() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            _ = try await n.fileReport()
            let poisoned = try await appendPoisonedTraining(api)
            // Once the running projection met it, the event is below every reader's horizon.
            #expect(try await statisticsStopped(api).eventID == poisoned)
            let environment = ["DATABASE_URL": api.db.appURL, "SPONA_OWNER_DATABASE_URL": api.db.ownerURL]
            let rebuild = try await runProcess(sponaExecutable, ["projections", "rebuild", "case_statistics"], environment: environment)
            #expect(rebuild.status != 0)
            #expect(rebuild.errorOutput.lowercased().contains(poisoned.uuidString.lowercased()), "\(rebuild.errorOutput)")
        }
    }

    @Test("runners are elected again after the server's connections are terminated, and catch up")
    func reelectedAfterTerminatedConnections() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            _ = try await n.fileReport()
            // (Not too short: a test elsewhere in the cluster may hold the read horizon for seconds.)
            try await waitFor("the first report in the views", seconds: 30) {
                (try await api.send(.get, "/v1/reports/mine", token: n.schoolStaff)["reports"] as? [Any])?.count == 1
            }
            for _ in 0..<3 {
                // Every connection of the application's login, as a database administrator or
                // a failover would end them.
                let login = URLComponents(string: api.db.appURL)?.user ?? "spona_app"
                let terminated = try await api.db.admin.query(
                    """
                    SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
                    WHERE datname = \(api.db.name) AND usename = \(login) AND pid <> pg_backend_pid()
                    """,
                    logger: api.db.logger
                )
                for try await _ in terminated {}
                try await Task.sleep(for: .milliseconds(300))
            }
            for _ in 0..<3 { _ = try await n.fileReport() }
            try await waitFor("the runners to be elected again and catch up") {
                (try await api.send(.get, "/v1/reports/mine", token: n.schoolStaff)["reports"] as? [Any])?.count == 4
            }
            // Exactly one runner per projection holds its lock again, within seconds (a runner
            // whose session was ended finds out by its heartbeat).
            var held = 0
            try await waitFor("each of the three projections to have one runner again") {
                let rows = try await api.db.admin.query(
                    """
                    SELECT count(*)::int FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE l.locktype = 'advisory' AND l.classid::bigint = \(Int64(0x5350_5052)) AND a.datname = \(api.db.name) AND l.granted
                    """,
                    logger: api.db.logger
                )
                for try await count in rows.decode(Int.self) { held = count }
                return held == 3
            }
            #expect(held == 3, "each of the three projections has one runner")
        }
    }
}
