import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SponaDomain
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
    /// The version of its fold and tables. A server whose projection is newer than the one
    /// stored empties the tables and folds the whole history again on start; its views answer
    /// "rebuilding" until that has caught up. An older server leaves a newer projection alone.
    var version: Int { get }
    /// The stream categories it folds (``StreamID/category``: `case`, `institution`, …); nil:
    /// every stream. A rebuild reads only these, so that the read trail, which grows with
    /// every read of a case, is never fetched for views that do not fold it.
    var categories: Set<String>? { get }
    /// The month ends it keeps of its tables (``MonthEnds``), for views as of past moments;
    /// nil: such views replay the history from its start.
    var monthEnds: MonthEnds? { get }
}

extension Projection {
    public var version: Int { 1 }
    public var categories: Set<String>? { nil }
    public var monthEnds: MonthEnds? { nil }

    /// Whether this projection folds events of `stream`.
    func folds(_ stream: StreamID) -> Bool {
        categories.map { $0.contains(String(stream.category)) } ?? true
    }
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

    public init(
        client: PostgresClient,
        store: PostgresEventStore,
        projection: any Projection,
        logger: Logger,
        retryInterval: Duration = .seconds(2)
    ) {
        self.client = client
        self.store = store
        self.projection = projection
        self.logger = logger
        self.retryInterval = retryInterval
    }

    /// The advisory lock's two-int4 key: a class for "projection runners", and the name's hash.
    /// (The store's per-stream locks use the single-bigint key space, which never collides.)
    static let lockClass: Int32 = 0x5350_5052  // "SPPR"

    public func run() async throws {
        // On graceful shutdown the batch in flight is rolled back with its checkpoint; the
        // next runner starts from the last committed one.
        await cancelWhenGracefulShutdown {
            var reported: UUID?
            while !Task.isCancelled {
                var wait = retryInterval
                do {
                    try await client.withConnection { connection in
                        guard try await tryLock(connection) else { return }
                        // The lock belongs to this connection's session, and the connection goes
                        // back to the pool: it must never go back holding it, or no runner
                        // anywhere is elected again while the pool keeps it open.
                        do {
                            logger.info("projection runner elected", metadata: ["projection": "\(projection.name)"])
                            guard try await checkVersion(on: connection) else {
                                try await unlock(connection)
                                return
                            }
                            try await followWhileAlive(on: connection)
                        } catch {
                            try? await unlock(connection)
                            throw error
                        }
                        try await unlock(connection)
                    }
                } catch let stopped as Stopped {
                    if reported != stopped.failure.eventID {
                        reported = stopped.failure.eventID
                        logger.error("projection stopped at an event it cannot apply", metadata: stopped.failure.logMetadata)
                    }
                    // Tried again after a while, or as soon as an operator's skip or retry
                    // clears the failure.
                    let until = ContinuousClock.now + stoppedRetryInterval
                    while ContinuousClock.now < until, !Task.isCancelled {
                        try? await Task.sleep(for: retryInterval)
                        if (try? await ProjectionFailures.all(client: client, logger: logger)[projection.name]) == nil { break }
                    }
                    wait = .zero
                } catch {
                    if Task.isCancelled || error is CancellationError { return }
                    logger.warning(
                        "projection runner stopped; retrying",
                        metadata: ["projection": "\(projection.name)", "error.type": "\(type(of: error))"]
                    )
                }
                if wait > .zero { try? await Task.sleep(for: wait) }
            }
        }
    }

    /// How often a stopped projection tries its event again (an operator's skip or retry is
    /// seen at the next try).
    var stoppedRetryInterval: Duration { retryInterval * 5 }

