import Foundation
import HTTPTypes
import SponaApplication
import SponaEventStore
import SponaProjections
import SponaTestSupport
import Testing

/// A history outlives its cluster: dumped, restored into a fresh PostgreSQL whose transaction
/// counter starts far below the stored ids, and written to again, nothing is skipped,
/// reordered or flagged.
@Suite("A history restored into another cluster")
struct RestoreTests {
    @Test(
        "pg_dump, pg_restore into a fresh cluster, spona migrate, three more reports: a reader from its old cursor, every projection and the audit see them after the old ones"
    )
    func dumpAndRestore() async throws {
        let dump = FileManager.default.temporaryDirectory.appendingPathComponent("spona-dump-\(UUID().uuidString).pgdump")
        defer { try? FileManager.default.removeItem(at: dump) }
        let before = Before()

        // A history in the first cluster, sealed, with a reader that has read all of it.
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            for _ in 0..<5 { _ = try await n.fileReport() }
            let coordinator = try await api.token(.center, .coordinator)
            try await api.eventually("the case list to show the 5 reports") {
                (try await api.send(.get, "/v1/views/cases", token: coordinator)["rows"] as? [Any])?.count == 5
            }
            #expect(try await api.send(.post, "/v1/audit/seals", token: try await api.token(.center, .auditor)).status.code < 300)
            #expect(try await api.db.waitUntilReadable())
            await before.set(cursor: try await Self.readAll(api.db.store, after: .start).last!.cursor, events: try await api.db.eventCount())
            try await api.db.dump(to: dump)
        }
        let (cursor, storedEvents) = await before.get()

        let cluster = try await TestCluster.start()
        defer { cluster.stop() }
        try await TestDatabase.withRestored(dump, into: cluster) { db in
            #expect(try await db.eventCount() == storedEvents)
            let order = try await EventOrder.state(client: db.app, logger: db.logger)
            #expect(!order.trusted, "a fresh cluster's counter starts below the stored ids; the test proves nothing otherwise")

            // Before the order is carried over, nothing is written: no event can land before
            // the ones readers have passed.
            await #expect(throws: EventStoreError.orderUntrusted) {
                try await db.store.append(to: "case-untrusted", expected: .noStream, events: [EventData(type: "Probe", payload: Data("{}".utf8))])
            }

            try await APIHarness.run(on: db) { api in
                let ready = try await api.send(.get, "/readyz", token: nil)
                #expect(ready.status == .serviceUnavailable && ready["type"] as? String == "urn:spona:problem:order-untrusted", "\(ready.text)")
                try await api.expectRefused(.serviceUnavailable, detailContains: "restored or moved") {
                    try await api.send(.post, "/v1/cases", token: try await api.token(.center, .coordinator), json: Network.report)
                }
            }

            // What the operator runs after a restore.
            let migrated = try await runProcess(sponaExecutable, ["migrate"], environment: ["SPONA_OWNER_DATABASE_URL": db.ownerURL])
            #expect(migrated.status == 0 && migrated.output.contains("era 1"), "\(migrated.output) \(migrated.errorOutput)")
            #expect(try await EventOrder.state(client: db.app, logger: db.logger).trusted)

