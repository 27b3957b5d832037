import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The token lookup's answers, kept in memory so that a request does not pay a database round
/// trip to learn who is calling — but only while this process hears of every change to what
/// the answers were read from.
///
/// The database notifies `spona_access` on every change to `access_tokens` and to the
/// institutions' read model (statement triggers, migration 0013), and `spona_projection_swapped`
/// when a rebuilt read model replaces a live one. Any notification empties the cache. While
/// the LISTEN connection is down (a database restart, a failover) nothing is kept and every
/// lookup goes to the database, as if there were no cache; a new LISTEN starts from empty,
/// since it may have missed notifications. A revocation therefore takes effect as soon as its
/// notification arrives (milliseconds), not at an entry's expiry.
///
/// An answer read while a notification arrived is not kept (``generation``): it may be the
/// state from before the change. Entries are kept at most ``maximumAge`` regardless, so even a
/// notification lost in a way PostgreSQL does not report is bounded; and at most ``capacity``
/// tokens, so that a flood of distinct tokens cannot grow the process.
public final class AccessTokenCache: Service, Sendable {
    public static let accessChannel = "spona_access"
    public static let swapChannel = "spona_projection_swapped"

    let client: PostgresClient
    let logger: Logger
    let maximumAge: Duration
    let capacity: Int
    private let state = Mutex(State())

    struct State {
        var listening = false
        /// Bumped by every invalidation: an answer read across a change is not kept.
        var generation: UInt64 = 0
        var entries: [Data: Entry] = [:]
    }

    struct Entry {
        var record: AccessTokens.Record
        var keptAt: ContinuousClock.Instant
    }

    public init(client: PostgresClient, logger: Logger, maximumAge: Duration = .seconds(30), capacity: Int = 10_000) {
        self.client = client
        self.logger = logger
        self.maximumAge = maximumAge
        self.capacity = capacity
    }

    /// Whether answers are being kept now (the LISTEN is open).
    public var isListening: Bool { state.withLock { $0.listening } }

    /// The kept answer for a token's hash; or, when there is none, the generation to hand back
    /// to ``keep(_:for:readIn:)`` (nil while not listening: nothing may be kept).
    func lookup(_ hash: Data) -> (record: AccessTokens.Record?, generation: UInt64?) {
        let now = ContinuousClock.now
        let maximumAge = self.maximumAge
        return state.withLock { state in
            guard state.listening else { return (nil, nil) }
            if let entry = state.entries[hash] {
                if now - entry.keptAt < maximumAge { return (entry.record, nil) }
                state.entries[hash] = nil
            }
            return (nil, state.generation)
        }
    }

    /// Keeps an answer read from the database, unless something changed while it was read.
    func keep(_ record: AccessTokens.Record, for hash: Data, readIn generation: UInt64) {
        let now = ContinuousClock.now
        let capacity = self.capacity
        state.withLock { state in
            guard state.listening, state.generation == generation else { return }
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[hash] = Entry(record: record, keptAt: now)
        }
    }

    /// Forgets every answer (a notification, or a LISTEN opened or lost).
    func invalidate(listening: Bool? = nil) {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll()
            if let listening { state.listening = listening }
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.listenUntilCancelled()
        }
        invalidate(listening: false)
    }

    /// LISTENs on both channels until cancelled, reconnecting after a lost connection.
    private func listenUntilCancelled() async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.accessChannel) { access in
                        try await connection.listen(on: Self.swapChannel) { swaps in
                            // Both LISTENs are in place: from here on no change goes unheard.
                            self.invalidate(listening: true)
                            try await withThrowingTaskGroup(of: Void.self) { group in
                                group.addTask { for try await _ in access { self.invalidate() } }
                                group.addTask { for try await _ in swaps { self.invalidate() } }
                                // Either sequence ending means the connection is gone.
                                try await group.next()
                                group.cancelAll()
                            }
                        }
                    }
                }
                invalidate(listening: false)
            } catch {
                invalidate(listening: false)
                if Task.isCancelled { return }
                logger.debug("token cache lost its LISTEN connection; every token is looked up until it is back")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
