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
        let event = try CaseEvent(
            typeName: recorded.type,
            schemaVersion: recorded.schemaVersion,
            payload: recorded.payload,
            decoder: EventCoding.decoder
        )
        let time = EventCoding.occurredAt(of: recorded)
        current?.decoded.withLock { $0[recorded.position] = (event, time) }
        return (id, event, time)
    }

    /// Runs `body` with a fresh cache bound to the task, for one batch.
    static func sharing<Result>(_ body: () async throws -> Result) async rethrows -> Result {
        try await $current.withValue(DecodedCaseEvents()) { try await body() }
    }
}
