import Foundation
import PostgresNIO
import SponaEventStore
import SponaTestSupport
import Testing

/// Collects events from a subscription in a background task.
actor Collector {
    private(set) var events: [RecordedEvent] = []
    func add(_ event: RecordedEvent) { events.append(event) }

    /// Waits until `count` events arrived, or fails after `timeout`.
    func waitFor(_ count: Int, timeout: Duration = .seconds(30)) async throws -> [RecordedEvent] {
        let deadline = ContinuousClock.now + timeout
        while events.count < count {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out with \(events.count) of \(count) events")
                return events
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return events
    }
}

func subscribe(_ store: PostgresEventStore, after cursor: EventCursor = .start, into collector: Collector) -> Task<Void, any Error> {
    Task {
        for try await event in store.subscribe(after: cursor) {
            await collector.add(event)
        }
    }
}

/// Calls `spona_append` inside a transaction the test controls, as another writer would.
func rawAppend(_ connection: PostgresConnection, stream: String, logger: Logger) async throws -> Int64 {
    let rows = try await connection.query(
        """
        SELECT positions[1] FROM spona_append(\(stream), NULL, ARRAY[gen_random_uuid()], ARRAY['Noted'], ARRAY[1], ARRAY['{}'], '{}', NULL, NULL)
        """,
        logger: logger
    )
    for try await position in rows.decode(Int64.self) { return position }
    throw CancellationError()
}

func transactionID(_ connection: PostgresConnection, logger: Logger) async throws -> Int64 {
    let rows = try await connection.query("SELECT pg_current_xact_id()::text::bigint", logger: logger)
    for try await id in rows.decode(Int64.self) { return id }
    throw CancellationError()
}

/// Reads from the start until `count` events are readable. Tests run in parallel on one
/// cluster, and the read horizon is cluster-wide: another test's open transaction may hold
/// readers back for a moment, exactly as the design intends.
func readAllEventually(_ store: PostgresEventStore, count: Int) async throws -> [RecordedEvent] {
    let deadline = ContinuousClock.now + .seconds(30)
    while true {
        let events = try await store.readAll(after: .start, limit: 10_000)
        if events.count >= count || ContinuousClock.now > deadline { return events }
        try await Task.sleep(for: .milliseconds(20))
    }
}

@Suite("Reading in the gap-safe order")
struct ReadingTests {
    @Test("a lower position committed after a higher one is still delivered, exactly once")
    func lowerPositionCommittedLater() async throws {
        try await TestDatabase.withFresh { db in
            let collector = Collector()
            let subscription = subscribe(db.store, into: collector)
            defer { subscription.cancel() }

            try await db.app.withConnection { early in
                try await db.app.withConnection { late in
                    // `early` gets the older transaction id, `late` the lower position.
                    try await early.query("BEGIN", logger: db.logger)
                    _ = try await transactionID(early, logger: db.logger)
                    try await late.query("BEGIN", logger: db.logger)
                    _ = try await transactionID(late, logger: db.logger)
                    let lowPosition = try await rawAppend(late, stream: "case-late", logger: db.logger)
                    let highPosition = try await rawAppend(early, stream: "case-early", logger: db.logger)
                    #expect(lowPosition < highPosition)

                    try await early.query("COMMIT", logger: db.logger)
                    // The subscriber sees the higher position first: a reader that only kept
                    // "the last position I saw" would now skip the lower one for good.
                    let seen = try await collector.waitFor(1)
                    #expect(seen.map(\.position) == [highPosition])

                    try await late.query("COMMIT", logger: db.logger)
                    let all = try await collector.waitFor(2)
                    #expect(all.map(\.position) == [highPosition, lowPosition])
                }
            }
            // Nothing arrives twice.
            try await Task.sleep(for: .milliseconds(600))
            #expect(await collector.events.count == 2)
        }
    }

    @Test("an open transaction holds back readers until it ends, then everything flows in order")
    func openTransactionHoldsBackReaders() async throws {
        try await TestDatabase.withFresh { db in
            try await db.app.withConnection { open in
                try await open.query("BEGIN", logger: db.logger)
                let heldPosition = try await rawAppend(open, stream: "case-held", logger: db.logger)
                let later = try await db.store.append(to: "case-later", expected: .noStream, events: [try event()])
                #expect(later.positions[0] > heldPosition)

                // Not safe to read yet: the held transaction might still commit before it.
                #expect(try await db.store.readAll(after: .start, limit: 100).isEmpty)

                try await open.query("COMMIT", logger: db.logger)
                let all = try await readAllEventually(db.store, count: 2)
                #expect(all.map(\.position) == [heldPosition, later.positions[0]])
            }
        }
    }

    @Test("8 concurrent writers and 10,000 events: a subscriber sees every event exactly once")
    func concurrentWritersSubscriber() async throws {
        try await TestDatabase.withFresh { db in
            let collector = Collector()
            let subscription = subscribe(db.store, into: collector)
            defer { subscription.cancel() }

            let writers = 8
            let perWriter = 1250
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for n in 0..<perWriter {
                            let stream = try StreamID("case-w\(writer)-\(n / 25)")
                            try await db.store.append(to: stream, expected: .any, events: [try event()])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let total = writers * perWriter
            let seen = try await collector.waitFor(total, timeout: .seconds(60))
            #expect(seen.count == total)
            #expect(Set(seen.map(\.id)).count == total)
            #expect(seen.map(\.cursor) == seen.map(\.cursor).sorted())
            try await Task.sleep(for: .milliseconds(500))
            #expect(await collector.events.count == total)
        }
    }

    @Test("a subscription resumes after a cursor and cancelling it ends it")
    func resumeAfterCursor() async throws {
        try await TestDatabase.withFresh { db in
            for n in 0..<5 { try await db.store.append(to: try StreamID("case-\(n)"), expected: .noStream, events: [try event()]) }
            let firstTwo = try await readAllEventually(db.store, count: 5).prefix(2)
            try #require(firstTwo.count == 2)
            let cursor = try EventCursor(parsing: firstTwo[1].cursor.description)

            let collector = Collector()
            let subscription = subscribe(db.store, after: cursor, into: collector)
            let rest = try await collector.waitFor(3)
            #expect(rest.map(\.streamID.rawValue) == ["case-2", "case-3", "case-4"])
            subscription.cancel()
            _ = await subscription.result
            try await db.store.append(to: "case-after", expected: .noStream, events: [try event()])
            try await Task.sleep(for: .milliseconds(500))
            #expect(await collector.events.count == 3)
        }
    }

    @Test("cursors print and parse back, and nonsense is refused")
    func cursorText() throws {
        let cursor = EventCursor(transactionID: 812, position: 40)
        #expect(try EventCursor(parsing: cursor.description) == cursor)
        #expect(throws: EventStoreError.invalidCursor("12")) { try EventCursor(parsing: "12") }
        #expect(throws: EventStoreError.self) { try EventCursor(parsing: "a-b") }
        #expect(throws: EventStoreError.self) { try EventCursor(parsing: "1--2") }
    }

    @Test("a reader of some categories gets only their streams' events, in order, and pages on from the last one")
    func readingByCategory() async throws {
        try await TestDatabase.withFresh { db in
            for n in 1...5 {
                try await db.store.append(to: try StreamID("case-\(n)"), expected: .noStream, events: [try event("Filed")])
                try await db.store.append(to: try StreamID("access-case-\(n)"), expected: .any, events: [try event("Read"), try event("Read")])
                try await db.store.append(to: try StreamID("institution-\(n)"), expected: .noStream, events: [try event("Registered")])
            }
            // The horizon is cluster-wide: wait until every event is readable, then page.
            #expect(try await readAllEventually(db.store, count: 20).count == 20)
            var cursor = EventCursor.start
            var read: [RecordedEvent] = []
            while true {
                let page = try await db.store.readAll(after: cursor, limit: 3, categories: ["case", "institution"])
                guard let last = page.last else { break }
                read += page
                cursor = last.cursor
            }
            #expect(read.map(\.streamID.rawValue) == (1...5).flatMap { ["case-\($0)", "institution-\($0)"] })
            #expect(read.map(\.position) == read.map(\.position).sorted())
            #expect(try await db.store.backlog(after: .start, categories: ["access"]).events == 10)
            #expect(try await db.store.backlog(after: .start).events == 20)
        }
    }
}
