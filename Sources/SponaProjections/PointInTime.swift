import Foundation
import Logging
import PostgresNIO
import SponaEventStore

/// A view as it stood at a past moment: the projections' own fold replayed, on one
/// connection, into temporary tables of the same names — which PostgreSQL searches before
/// the real ones — from the events recorded up to that moment. The view's queries then run
/// unchanged on that connection, so an as-of view is by construction a rebuild cut at that
/// point, disclosure control included. The temporary tables go when the body ends.
///
/// A projection that keeps its month ends (``MonthEnds``) is not replayed from the start: at
/// the end of a month it has closed, the view reads the rows kept for that month; inside a
/// month, the tables are copied as they stood at the month's end before it and only the
/// events after that are replayed. A closed month never changes again (the runner writes
/// later months only), so neither needs a snapshot of the database.
public enum PointInTime {
    /// How a moment's tables are made: from the start, or from a month's end.
    public enum Plan: Equatable, Sendable {
        /// Replay every event up to the moment into empty tables.
        case replay
        /// Read the rows kept at the end of this month, nothing replayed.
        case monthEnd(Int32)
        /// Copy the rows kept at the end of this month, then replay the events after
        /// `cursor` recorded up to the moment, and no further than `through` (where the
        /// moment's month ends, when it has).
        case fromMonthEnd(Int32, after: EventCursor, through: EventCursor?)
    }

    /// The cheapest way to `moment` for `projections`.
    static func plan(
        _ projections: [any Projection],
        at moment: Date,
        on connection: PostgresConnection,
        store: PostgresEventStore,
        logger: Logger
    ) async throws -> Plan {
        guard projections.count == 1, let monthEnds = projections[0].monthEnds,
            let last = try await monthEnds.lastMonth(on: connection, logger: logger)
        else { return .replay }
        let month = MonthEnds.month(of: moment)
        // A month is closed once an event of a later month was applied.
        if MonthEnds.isEnd(moment), last > month { return .monthEnd(month) }
        guard let (closed, cursor) = try await monthEnds.boundary(atOrBefore: min(month, last) - 1, on: connection, logger: logger) else {
            return .replay
        }
        // The moment's own month ends where its last event is, when a later month has begun:
        // the replay never reads past it (an event recorded later belongs to a later month).
        let through = month < last ? try await monthEnds.boundary(atOrBefore: month, on: connection, logger: logger)?.cursor : nil
        // Nothing recorded between that month's end and the moment: the month's end it is.
        let since = try await store.readAll(
            after: cursor,
            through: through,
            limit: 1,
            recordedUpTo: moment,
            categories: ProjectionRebuild.categories(of: projections)
        )
        return since.isEmpty ? .monthEnd(closed) : .fromMonthEnd(closed, after: cursor, through: through)
    }

    /// `planned`: the way to the moment, when not the cheapest (a test holds the month ends
    /// against a replay from the start).
    public static func withViews<Result: Sendable>(
        _ projections: [any Projection],
        at moment: Date,
        planned: Plan? = nil,
        client: PostgresClient,
        store: PostgresEventStore,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            func run(_ sql: String) async throws { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
            do {
                var plan = try await plan(projections, at: moment, on: connection, store: store, logger: logger)
                if let planned { plan = planned }
                let tables = Set(projections.flatMap(\.tables)).sorted()
                switch plan {
                case .monthEnd(let month):
                    try await projections[0].monthEnds?.viewAsOf(month, on: connection, logger: logger)
                case .replay, .fromMonthEnd:
                    for table in tables {
                        try await run("CREATE TEMP TABLE \(table) (LIKE public.\(table) INCLUDING ALL)")
                    }
                    var (cursor, through) = (EventCursor.start, EventCursor?.none)
                    var onDemand: (MonthEnds, month: Int32)?
                    if case .fromMonthEnd(let month, let after, let end) = plan, let monthEnds = projections[0].monthEnds {
                        try await monthEnds.restore(month, on: connection, logger: logger)
                        try await ProjectionRebuild.analyzeIfDue(after: 1, tables: tables, on: connection, logger: logger)
                        (cursor, through) = (after, end)
                        onDemand = (monthEnds, month)
                    }
                    try await replay(
                        projections,
                        after: cursor,
                        through: through,
                        upTo: moment,
                        restoringFrom: onDemand,
                        into: connection,
                        store: store,
                        logger: logger
                    )
                }
                let result = try await body(connection)
                try await run("DISCARD TEMP")
                return result
            } catch {
                _ = try? await run("DISCARD TEMP")
                throw error
            }
        }
    }

    /// The events after `cursor` recorded up to `moment`, folded into the temporary tables.
    private static func replay(
        _ projections: [any Projection],
        after start: EventCursor,
        through end: EventCursor?,
        upTo moment: Date,
        restoringFrom monthEnd: (MonthEnds, month: Int32)?,
        into connection: PostgresConnection,
        store: PostgresEventStore,
        logger: Logger
    ) async throws {
        // Events an operator told a projection to skip are skipped here too.
        var skipped: [String: Set<UUID>] = [:]
        for projection in projections {
            skipped[projection.name] = try await ProjectionEventSkipped.recorded(for: projection.name, in: store)
        }
        var batches = 0
        var loaded: [String: Set<UUID>] = [:]
        // From a month's end the tables were analyzed when restored; only those restored on
        // demand start empty and grow.
        let analyzed =
            monthEnd.map { $0.0.onDemand.map(\.table) } ?? Set(projections.flatMap(\.tables)).sorted()
        let categories = ProjectionRebuild.categories(of: projections)
        // The on-demand tables' columns, from the catalog once, not for every batch.
        var columns: [String: String] = [:]
        if let (monthEnds, _) = monthEnd {
            columns = try await MonthEnds.columns(of: monthEnds.onDemand.map(\.table), on: connection, logger: logger)
        }
        // Batches as large as a rebuild's, for the same reason (``ProjectionRebuild/init(owner:store:logger:batchSize:)``).
        @Sendable func readAndDecode(after cursor: EventCursor) async throws -> ([RecordedEvent], DecodedCaseEvents) {
            let events = try await store.readAll(after: cursor, through: end, limit: 10_000, recordedUpTo: moment, categories: categories)
            return (events, DecodedCaseEvents.decodedAhead(events))
        }
        var (batch, decoded) = try await readAndDecode(after: start)
        while let last = batch.last {
            // The next batch is read (on another connection) and decoded while this one is
            // applied, as a rebuild does.
            async let next = readAndDecode(after: last.cursor)
            try await DecodedCaseEvents.sharing(decoded) {
                if let (monthEnds, month) = monthEnd {
                    try await monthEnds.restoreRows(month, for: batch, loaded: &loaded, columns: columns, on: connection, logger: logger)
                }
                try await connection.withTransaction(logger: logger) { connection in
                    for projection in projections {
                        let skip = skipped[projection.name] ?? []
                        let share = batch.filter { projection.folds($0.streamID) && !skip.contains($0.id) }
                        if !share.isEmpty { try await projection.apply(share, on: connection, logger: logger) }
                    }
                }
            }
            batches += 1
            try await ProjectionRebuild.analyzeIfDue(after: batches, tables: analyzed, on: connection, logger: logger)
            (batch, decoded) = try await next
        }
    }
}
