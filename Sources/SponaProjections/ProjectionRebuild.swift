import Foundation
import Logging
import PostgresNIO
import SponaEventStore
import SponaRecords

/// Rebuilds a projection from the whole history without stopping the servers: the events are
/// replayed into fresh copies of its tables in a schema of their own (the projection's SQL is
/// unqualified, so a `search_path` points it there), and at the end one transaction swaps the
/// copies in and moves the checkpoint to where the replay stopped. Until that commit every
/// server answers from the old tables; the running runner's batch in flight is rolled back
/// by the moved checkpoint and it carries on from the rebuild's cursor.
///
/// Needs the owner's login (it creates and renames tables).
public struct ProjectionRebuild: Sendable {
    let owner: PostgresClient
    let store: PostgresEventStore
    let logger: Logger
    let batchSize: Int

    /// A rebuild's batches are larger than a runner's: the views' rows a batch adds to repeat
    /// from one batch to the next, so a batch of 10,000 events writes about half the rows that
    /// five of 2,000 do (measured: a third less time in all); larger ones gained nothing more
    /// and cost memory (two batches are held: one applied, one read ahead).
    public static let defaultBatchSize = 10_000

    public init(owner: PostgresClient, store: PostgresEventStore, logger: Logger, batchSize: Int = Self.defaultBatchSize) {
        self.owner = owner
        self.store = store
        self.logger = logger
        self.batchSize = batchSize
    }

    public enum RebuildError: Error, CustomStringConvertible {
        case eventFailed(ProjectionFailure)

        public var description: String {
            switch self {
            case .eventFailed(let failure):
                "\(failure.projection) cannot apply event \(failure.eventID) (\(failure.type), stream \(failure.stream) version \(failure.version), position \(failure.position)): \(failure.error); nothing was swapped in. Skip it with `spona projections skip \(failure.projection) \(failure.eventID) --reason …` if it can never apply."
            }
        }
    }

    public struct Progress: Sendable {
        public var applied: Int64
        public var total: Int64
        public var elapsed: Duration
    }

    public struct Result: Sendable {
        public var events: Int64
        public var elapsed: Duration
    }

