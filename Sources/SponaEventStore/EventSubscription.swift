import Logging
import PostgresNIO

/// Every event after a cursor, then every new one as it commits: exactly once each, in the
/// store's gap-safe order.
///
/// Pull-based: events are read in batches only as the consumer asks for them, so a slow
/// consumer holds one batch in memory, never a backlog. While it waits for new events a
/// background task LISTENs on one pooled connection and polls on a timer (notifications can be
/// lost, for instance while a connection is replaced); both only wake the reader, which always
/// reads from its own cursor. Cancelling the consuming task, or dropping the iterator, ends the
/// background task and so releases its connection.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = RecordedEvent

    let store: PostgresEventStore
    let start: EventCursor
    let pollInterval: Duration
    let batchSize: Int

    init(store: PostgresEventStore, after start: EventCursor, pollInterval: Duration, batchSize: Int = 500) {
        self.store = store
        self.start = start
        self.pollInterval = pollInterval
        self.batchSize = batchSize
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(state: State(subscription: self))
    }

    /// The same events, a batch at a time as they are read: for consumers that apply events
    /// in transactions of many (projections).
    public func batches() -> BatchIterator {
        BatchIterator(state: State(subscription: self))
    }

    public struct BatchIterator {
        let state: State

        /// The next non-empty batch, waiting for new events if need be; nil when cancelled.
        public mutating func next() async throws -> [RecordedEvent]? {
            try await state.nextBatch()
        }
    }

    public struct Iterator: AsyncIteratorProtocol {
        let state: State

        public mutating func next() async throws -> RecordedEvent? {
            try await state.next()
        }
    }

    final class State {
        private let subscription: EventSubscription
        private var cursor: EventCursor
        private var buffer: [RecordedEvent] = []
        private var bufferIndex = 0
        private var wakeups: AsyncStream<Void>.Iterator?
        private var waker: Task<Void, Never>?

        init(subscription: EventSubscription) {
            self.subscription = subscription
            self.cursor = subscription.start
        }

        deinit { waker?.cancel() }

        func next() async throws -> RecordedEvent? {
            while true {
                if bufferIndex < buffer.count {
                    let event = buffer[bufferIndex]
                    bufferIndex += 1
                    cursor = event.cursor
                    return event
                }
                if Task.isCancelled {
                    stop()
                    return nil
                }
                startWakerIfNeeded()
                buffer = try await subscription.store.readAll(after: cursor, limit: subscription.batchSize)
                bufferIndex = 0
                if buffer.isEmpty {
                    // Nothing safe to read now: wait for a notification or the next poll.
                    guard await wakeups?.next() != nil else {
                        stop()
                        return nil
                    }
                }
            }
        }

        func nextBatch() async throws -> [RecordedEvent]? {
            if bufferIndex < buffer.count {
                let rest = Array(buffer[bufferIndex...])
                bufferIndex = buffer.count
                cursor = rest.last!.cursor
                return rest
            }
            guard let first = try await next() else { return nil }
            let rest = Array(buffer[bufferIndex...])
            bufferIndex = buffer.count
            if let last = rest.last { cursor = last.cursor }
            return [first] + rest
        }

        private func stop() {
            waker?.cancel()
            waker = nil
        }

        /// Started before the first read, so a notification for an event committed between
        /// that read and the wait is not missed.
        private func startWakerIfNeeded() {
            guard waker == nil else { return }
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            wakeups = stream.makeAsyncIterator()
            waker = Self.wake(continuation, store: subscription.store, pollInterval: subscription.pollInterval)
        }

        private static func wake(
            _ continuation: AsyncStream<Void>.Continuation,
            store: PostgresEventStore,
            pollInterval: Duration
        ) -> Task<Void, Never> {
            Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        await listen(store: store, wake: continuation)
                    }
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: pollInterval)
                            continuation.yield()
                        }
                    }
                    await group.next()
                    group.cancelAll()
                }
                continuation.finish()
            }
        }

        /// LISTENs until cancelled, reconnecting after a lost connection; each notification
        /// (and each new LISTEN, which may have missed some) wakes the reader.
        private static func listen(store: PostgresEventStore, wake: AsyncStream<Void>.Continuation) async {
            while !Task.isCancelled {
                do {
                    try await store.client.withConnection { connection in
                        try await connection.listen(on: PostgresEventStore.notificationChannel) { notifications in
                            wake.yield()
                            for try await _ in notifications {
                                wake.yield()
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { return }
                    store.logger.debug("event subscription lost its LISTEN connection; polling until it is back")
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
