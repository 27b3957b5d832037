import Foundation
import PostgresNIO
import SponaEventStore
import SponaTestSupport
import Testing

/// Appends one event to a new `stream`, resting on `conditions`.
@discardableResult
func append(
    _ db: TestDatabase,
    to stream: StreamID,
    restingOn conditions: [StreamCondition],
    idempotencyKey: String? = nil
) async throws -> AppendResult {
    try await db.store.append(
        to: stream,
        expected: .noStream,
        events: [try event()],
        metadata: .empty,
        idempotencyKey: idempotencyKey,
        requestFingerprint: idempotencyKey.map { Data($0.utf8) },
        unchanged: conditions
    )
}

@Suite("Appends that rest on other streams")
struct ConditionTests {
    @Test("an append whose other streams are where the writer read them is written")
    func unchangedStreamsPass() async throws {
        try await TestDatabase.withFresh { db in
            let institution: StreamID = "institution-a"
            try await db.store.append(to: institution, expected: .noStream, events: [try event("Registered")])
            let result = try await append(
                db,
                to: "case-1",
                restingOn: [StreamCondition(institution, at: 1), StreamCondition("institution-never-written", at: 0)]
            )
            #expect(result.streamVersion == 1)
            #expect(try await db.eventCount() == 2)
        }
    }

    @Test("a stream that moved since it was read: nothing is written, and the error names it and both versions")
    func movedStreamRefuses() async throws {
        try await TestDatabase.withFresh { db in
            let institution: StreamID = "institution-b"
            try await db.store.append(to: institution, expected: .noStream, events: [try event("Registered")])
            try await db.store.append(to: institution, expected: .exactly(1), events: [try event("Deactivated")])
            let error = await #expect(throws: EventStoreError.self) {
                try await append(db, to: "case-2", restingOn: [StreamCondition(institution, at: 1)])
            }
            #expect(error == .conditionFailed(stream: institution, expected: 1, actual: 2))
            #expect(error?.description.contains("institution-b") == true)
            #expect(try await db.store.readStream("case-2").isEmpty)

            // A stream that had no events when read, and has one now.
            await #expect(throws: EventStoreError.conditionFailed(stream: institution, expected: 0, actual: 2)) {
                try await append(db, to: "case-2", restingOn: [StreamCondition(institution, at: 0)])
            }
            #expect(try await db.eventCount() == 2)
        }
    }

    @Test("a retry answers with the first result even when a stream it rested on has moved since")
    func retryAnswersFirstResult() async throws {
        try await TestDatabase.withFresh { db in
            let institution: StreamID = "institution-c"
            try await db.store.append(to: institution, expected: .noStream, events: [try event("Registered")])
            func file() async throws -> AppendResult {
                try await append(db, to: "case-3", restingOn: [StreamCondition(institution, at: 1)], idempotencyKey: "key-3")
            }
            let first = try await file()
            try await db.store.append(to: institution, expected: .exactly(1), events: [try event("Updated")])
            let retry = try await file()
            #expect(retry.wasDuplicate)
            #expect(retry.positions == first.positions)
        }
    }

    @Test("an append to a stream another append rests on waits for it and is then seen: no decision is written on a stale copy")
    func appendInFlightIsWaitedFor() async throws {
        try await TestDatabase.withFresh { db in
            let institution: StreamID = "institution-d"
            try await db.store.append(to: institution, expected: .noStream, events: [try event("Registered")])
            try await db.app.withConnection { other in
                // Another writer deactivates the institution and has not committed yet.
                try await other.query("BEGIN", logger: db.logger)
                _ = try await rawAppend(other, stream: institution.rawValue, logger: db.logger)
                let dependent = Task {
                    try await append(db, to: "case-4", restingOn: [StreamCondition(institution, at: 1)])
                }
                try await Task.sleep(for: .milliseconds(300))
                try await other.query("COMMIT", logger: db.logger)
                await #expect(throws: EventStoreError.conditionFailed(stream: institution, expected: 1, actual: 2)) {
                    try await dependent.value
                }
            }
            #expect(try await db.store.readStream("case-4").isEmpty)
        }
    }

    @Test("more conditions than the store allows are refused before anything is sent")
    func tooManyConditions() async throws {
        try await TestDatabase.withFresh { db in
            var conditions: [StreamCondition] = []
            for number in 0...StreamCondition.maximumPerAppend {
                conditions.append(StreamCondition(try StreamID("institution-\(number)"), at: 0))
            }
            await #expect(throws: EventStoreError.tooManyConditions) {
                try await append(db, to: "case-5", restingOn: conditions)
            }
            #expect(try await db.eventCount() == 0)
        }
    }
}
