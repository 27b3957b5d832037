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
    @Test("pg_dump, pg_restore into a fresh cluster, spona migrate, three more reports: a reader from its old cursor, every projection and the audit see them after the old ones")
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
            try api.db.dump(to: dump)
        }
        let (cursor, storedEvents) = await before.get()

        let cluster = try TestCluster.start()
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
            let migrated = try runProcess(sponaExecutable, ["migrate"], environment: ["SPONA_OWNER_DATABASE_URL": db.ownerURL])
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
        func set(cursor: EventCursor, events: Int) {
            self.cursor = cursor
            self.events = events
        }
        func get() -> (EventCursor, Int) { (cursor, events) }
    }
}
