import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SponaEventStore

/// A fold of the event history into tables of its own.
public protocol Projection: Sendable {
    /// Stable: the checkpoint is stored under it.
    var name: String { get }
    /// The tables it writes (and only it), unqualified: a rebuild fills fresh copies of them and
    /// swaps them in.
    var tables: [String] { get }
    /// Applies a batch of events, in order, inside the runner's transaction (which also
    /// moves the checkpoint). Must not commit or roll back.
    func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws
}

/// Runs one projection: exactly one runner per projection across every server process on
/// the database, elected by a PostgreSQL advisory lock held on the connection that writes.
/// When that process dies its connection closes, the lock is released, and another process's
/// runner (retrying every few seconds) takes over from the stored checkpoint.
///
/// Each batch is applied in one transaction together with the new checkpoint, and the
/// checkpoint only moves forward from the value read in that transaction: a crash never applies
/// an event twice or loses one.
public struct ProjectionRunner: Service {
    let client: PostgresClient
    let store: PostgresEventStore
    let projection: any Projection
    let logger: Logger
    let retryInterval: Duration

    public init(client: PostgresClient, store: PostgresEventStore, projection: any Projection, logger: Logger,
                retryInterval: Duration = .seconds(2)) {
        self.client = client
        self.store = store
        self.projection = projection
        self.logger = logger
        self.retryInterval = retryInterval
    }

    /// The advisory lock's two-int4 key: a class for "projection runners", and the name's hash.
    /// (The store's per-stream locks use the single-bigint key space, which never collides.)
    static let lockClass: Int32 = 0x5350_5052 // "SPPR"

    public func run() async throws {
        // On graceful shutdown the batch in flight is rolled back with its checkpoint; the
        // next runner starts from the last committed one.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        guard try await tryLock(connection) else { return }
                        logger.info("projection runner elected", metadata: ["projection": "\(projection.name)"])
                        try await follow(on: connection)
                    }
                } catch {
                    if Task.isCancelled || error is CancellationError { return }
                    logger.warning("projection runner stopped; retrying", metadata: ["projection": "\(projection.name)", "error.type": "\(type(of: error))"])
                }
                try? await Task.sleep(for: retryInterval)
            }
        }
    }

    private func tryLock(_ connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            "SELECT pg_try_advisory_lock(\(Self.lockClass), hashtext(\(projection.name)))", logger: logger)
        for try await locked in rows.decode(Bool.self) { return locked }
        return false
    }

    /// Applies every event after the checkpoint, then every new one, until cancelled.
    private func follow(on connection: PostgresConnection) async throws {
        var cursor = try await checkpoint(connection)
        var batches = store.subscribe(after: cursor).batches()
        while let batch = try await batches.next() {
            try await connection.withTransaction(logger: logger) { connection in
                try await projection.apply(batch, on: connection, logger: logger)
                try await advance(connection, from: cursor, to: batch.last!.cursor, count: batch.count)
            }
            cursor = batch.last!.cursor
        }
    }

    func checkpoint(_ connection: PostgresConnection) async throws -> EventCursor {
        let rows = try await connection.query(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE projection = \(projection.name)", logger: logger)
        for try await (transaction, position) in rows.decode((Int64, Int64).self) {
            return EventCursor(transactionID: UInt64(transaction), position: position)
        }
        return .start
    }

    private func advance(_ connection: PostgresConnection, from old: EventCursor, to new: EventCursor, count: Int) async throws {
        let rows = try await connection.query("""
            INSERT INTO projection_checkpoints AS c (projection, transaction_id, position, events_applied, updated_at)
            VALUES (\(projection.name), \(Int64(new.transactionID)), \(new.position), \(Int64(count)), now())
            ON CONFLICT (projection) DO UPDATE
               SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position,
                   events_applied = c.events_applied + EXCLUDED.events_applied, updated_at = now()
             WHERE c.transaction_id = \(Int64(old.transactionID)) AND c.position = \(old.position)
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return }
        // Someone else moved the checkpoint: never apply the same events twice.
        throw CheckpointMoved()
    }

    struct CheckpointMoved: Error {}
}
