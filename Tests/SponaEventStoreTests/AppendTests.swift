import Foundation
import PostgresNIO
import SponaEventStore
import SponaTestSupport
import Testing

func event(_ type: String = "Noted", _ fields: [String: String] = [:]) throws -> EventData {
    try EventData(type: type, encoding: fields)
}

@Suite("Appending events")
struct AppendTests {
    @Test("a new stream starts at version 1 and versions follow one another")
    func versionsFollow() async throws {
        try await TestDatabase.withFresh { db in
            let stream: StreamID = "case-1"
            let first = try await db.store.append(to: stream, expected: .noStream, events: [try event()])
            #expect(first.streamVersion == 1)
            let next = try await db.store.append(to: stream, expected: .exactly(1), events: [try event(), try event(), try event()])
            #expect(next.streamVersion == 4)
            #expect(next.positions.count == 3)
            #expect(next.positions == next.positions.sorted())
            let read = try await db.store.readStream(stream)
            #expect(read.map(\.version) == [1, 2, 3, 4])
            let backward = try await db.store.readStreamBackward(stream, limit: 2)
            #expect(backward.map(\.version) == [4, 3])
        }
    }

    @Test("a stale expected version writes nothing and names both versions")
    func staleVersion() async throws {
        try await TestDatabase.withFresh { db in
            let stream: StreamID = "case-2"
            try await db.store.append(to: stream, expected: .noStream, events: [try event(), try event()])
            let error = await #expect(throws: EventStoreError.self) {
                try await db.store.append(to: stream, expected: .exactly(1), events: [try event()])
            }
            #expect(error == .versionConflict(stream: stream, expected: .exactly(1), actual: 2))
            #expect(error?.description.contains("version 2") == true)
            #expect(error?.description.contains("expected version 1") == true)

            await #expect(throws: EventStoreError.versionConflict(stream: stream, expected: .noStream, actual: 2)) {
                try await db.store.append(to: stream, expected: .noStream, events: [try event()])
            }
            #expect(try await db.eventCount() == 2)
        }
    }

    @Test("32 concurrent writers with the same expected version: one wins each round, the others conflict")
    func concurrentWritersOneStream() async throws {
        try await TestDatabase.withFresh { db in
            let stream: StreamID = "case-contended"
            try await db.store.append(to: stream, expected: .noStream, events: [try event()])
            let rounds = 10
            for round in 1...rounds {
                let expected = Int64(round)
                let outcomes = try await withThrowingTaskGroup(of: Result<AppendResult, EventStoreError>.self) { group in
                    for writer in 0..<32 {
                        group.addTask {
                            do {
                                return .success(
                                    try await db.store.append(
                                        to: stream,
                                        expected: .exactly(expected),
                                        events: [try event("Written", ["writer": "\(writer)"])]
                                    )
                                )
                            } catch let error as EventStoreError {
                                return .failure(error)
                            }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let winners = outcomes.compactMap { try? $0.get() }
                #expect(winners.count == 1, "round \(round)")
                #expect(winners.first?.streamVersion == expected + 1)
                for case .failure(let error) in outcomes {
                    #expect(error == .versionConflict(stream: stream, expected: .exactly(expected), actual: expected + 1))
                }
            }
            let events = try await db.store.readStream(stream)
            #expect(events.map(\.version) == Array(1...Int64(rounds + 1)))
            #expect(try await db.eventCount() == rounds + 1)
        }
    }

    @Test("concurrent writers that reload on conflict write every version exactly once")
    func concurrentWritersRetrying() async throws {
        try await TestDatabase.withFresh { db in
            let stream: StreamID = "case-busy"
            let writers = 32
            let eventsEach = 5
            let conflicts = try await withThrowingTaskGroup(of: Int.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var conflicts = 0
                        var written = 0
                        while written < eventsEach {
                            let current = try await db.store.readStreamBackward(stream, limit: 1).first?.version ?? 0
                            do {
                                try await db.store.append(
                                    to: stream,
                                    expected: current == 0 ? .noStream : .exactly(current),
                                    events: [try event("Written", ["writer": "\(writer)", "n": "\(written)"])]
                                )
                                written += 1
                            } catch EventStoreError.versionConflict(_, let expected, let actual) {
                                #expect(expected != .exactly(actual))
                                conflicts += 1
                            }
                        }
                        return conflicts
                    }
                }
                return try await group.reduce(0, +)
            }
            let events = try await db.store.readStream(stream)
            #expect(events.map(\.version) == Array(1...Int64(writers * eventsEach)))
            var perWriter: [String: Int] = [:]
            for event in events {
                let fields = try event.decodePayload(as: [String: String].self)
                perWriter[fields["writer"]!, default: 0] += 1
            }
            #expect(perWriter.count == writers)
            #expect(perWriter.values.allSatisfy { $0 == eventsEach })
            #expect(conflicts > 0, "the test should have provoked conflicts")
        }
    }

    @Test("expected version 'any' appends after whatever is there, also concurrently")
    func anyVersion() async throws {
        try await TestDatabase.withFresh { db in
            let stream: StreamID = "system-access"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await db.store.append(to: stream, expected: .any, events: [try event()]) }
                }
                try await group.waitForAll()
            }
            #expect(try await db.store.readStream(stream).map(\.version) == Array(1...16))
        }
    }

    @Test("bad input is refused before anything is written")
    func badInput() async throws {
        try await TestDatabase.withFresh { db throws in
            await #expect(throws: EventStoreError.noEvents) {
                try await db.store.append(to: "case-x", expected: .any, events: [])
            }
            await #expect(throws: EventStoreError.invalidJSON(what: "payload or metadata")) {
                try await db.store.append(to: "case-x", expected: .any, events: [EventData(type: "Noted", payload: Data("{nope".utf8))])
            }
            await #expect(throws: EventStoreError.invalidJSON(what: "metadata (it must be a JSON object), or an event")) {
                try await db.store.append(to: "case-x", expected: .any, events: [try event()], metadata: EventMetadata(json: Data("[1]".utf8)))
            }
            await #expect(throws: EventStoreError.invalidEventType("")) {
                try await db.store.append(to: "case-x", expected: .any, events: [EventData(type: "", payload: Data("{}".utf8))])
            }
            #expect(try await db.eventCount() == 0)
        }
    }

    @Test("stream ids are 1 to 200 bytes")
    func streamIDs() throws {
        let empty = String()
        #expect(throws: EventStoreError.invalidStreamID("")) { try StreamID(empty) }
        let long = String(repeating: "ž", count: 101)
        #expect(throws: EventStoreError.invalidStreamID(long)) { try StreamID(long) }
        #expect(try StreamID("case-\(UUID())").category == "case")
    }
}