            try await APIHarness.run(on: db) { api in
                let coordinator = try await api.token(.center, .coordinator)
                for _ in 0..<3 {
                    let filed = try await api.send(.post, "/v1/cases", token: coordinator, json: Network.report)
                    #expect(filed.status == .created, "\(filed.text)")
                }
                // Every projection carries on from its restored checkpoint to the new events.
                try await api.eventually("the case list to show 5 + 3 reports") {
                    (try await api.send(.get, "/v1/views/cases", token: coordinator)["rows"] as? [Any])?.count == 8
                }
                try await api.eventually("every projection caught up") {
                    let ready = try await api.send(.get, "/readyz", token: nil)
                    return ready.status == .ok && ready["status"] as? String == "ready"
                        && ((ready["projections"] as? [String: [String: Any]]) ?? [:]).values.allSatisfy { $0["eventsBehind"] as? Int == 0 }
                }
                #expect(try await ProjectionFailures.all(client: api.db.app, logger: api.db.logger).isEmpty)
                let figures = try await api.send(.get, "/v1/views/municipalities", token: coordinator)
                let national = (figures["rows"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "national" }
                #expect(national?["reports"] as? Int == 8, "\(figures.text.prefix(400))")

                // A reader that had read everything before the dump continues from its cursor
                // and finds exactly the new events, after every old one.
                #expect(try await api.db.waitUntilReadable())
                let new = try await Self.readAll(api.db.store, after: cursor)
                #expect(new.filter { $0.type == "ReportFiled" }.count == 3)
                #expect(new.allSatisfy { $0.cursor > cursor })
                #expect(try await api.db.eventCount() == storedEvents + new.count)

                // The views rebuilt from the restored history equal the ones carried on.
                let carried = try await RebuildTests().snapshot(api)
                let rebuild = try await runProcess(
                    sponaExecutable,
                    ["projections", "rebuild", "--all"],
                    environment: ["SPONA_OWNER_DATABASE_URL": api.db.ownerURL, "DATABASE_URL": api.db.appURL]
                )
                #expect(rebuild.status == 0, "\(rebuild.output)\(rebuild.errorOutput)")
                #expect(try await RebuildTests().snapshot(api) == carried)

                // The audit: every chain and seal intact, a new seal extends the old ones.
                let auditor = try await api.token(.center, .auditor)
                #expect(try await api.send(.post, "/v1/audit/seals", token: auditor).status.code < 300)
                let verified = try await api.send(.get, "/v1/audit/verify", token: auditor)
                #expect(verified["intact"] as? Bool == true, "\(verified.text)")
                #expect((verified["findings"] as? [Any])?.isEmpty == true, "\(verified.text)")
                #expect((verified["sealsChecked"] as? Int ?? 0) >= 2, "\(verified.text)")
            }
        }
    }

    @Test(
        "point-in-time recovery: a base backup, more events, recovery to a moment between; the history verifies, a later published seal reads as a rollback, new reports are served"
    )
    func pointInTimeRecovery() async throws {
        let archive = URL(fileURLWithPath: "/tmp/spona-wal-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        try await TestCluster.handOver(archive)
        defer { try? FileManager.default.removeItem(at: archive) }
        let backup = URL(fileURLWithPath: "/tmp/spona-base-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: backup) }
        let published = FileManager.default.temporaryDirectory.appendingPathComponent("spona-seals-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: published) }

        let primary = try await TestCluster.start(settings: [
            "wal_level = replica", "archive_mode = on", "archive_command = 'cp %p \(archive.path)/%f'",
        ])
        defer { primary.stop() }
        let moment = Before()
        let state = Recorded()
        try await TestDatabase.withFresh(in: primary) { db in
            try await APIHarness.run(on: db) { api in
                let n = try await Network.make(api)
                for _ in 0..<3 { _ = try await n.fileReport() }
                let auditor = try await api.token(.center, .auditor)
                #expect(try await api.db.waitUntilReadable())
                #expect(try await api.send(.post, "/v1/audit/seals", token: auditor).status.code < 300)
                try await primary.baseBackup(to: backup)

                // Two more reports, then the moment to recover to, then two that will be lost,
                // and a seal over them that an auditor keeps.
                for _ in 0..<2 { _ = try await n.fileReport() }
                #expect(try await api.db.waitUntilReadable())
                let kept = try await api.db.eventCount()
                try await Task.sleep(for: .milliseconds(300))
                let rows = try await api.db.admin.query("SELECT clock_timestamp()::text", logger: api.db.logger)
                for try await time in rows.decode(String.self) { await moment.set(time: time) }
                try await Task.sleep(for: .milliseconds(300))
                for _ in 0..<2 { _ = try await n.fileReport() }
                #expect(try await api.db.waitUntilReadable())
                #expect(try await api.send(.post, "/v1/audit/seals", token: auditor).status.code < 300)
                let seals = try await api.send(.get, "/v1/audit/seals", token: auditor)
                try seals.body.write(to: published)
                await state.set(name: api.db.name, kept: kept, publicKey: seals["publicKey"] as? String ?? "")
                // Everything up to now goes to the archive.
                var segment = ""
                for try await name in try await api.db.admin.query("SELECT pg_walfile_name(pg_switch_wal())", logger: api.db.logger).decode(
                    String.self
                ) {
                    segment = name
                }
                let switched = segment
                try await api.eventually("the WAL segment \(switched) to be archived") {
                    let rows = try await api.db.admin.query("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver", logger: api.db.logger)
                    for try await last in rows.decode(String.self) { return last >= switched }
                    return false
                }
            }
        }
        let (time, name, kept, publicKey) = (await moment.time, await state.name, await state.kept, await state.publicKey)

        let recovered = try await primary.recover(from: backup, archive: archive, until: time)
        defer { recovered.stop() }
        try await TestDatabase.withExisting(name, in: recovered) { db in
            try await db.waitForPromotion()
            #expect(try await db.eventCount() == kept, "recovered to the moment: the two reports after it are gone")
            let migrated = try await runProcess(sponaExecutable, ["migrate"], environment: ["SPONA_OWNER_DATABASE_URL": db.ownerURL])
            #expect(migrated.status == 0, "\(migrated.errorOutput)")
            let verified = try await runProcess(
                sponaExecutable,
                ["audit", "verify", "--public-key", publicKey, "--published-seals", published.path],
                environment: ["DATABASE_URL": db.appURL]
            )
            #expect(verified.status == 0, "\(verified.output) \(verified.errorOutput)")
            #expect(verified.output.contains("rolled back to seal 1"), "\(verified.output)")
            #expect(verified.output.contains("1 of 2 published seals match"), "\(verified.output)")

            try await APIHarness.run(on: db) { api in
                let coordinator = try await api.token(.center, .coordinator)
                let filed = try await api.send(.post, "/v1/cases", token: coordinator, json: Network.report)
                #expect(filed.status == .created, "\(filed.text)")
                try await api.eventually("the case list to show the 5 kept reports and the new one") {
                    (try await api.send(.get, "/v1/views/cases", token: coordinator)["rows"] as? [Any])?.count == 6
                }
                let audit = try await api.send(.get, "/v1/audit/verify", token: try await api.token(.center, .auditor))
                #expect(audit["intact"] as? Bool == true, "\(audit.text)")
            }
        }
    }

    actor Recorded {
        var name = "", kept = 0, publicKey = ""
        func set(name: String, kept: Int, publicKey: String) {
            self.name = name
            self.kept = kept
            self.publicKey = publicKey
        }
    }

    static func readAll(_ store: PostgresEventStore, after start: EventCursor) async throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        var cursor = start
        while true {
            let page = try await store.readAll(after: cursor, limit: 1000)
            guard let last = page.last else { return events }
            events += page
            cursor = last.cursor
        }
    }

    actor Before {
        var cursor = EventCursor.start
        var events = 0
        var time = ""
        func set(time: String) { self.time = time }
        func set(cursor: EventCursor, events: Int) {
            self.cursor = cursor
            self.events = events
        }
        func get() -> (EventCursor, Int) { (cursor, events) }
    }
}
