import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords
import Synchronization

/// A batch's case events, decoded once for all the projections that fold them: a rebuild of
/// every view hands the same batch to each, and decoding the JSON is most of a rebuild's work.
/// The rebuild (and an as-of replay) binds one to the task for each batch; without one, each
/// projection decodes for itself, as a runner of a single projection does.
final class DecodedCaseEvents: Sendable {
    @TaskLocal static var current: DecodedCaseEvents?

    private let decoded = Mutex<[Int64: (CaseEvent, Date)]>([:])

    /// The event of a case stream and when it happened (nil for other streams).
    static func decode(_ recorded: RecordedEvent) throws -> (id: CaseID, event: CaseEvent, occurredAt: Date)? {
        guard let id = Streams.caseID(of: recorded.streamID) else { return nil }
        if let cache = current, let known = cache.decoded.withLock({ $0[recorded.position] }) {
            return (id, known.0, known.1)
        }
        let (event, time) = try decodeCaseEvent(recorded)
        current?.decoded.withLock { $0[recorded.position] = (event, time) }
        return (id, event, time)
    }

    /// A case event and when it happened, from its stored form.
    private static func decodeCaseEvent(_ recorded: RecordedEvent) throws -> (CaseEvent, Date) {
        let event = try CaseEvent(
            typeName: recorded.type,
            schemaVersion: recorded.schemaVersion,
            payload: recorded.payload,
            decoder: EventCoding.decoder
        )
        return (event, EventCoding.occurredAt(of: recorded))
    }

    /// Runs `body` with `cache` (by default a fresh one) bound to the task, for one batch.
    static func sharing<Result>(_ cache: DecodedCaseEvents = DecodedCaseEvents(), _ body: () async throws -> Result) async rethrows -> Result {
        try await $current.withValue(cache) { try await body() }
    }

    /// The case events of `events` decoded ahead, while the batch before them is being
    /// written: a rebuild then keeps both the database and a core of its own busy. An event
    /// that does not decode is left out, for the fold to meet and name.
    static func decodedAhead(_ events: [RecordedEvent]) -> DecodedCaseEvents {
        var decoded: [Int64: (CaseEvent, Date)] = [:]
        decoded.reserveCapacity(events.count)
        for recorded in events where Streams.caseID(of: recorded.streamID) != nil {
            decoded[recorded.position] = try? decodeCaseEvent(recorded)
        }
        let cache = DecodedCaseEvents()
        cache.decoded.withLock { [decoded] in $0 = decoded }
        return cache
    }
}