@Suite("Idempotent appends")
struct IdempotencyTests {
    @Test("a retry with the same key writes nothing and returns the first result")
    func retryReturnsFirstResult() async throws {
        try await TestDatabase.withFresh { db in
            let stream: StreamID = "case-idem"
            let events = [try event("ReportFiled", ["municipality": "70106"]), try event("Noted")]
            let first = try await db.store.append(to: stream, expected: .noStream, events: events, metadata: .empty, idempotencyKey: "req-1")
            #expect(!first.wasDuplicate)

            // A client's retry: new event ids, same content, the same (now stale) expectation.
            let retried = events.map { EventData(type: $0.type, schemaVersion: $0.schemaVersion, payload: $0.payload) }
            let second = try await db.store.append(to: stream, expected: .noStream, events: retried, metadata: .empty, idempotencyKey: "req-1")
            #expect(second.wasDuplicate)
            #expect(second.positions == first.positions)
            #expect(second.streamVersion == first.streamVersion)
            #expect(second.recordedAtMicroseconds == first.recordedAtMicroseconds)
            #expect(try await db.eventCount() == 2)
        }
    }

    @Test("the same key with a different request is refused")
    func keyReuse() async throws {
        try await TestDatabase.withFresh { db in
            try await db.store.append(to: "case-a", expected: .noStream, events: [try event("A")], metadata: .empty, idempotencyKey: "k")
            await #expect(throws: EventStoreError.idempotencyKeyReused(key: "k")) {
                try await db.store.append(to: "case-a", expected: .exactly(1), events: [try event("B")], metadata: .empty, idempotencyKey: "k")
            }
            await #expect(throws: EventStoreError.idempotencyKeyReused(key: "k")) {
                try await db.store.append(to: "case-b", expected: .noStream, events: [try event("A")], metadata: .empty, idempotencyKey: "k")
            }
            #expect(try await db.eventCount() == 1)
        }
    }

    @Test("concurrent retries of one request write it once")
    func concurrentRetries() async throws {
        try await TestDatabase.withFresh { db in
            let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await db.store.append(
                            to: "case-r",
                            expected: .noStream,
                            events: [try event("ReportFiled")],
                            metadata: .empty,
                            idempotencyKey: "same"
                        )
                    }
                }
                return try await group.reduce(into: [AppendResult]()) { $0.append($1) }
            }
            #expect(results.filter { !$0.wasDuplicate }.count == 1)
            #expect(Set(results.map(\.positions)).count == 1)
            #expect(try await db.eventCount() == 1)
        }
    }
}
