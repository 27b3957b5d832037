import Foundation

/// The append-only event store, as the rest of Spona sees it.
///
/// Generic on purpose: it knows streams, versions, positions and JSON, never cases or
/// referrals. The application layer and the projections depend on this protocol; the
/// PostgreSQL implementation is ``PostgresEventStore``.
public protocol EventStore: Sendable {
    /// Appends `events` to `stream` if its version is what `expected` says, atomically.
    ///
    /// With an `idempotencyKey`, a retry of the same request writes nothing and returns the
    /// first result with ``AppendResult/wasDuplicate`` set; the same key with another request
    /// fails with ``EventStoreError/idempotencyKeyReused(key:)``. "The same request" is what
    /// `requestFingerprint` says (the application hashes the command, whose retry may produce
    /// events with fresh ids), or else the same stream, expectation, and events' types and
    /// payloads.
    ///
    /// `unchanged` names the other streams the writer's decision was read from, with the
    /// versions it read: if one has moved when the append runs, nothing is written and the
    /// append fails with ``EventStoreError/conditionFailed(stream:expected:actual:)``, so that
    /// the writer decides again. An append in flight to such a stream is waited for, and one
    /// that starts later is ordered after this one: a writer may keep those streams in memory
    /// and never write a decision taken on a stale copy.
    @discardableResult
    func append(
        to stream: StreamID,
        expected: ExpectedVersion,
        events: [EventData],
        metadata: EventMetadata,
        idempotencyKey: String?,
        requestFingerprint: Data?,
        unchanged: [StreamCondition]
    ) async throws -> AppendResult

    /// Events of one stream with version ≥ `version`, oldest first, at most `limit`.
    func readStream(_ stream: StreamID, fromVersion version: Int64, limit: Int) async throws -> [RecordedEvent]

    /// Every event of several streams, each stream oldest first: for folding a few small
    /// streams (the institutions a command names) in one round trip.
    func readStreams(_ streams: [StreamID]) async throws -> [RecordedEvent]

    /// What an earlier append with this idempotency key did, if there was one: lets a caller
    /// answer a retried command before deciding it again.
    func previousAppend(idempotencyKey: String) async throws -> PreviousAppend?

    /// The last `limit` events of one stream, newest first.
    func readStreamBackward(_ stream: StreamID, limit: Int) async throws -> [RecordedEvent]

    /// Events after `cursor` in the gap-safe order, at most `limit`. An empty answer means
    /// "nothing more that is safe to read now", not "nothing will ever come".
    func readAll(after cursor: EventCursor, limit: Int) async throws -> [RecordedEvent]

    /// Every event after `cursor`, then every new one as it is committed, each exactly once
    /// and in the gap-safe order. Ends when the consuming task is cancelled.
    func subscribe(after cursor: EventCursor) -> EventSubscription
}

extension EventStore {
    @discardableResult
    public func append(
        to stream: StreamID,
        expected: ExpectedVersion,
        events: [EventData],
        metadata: EventMetadata,
        idempotencyKey: String?,
        requestFingerprint: Data?
    ) async throws -> AppendResult {
        try await append(
            to: stream,
            expected: expected,
            events: events,
            metadata: metadata,
            idempotencyKey: idempotencyKey,
            requestFingerprint: requestFingerprint,
            unchanged: []
        )
    }

    @discardableResult
    public func append(
        to stream: StreamID,
        expected: ExpectedVersion,
        events: [EventData],
        metadata: EventMetadata,
        idempotencyKey: String?
    ) async throws -> AppendResult {
        try await append(to: stream, expected: expected, events: events, metadata: metadata, idempotencyKey: idempotencyKey, requestFingerprint: nil)
    }

    @discardableResult
    public func append(
        to stream: StreamID,
        expected: ExpectedVersion,
        events: [EventData],
        metadata: EventMetadata = .empty
    ) async throws -> AppendResult {
        try await append(to: stream, expected: expected, events: events, metadata: metadata, idempotencyKey: nil)
    }

    /// The whole stream, oldest first.
    public func readStream(_ stream: StreamID) async throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        var next: Int64 = 1
        while true {
            let page = try await readStream(stream, fromVersion: next, limit: 1000)
            events += page
            guard page.count == 1000, let last = page.last else { return events }
            next = last.version + 1
        }
    }
}