    /// Holds the stored projection to this code's version: the same, on it goes; older, the
    /// tables are emptied and the checkpoint put back to the start, with the head of the history
    /// as the point the views answer again at; newer (a newer server built it, during a rolling
    /// upgrade), this runner leaves it alone (false).
    private func checkVersion(on connection: PostgresConnection) async throws -> Bool {
        let (projection, logger) = (self.projection, self.logger)
        let stored: Int? = try await connection.bounded(applyTimeout) { connection in
            let rows = try await connection.query("SELECT version FROM projection_checkpoints WHERE projection = \(projection.name)", logger: logger)
            for try await version in rows.decode(Int32.self) { return Int(version) }
            return nil
        }
        guard let stored, stored != projection.version else { return true }
        if stored > projection.version {
            logger.notice(
                "a newer Spona built this projection; this one leaves it alone",
                metadata: [
                    "projection": "\(projection.name)", "stored.version": "\(stored)", "version": "\(projection.version)",
                ]
            )
            return false
        }
        try await connection.bounded(applyTimeout) { connection in
            try await connection.withTransaction(logger: logger) { connection in
                for table in projection.tables {
                    try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table)"), logger: logger)
                }
                try await connection.query("DELETE FROM projection_failures WHERE projection = \(projection.name)", logger: logger)
                try await connection.query(
                    """
                    UPDATE projection_checkpoints AS c
                       SET transaction_id = 0, position = 0, events_applied = 0, version = \(Int32(projection.version)), updated_at = now(),
                           rebuilding_until_transaction = head.transaction_id, rebuilding_until_position = head.global_position
                      FROM (SELECT max(transaction_id)::text::bigint AS transaction_id, max(global_position) AS global_position
                              FROM (SELECT transaction_id, global_position FROM events
                                    ORDER BY transaction_id DESC, global_position DESC LIMIT 1) last) head
                     WHERE c.projection = \(projection.name)
                    """,
                    logger: logger
                )
            }
        }
        logger.notice(
            "projection rebuilding from the history: its version changed",
            metadata: [
                "projection": "\(projection.name)", "from.version": "\(stored)", "to.version": "\(projection.version)",
            ]
        )
        return true
    }

    private func tryLock(_ connection: PostgresConnection) async throws -> Bool {
        let (name, logger) = (projection.name, self.logger)
        return try await connection.bounded(applyTimeout) { connection in
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockClass), hashtext(\(name)))", logger: logger)
            for try await locked in rows.decode(Bool.self) { return locked }
            return false
        }
    }

    private func unlock(_ connection: PostgresConnection) async throws {
        let (name, logger) = (projection.name, self.logger)
        try await connection.bounded(.seconds(5)) { connection in
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockClass), hashtext(\(name)))", logger: logger)
        }
    }

    /// How long one batch may take (the lock query too).
    var applyTimeout: Duration { .seconds(60) }

    /// ``follow(on:)``, while the connection that holds the lock answers. A runner waiting for
    /// events does not use its connection; were the server to drop it, the lock would be gone
    /// with it while this runner believed itself elected. The heartbeat finds that out within
    /// seconds, and the runner stands for election again.
    private func followWhileAlive(on connection: PostgresConnection) async throws {
        let logger = self.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await follow(on: connection) }
            group.addTask {
                while true {
                    try await Task.sleep(for: heartbeatInterval)
                    try await connection.bounded(heartbeatInterval) { try await $0.query("SELECT 1", logger: logger) }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    var heartbeatInterval: Duration { retryInterval * 2 }

    /// Applies every event after the checkpoint, then every new one, until cancelled.
    ///
    /// A batch the projection cannot apply is applied again one event at a time, to find the
    /// event at fault: the events before it are kept, it is recorded in `projection_failures`
    /// and the runner stops there (``Stopped``), unless an operator recorded a skip for it.
    /// Faults of the database itself (a lost connection, a restart) are not the event's fault:
    /// they end the run, and the runner is elected again when the database is back.
    private func follow(on connection: PostgresConnection) async throws {
        let (name, logger) = (projection.name, self.logger)
        let monthEnds = projection.monthEnds
        var (cursor, wasStopped, month) = try await connection.bounded(applyTimeout) { connection in
            (
                try await Self.checkpoint(name, connection, logger: logger),
                try await ProjectionFailures.failure(of: name, on: connection, logger: logger) != nil,
                try await monthEnds?.lastMonth(on: connection, logger: logger)
            )
        }
        var batches = store.subscribe(after: cursor).batches()
        while let batch = try await batches.next() {
            do {
                month = try await apply(batch, from: cursor, month: month, on: connection)
                cursor = batch.last!.cursor
            } catch  where !Self.isTransient(error) {
                (cursor, month) = try await applyOneByOne(batch, from: cursor, month: month, on: connection)
            }
            if wasStopped {
                try await connection.bounded(applyTimeout) { try await ProjectionFailures.clear(name, on: $0, logger: logger) }
                logger.notice("projection going on again", metadata: ["projection": "\(projection.name)"])
                wasStopped = false
            }
        }
    }

    /// A projection's transaction commits without waiting for the disk: it writes derived
    /// data and its checkpoint together, so a database crash may lose the last few of them
    /// whole, and the runner applies those events again from the checkpoint that survived.
    /// Waiting for each to be flushed would only make every append wait longer for the WAL.
    /// (`SET LOCAL`: it ends with the transaction; the pooled connection never keeps it.)
    static func commitWithoutWaitingForDisk(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SET LOCAL synchronous_commit TO off", logger: logger)
    }

    /// One transaction: the batch and the checkpoint (one per month the batch's events were
    /// recorded in, for a projection that keeps month ends: `month` is the month of the last
    /// event applied before, and the result that of this batch's last). Bounded: on a
    /// connection the server dropped while the runner waited for events, the transaction could
    /// wait for ever; past ``applyTimeout`` the connection is closed (the database rolls back)
    /// and the runner is elected again on a new one.
    private func apply(_ batch: [RecordedEvent], from cursor: EventCursor, month: Int32?, on connection: PostgresConnection) async throws -> Int32? {
        let (projection, logger) = (self.projection, self.logger)
        var from = cursor
        var last = month
        for run in MonthEnds.transactions(batch, after: month, keepingMonths: projection.monthEnds != nil) {
            let to = run.events.last!.cursor
            try await connection.bounded(applyTimeout) { [from, last] connection in
                try await connection.withTransaction(logger: logger) { connection in
                    try await Self.commitWithoutWaitingForDisk(connection, logger: logger)
                    if let month = run.month {
                        try await projection.monthEnds?.enter(month, after: last, at: from, on: connection, logger: logger)
                    }
                    try await projection.apply(Array(run.events), on: connection, logger: logger)
                    try await Self.advance(
                        projection.name,
                        version: projection.version,
                        connection,
                        from: from,
                        to: to,
                        count: run.events.count,
                        logger: logger
                    )
                }
            }
            from = to
            last = run.month ?? last
        }
        return last
    }

    /// The batch, event by event; the new cursor and month, or ``Stopped`` at the first event that fails.
    private func applyOneByOne(
        _ batch: [RecordedEvent],
        from start: EventCursor,
        month: Int32?,
        on connection: PostgresConnection
    ) async throws -> (EventCursor, Int32?) {
        var cursor = start
        var month = month
        for event in batch {
            do {
                month = try await apply([event], from: cursor, month: month, on: connection)
            } catch  where !Self.isTransient(error) {
                if try await ProjectionEventSkipped.recorded(for: projection.name, in: store).contains(event.id) {
                    let (name, version, logger, from) = (projection.name, projection.version, self.logger, cursor)
                    try await connection.bounded(applyTimeout) { connection in
                        try await connection.withTransaction(logger: logger) { connection in
                            try await Self.advance(name, version: version, connection, from: from, to: event.cursor, count: 1, logger: logger)
                        }
                    }
                    logger.notice(
                        "projection skipped an event, as recorded in the history",
                        metadata: [
                            "projection": "\(projection.name)", "event.id": "\(event.id)",
                        ]
                    )
                } else {
                    let failure = ProjectionFailure(projection: projection.name, event: event, error: Self.describe(error))
                    try await connection.bounded(applyTimeout) { [logger] in try await ProjectionFailures.record(failure, on: $0, logger: logger) }
                    throw Stopped(failure: failure)
                }
            }
            cursor = event.cursor
        }
        return (cursor, month)
    }

    /// The runner stopped at an event it cannot apply.
    struct Stopped: Error {
        var failure: ProjectionFailure
    }

    /// Whether an error is the database's (try again later) rather than the event's.
    static func isTransient(_ error: any Error) -> Bool {
        switch error {
        case is CancellationError, is CheckpointMoved:
            return true
        case let error as PostgresTransactionError where error.beginError == nil && error.commitError == nil && error.rollbackError == nil:
            return error.closureError.map(isTransient) ?? true
        case let error as PSQLError:
            // Besides an outage: class 40 (rolled back: deadlock, serialization) and a lock
            // timeout are the database's state at that moment, not the event's.
            if let state = error.serverInfo?[.sqlState], state.hasPrefix("40") || state == "55P03" { return true }
            return DatabaseOutage.matches(error)
        default:
            return DatabaseOutage.matches(error)
        }
    }

    /// What went wrong, for an operator: never a value of the event (the error of a decoder
    /// or of the database may quote one), only where and what kind.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as PostgresTransactionError:
            return error.closureError.map(describe) ?? "the transaction failed"
        case let error as PSQLError:
            let state = error.serverInfo?[.sqlState] ?? "?"
            return "the database refused the projection's rows (SQLSTATE \(state))"
        case let error as DecodingError:
            let context: DecodingError.Context
            let what: String
            switch error {
            case let .keyNotFound(key, c): (context, what) = (c, "field '\(key.stringValue)' is missing")
            case let .valueNotFound(_, c): (context, what) = (c, "a value is null")
            case let .typeMismatch(type, c): (context, what) = (c, "a value is not \(type)")
            case let .dataCorrupted(c): (context, what) = (c, "a value is not valid")
            @unknown default: return "the event cannot be decoded"
            }
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return "the event cannot be decoded: \(what)\(path.isEmpty ? "" : " at \(path)")"
        case let error as RegistryError:
            return error.description
        case let error as CaseError:
            return error.description
        case let error as EventSchemaError:
            return error.description
        case let error as CaseEvent.DecodingProblem:
            return error.description
        default:
            return "\(type(of: error))"
        }
    }

    static func checkpoint(_ name: String, _ connection: PostgresConnection, logger: Logger) async throws -> EventCursor {
        let rows = try await connection.query(
            "SELECT transaction_id, position FROM projection_checkpoints WHERE projection = \(name)",
            logger: logger
        )
        for try await (transaction, position) in rows.decode((Int64, Int64).self) {
            return EventCursor(transactionID: UInt64(transaction), position: position)
        }
        return .start
    }

    /// Moves the checkpoint (and ends a rebuild once it reaches the head it was started at).
    private static func advance(
        _ name: String,
        version: Int,
        _ connection: PostgresConnection,
        from old: EventCursor,
        to new: EventCursor,
        count: Int,
        logger: Logger
    ) async throws {
        let rows = try await connection.query(
            """
            INSERT INTO projection_checkpoints AS c (projection, transaction_id, position, events_applied, updated_at, version)
            VALUES (\(name), \(Int64(new.transactionID)), \(new.position), \(Int64(count)), now(), \(Int32(version)))
            ON CONFLICT (projection) DO UPDATE
               SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position,
                   events_applied = c.events_applied + EXCLUDED.events_applied, updated_at = now(),
                   rebuilding_until_transaction = CASE
                       WHEN (EXCLUDED.transaction_id, EXCLUDED.position) >= (c.rebuilding_until_transaction, c.rebuilding_until_position)
                       THEN NULL ELSE c.rebuilding_until_transaction END,
                   rebuilding_until_position = CASE
                       WHEN (EXCLUDED.transaction_id, EXCLUDED.position) >= (c.rebuilding_until_transaction, c.rebuilding_until_position)
                       THEN NULL ELSE c.rebuilding_until_position END
             WHERE c.transaction_id = \(Int64(old.transactionID)) AND c.position = \(old.position)
            RETURNING 1
            """,
            logger: logger
        )
        for try await _ in rows { return }
        // Someone else moved the checkpoint: never apply the same events twice.
        throw CheckpointMoved()
    }

    struct CheckpointMoved: Error {}
}