    public func rebuild(_ projection: any Projection, progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Result {
        try await rebuild([projection], progress: progress)
    }

    /// Rebuilds several projections in one pass over the history: each batch is read once
    /// (only the stream categories some of them fold) and handed to each projection that
    /// folds it, in one transaction per batch; at the end one transaction swaps them all in.
    public func rebuild(_ projections: [any Projection], progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Result {
        guard let first = projections.first else { return Result(events: 0, elapsed: .zero) }
        let schema = projections.count == 1 ? "rebuild_\(first.name)" : "rebuild_all"
        let clock = ContinuousClock()
        let started = clock.now
        let categories = Self.categories(of: projections)
        let total = try await store.backlog(after: .start, categories: categories).events
        var skipped: [String: Set<UUID>] = [:]
        for projection in projections {
            skipped[projection.name] = try await ProjectionEventSkipped.recorded(for: projection.name, in: store)
        }
        return try await owner.withConnection { connection in
            func run(_ sql: String) async throws { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
            // Fresh statistics of the history (a restored database has none until autovacuum
            // comes by), so that reading by category walks the index in order (migration 0014).
            try await run("ANALYZE events")
            try await run("DROP SCHEMA IF EXISTS \(schema) CASCADE")
            try await run("CREATE SCHEMA \(schema)")
            for table in projections.flatMap(\.tables) {
                try await run("CREATE TABLE \(schema).\(table) (LIKE public.\(table) INCLUDING ALL)")
            }
            // The copies keep their month ends as the live tables do: the live table's triggers,
            // made again on the copy (it writes the replaced versions into the history table
            // of the copy's schema). The live tables' other triggers wait for the swap.
            for table in projections.compactMap(\.monthEnds).flatMap(\.tables) {
                for (name, definition) in try await Self.triggers(of: "public.\(table)", on: connection, logger: logger)
                where MonthEnds.triggerNames.contains(name) {
                    // "CREATE TRIGGER … ON <table> REFERENCING … FOR EACH …", the table named
                    // as the catalog prints it: put the copy in its place.
                    var copy = definition
                    if let on = copy.range(of: " ON "), let end = copy.range(of: " ", range: on.upperBound..<copy.endIndex) {
                        copy.replaceSubrange(on.upperBound..<end.lowerBound, with: "\(schema).\(table)")
                    }
                    try await run(copy)
                }
            }
            do {
                try await run("SET search_path TO \(schema), public")
                var cursor = EventCursor.start
                var applied: Int64 = 0
                var batches = 0
                let (store, batchSize) = (self.store, self.batchSize)
                @Sendable func read(after cursor: EventCursor) async throws -> [RecordedEvent] {
                    if let categories {
                        try await store.readAll(after: cursor, limit: batchSize, categories: categories)
                    } else {
                        try await store.readAll(after: cursor, limit: batchSize)
                    }
                }
                // Only a rebuild of views that fold cases decodes them ahead.
                let decodesCases = categories.map { $0.contains(Streams.Category.cases) } ?? true
                @Sendable func readAndDecode(after cursor: EventCursor) async throws -> ([RecordedEvent], DecodedCaseEvents) {
                    let events = try await read(after: cursor)
                    return (events, decodesCases ? DecodedCaseEvents.decodedAhead(events) : DecodedCaseEvents())
                }
                let monthEnds = projections.compactMap(\.monthEnds)
                var month: Int32?
                var previous = cursor
                var (batch, decoded) = try await readAndDecode(after: cursor)
                while let last = batch.last {
                    // The next batch is read (on another connection) and decoded while this one
                    // is written.
                    async let nextBatch = readAndDecode(after: last.cursor)
                    // One transaction per month the batch's events were recorded in, when some
                    // projection keeps month ends.
                    for run in MonthEnds.transactions(batch, after: month, keepingMonths: !monthEnds.isEmpty) {
                        let shares = projections.map { projection in
                            let skip = skipped[projection.name] ?? []
                            return (projection, run.events.filter { projection.folds($0.streamID) && !skip.contains($0.id) })
                        }
                        let (before, endedAt) = (month, previous)
                        @Sendable func apply(_ shares: [(any Projection, [RecordedEvent])], on connection: PostgresConnection) async throws {
                            try await connection.withTransaction(logger: logger) { connection in
                                try await ProjectionRunner.commitWithoutWaitingForDisk(connection, logger: logger)
                                if let entered = run.month {
                                    for kept in monthEnds {
                                        try await kept.enter(entered, after: before, at: endedAt, on: connection, logger: logger)
                                    }
                                }
                                for (projection, share) in shares where !share.isEmpty {
                                    try await projection.apply(share, on: connection, logger: logger)
                                }
                            }
                        }
                        do {
                            try await DecodedCaseEvents.sharing(decoded) { try await apply(shares, on: connection) }
                        } catch  where !ProjectionRunner.isTransient(error) {
                            // Name the event at fault: the batch again, one event at a time.
                            for (projection, share) in shares {
                                for event in share {
                                    do {
                                        try await apply([(projection, [event])], on: connection)
                                    } catch  where !ProjectionRunner.isTransient(error) {
                                        throw RebuildError.eventFailed(
                                            ProjectionFailure(
                                                projection: projection.name,
                                                event: event,
                                                error: ProjectionRunner.describe(error)
                                            )
                                        )
                                    }
                                }
                            }
                        }
                        month = run.month ?? month
                        previous = run.events.last!.cursor
                    }
                    cursor = last.cursor
                    applied += Int64(batch.count)
                    batches += 1
                    try await Self.analyzeIfDue(after: batches, tables: projections.flatMap(\.tables), on: connection, logger: logger)
                    (batch, decoded) = try await nextBatch
                    progress(Progress(applied: applied, total: max(total, applied), elapsed: clock.now - started))
                }
                try await run("SET search_path TO public")
                // A runner's batch in flight may deadlock with the swap's locks; PostgreSQL then
                // aborts one of the two, and the swap, rolled back whole, is simply tried again.
                var attempt = 0
                while true {
                    do {
                        try await swap(projections, schema: schema, cursor: cursor, applied: applied, on: connection)
                        break
                    } catch {
                        attempt += 1
                        if attempt >= 5 { throw error }
                        logger.warning(
                            "projection swap retried",
                            metadata: ["projections": "\(projections.map(\.name))", "error.type": "\(type(of: error))"]
                        )
                        try await Task.sleep(for: .milliseconds(200 * attempt))
                    }
                }
                try await run("DROP SCHEMA \(schema) CASCADE")
                return Result(events: applied, elapsed: clock.now - started)
            } catch {
                _ = try? await run("SET search_path TO public")
                _ = try? await run("DROP SCHEMA IF EXISTS \(schema) CASCADE")
                throw error
            }
        }
    }

    /// A table's own triggers (not those of its constraints): name and definition.
    static func triggers(of table: String, on connection: PostgresConnection, logger: Logger) async throws -> [(name: String, definition: String)] {
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT tgname::text, pg_get_triggerdef(oid) FROM pg_trigger
                    WHERE tgrelid = '\(table)'::regclass AND NOT tgisinternal ORDER BY tgname
                    """
            ),
            logger: logger
        )
        var triggers: [(name: String, definition: String)] = []
        for try await (name, definition) in rows.decode((String, String).self) { triggers.append((name, definition)) }
        return triggers
    }

    /// The stream categories some of `projections` fold; nil when one folds every stream.
    static func categories(of projections: [any Projection]) -> Set<String>? {
        var categories: Set<String> = []
        for projection in projections {
            guard let own = projection.categories else { return nil }
            categories.formUnion(own)
        }
        return categories
    }

    /// Fresh tables have no statistics, and autovacuum may not look at them for a minute (at
    /// temporary tables it never looks): the planner then scans a whole table for each batch's
    /// lookup of the rows it touches, and a replay grows with the square of the history. The
    /// tables are analyzed after batches 1, 2, 4, 8, …: a handful of times in all, and each
    /// time the table has at most doubled.
    static func analyzeIfDue(after batches: Int, tables: [String], on connection: PostgresConnection, logger: Logger) async throws {
        guard batches > 0, batches & (batches - 1) == 0 else { return }
        for table in tables {
            try await connection.query(PostgresQuery(unsafeSQL: "ANALYZE \(table)"), logger: logger)
        }
    }

    /// One transaction: the live tables locked (waiting for a runner's batch to finish), old
    /// tables out, new ones in with the application's grants, the checkpoint moved.
    private func swap(
        _ projections: [any Projection],
        schema: String,
        cursor: EventCursor,
        applied: Int64,
        on connection: PostgresConnection
    ) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            func run(_ sql: String) async throws { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
            let tables = projections.flatMap(\.tables)
            try await run("LOCK TABLE \(tables.map { "public.\($0)" }.joined(separator: ", ")) IN ACCESS EXCLUSIVE MODE")
            for table in tables {
                // The live table's own triggers (those that tell servers of changes) are made
                // again on the new one: a swap must not silence them. Those the copy has
                // already (it kept its month ends with them) stay as they are.
                let live = try await Self.triggers(of: "public.\(table)", on: connection, logger: logger)
                let kept = Set(try await Self.triggers(of: "\(schema).\(table)", on: connection, logger: logger).map(\.name))
                try await run("DROP TABLE public.\(table)")
                try await run("ALTER TABLE \(schema).\(table) SET SCHEMA public")
                for (name, definition) in live where !kept.contains(name) { try await run(definition) }
                try await run("GRANT SELECT, INSERT, UPDATE, DELETE ON public.\(table) TO spona_app")
            }
            for projection in projections {
                // Whatever servers kept from the old tables is stale now.
                try await connection.query("SELECT pg_notify('spona_projection_swapped', \(projection.name))", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO projection_checkpoints (projection, transaction_id, position, events_applied, updated_at, version)
                    VALUES (\(projection.name), \(Int64(cursor.transactionID)), \(cursor.position), \(applied), now(), \(Int32(projection.version)))
                    ON CONFLICT (projection) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position,
                        events_applied = EXCLUDED.events_applied, updated_at = now(), version = EXCLUDED.version,
                        rebuilding_until_transaction = NULL, rebuilding_until_position = NULL
                    """,
                    logger: logger
                )
            }
        }
    }
}
