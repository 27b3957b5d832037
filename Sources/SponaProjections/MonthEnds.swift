import Foundation
import Logging
import PostgresNIO
import SponaEventStore

/// A projection's tables as they stood at the end of every month of the history (migration
/// 0020), so that a view as of a past moment costs about what the view costs now, however long
/// the history behind it: at a month's end the view reads the kept rows directly; inside a
/// month it starts from the month before and replays only the events after it.
///
/// Months are the history's own: an event belongs to the UTC month it was recorded in, or to
/// a later one when an event recorded later came before it in the history's order (two
/// transactions committing across midnight at a month's turn), so that months follow the order
/// and a month's end is a point in it. Like the rest of a projection's tables they are derived
/// from the events and rebuilt with them, and a test holds them against a replay of the events.
public struct MonthEnds: Sendable {
    /// The tables kept at month ends: each has a `since_month` column, a `<table>_history`
    /// table of the versions it replaced and the `keep_month_ends` triggers. Every statement
    /// of the projection that changes a row sets `since_month = DEFAULT` (in an upsert
    /// `EXCLUDED.since_month`), the month being applied; the trigger refuses one that does not.
    public var tables: [String]
    /// The table of the months begun in the history's order and where each ended (`month`,
    /// `transaction_id`, `position`: the cursor of its last event; null while it is open).
    public var boundaries: String

    /// Tables a replay from a month's end copies only in the rows its events read: a row per
    /// case (hundreds of thousands in a national history) copied whole made a view as of a
    /// moment inside a month cost seconds where the month's own events need a few thousand.
    public var onDemand: [RestoredOnDemand]

    /// A kept table the fold reads only by a key its events name, and writes only in rows it
    /// read or adds: a replay copies the rows of the keys each batch names, once, before the
    /// batch is applied. Its `<table>_history` needs an index on the key.
    public struct RestoredOnDemand: Sendable {
        public var table: String
        public var key: String
        /// The keys of the rows a batch reads.
        public var keys: @Sendable ([RecordedEvent]) throws -> [UUID]

        public init(table: String, key: String, keys: @escaping @Sendable ([RecordedEvent]) throws -> [UUID]) {
            self.table = table
            self.key = key
            self.keys = keys
        }
    }

    public init(tables: [String], boundaries: String, onDemand: [RestoredOnDemand] = []) {
        self.tables = tables
        self.boundaries = boundaries
        self.onDemand = onDemand
    }

    /// The triggers that keep a table's month ends (migration 0023): one for its updates, one
    /// for its deletes (a trigger with transition tables has one event).
    static let triggerNames: Set<String> = ["keep_month_ends", "keep_month_ends_deleted"]

    /// The tables a projection keeping these month ends writes besides its own.
    public var addedTables: [String] { tables.map { $0 + "_history" } + [boundaries] }

    /// A month as the tables count it: year × 12 + month − 1, UTC.
    public static func month(of date: Date) -> Int32 {
        let (year, month) = CivilCalendar.yearMonth(of: date)
        return Int32(year * 12 + month - 1)
    }

    /// The last instant of a month.
    public static func end(of month: Int32) -> Date {
        let year = Int(month) / 12
        let next = Int(month) % 12 + 2
        let days =
            next > 12
            ? CivilCalendar.daysSinceEpoch(year: year + 1, month: 1, day: 1) : CivilCalendar.daysSinceEpoch(year: year, month: next, day: 1)
        return Date(timeIntervalSince1970: Double(days) * 86_400 - 0.000_001)
    }

    /// Whether `moment` is the end of its month (to the millisecond, as views are asked).
    public static func isEnd(_ moment: Date) -> Bool {
        month(of: moment) != month(of: moment.addingTimeInterval(0.001))
    }

    /// A batch as the transactions it is applied in: one per month its events were recorded
    /// in when `keepingMonths` (months never go back: `after` is the month of the last event
    /// applied before), else the whole batch without a month.
    static func transactions(
        _ batch: [RecordedEvent],
        after last: Int32?,
        keepingMonths: Bool
    ) -> [(month: Int32?, events: ArraySlice<RecordedEvent>)] {
        guard keepingMonths else { return [(nil, batch[...])] }
        var runs: [(month: Int32?, events: ArraySlice<RecordedEvent>)] = []
        var current = last ?? Int32.min
        var start = batch.startIndex
        for index in batch.indices {
            let month = max(current, Self.month(of: batch[index].recordedAt))
            if month != current, index > start {
                runs.append((current, batch[start..<index]))
                start = index
            }
            current = month
        }
        if start < batch.endIndex { runs.append((current, batch[start..<batch.endIndex])) }
        return runs
    }

    /// At the start of a transaction whose events were recorded in `month`: tells the trigger
    /// the month, and when it is a new one (the last event applied was of `previous`, at
    /// `cursor`), records where the previous month ended and that this one has begun — a
    /// statement once a month, not one per batch.
    func enter(_ month: Int32, after previous: Int32?, at cursor: EventCursor, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT set_config('spona.month', \(String(month)), true)", logger: logger)
        guard month != previous else { return }
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(boundaries) (month, transaction_id, position)
                    VALUES (\(month), NULL, NULL)\(previous.map { ", (\($0), \(cursor.transactionID), \(cursor.position))" } ?? "")
                    ON CONFLICT (month) DO UPDATE SET transaction_id = EXCLUDED.transaction_id, position = EXCLUDED.position
                    """
            ),
            logger: logger
        )
    }

    /// The month of the last event applied (nil before the first).
    func lastMonth(on connection: PostgresConnection, logger: Logger) async throws -> Int32? {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT max(month) FROM \(boundaries)"), logger: logger)
        for try await month in rows.decode(Int32?.self) { return month }
        return nil
    }

    /// The last month that ended at or before `month` in the history, and where.
    func boundary(atOrBefore month: Int32, on connection: PostgresConnection, logger: Logger) async throws -> (month: Int32, cursor: EventCursor)? {
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT month, transaction_id, position FROM \(boundaries)
                    WHERE month <= \(month) AND position IS NOT NULL ORDER BY month DESC LIMIT 1
                    """
            ),
            logger: logger
        )
        for try await (month, transaction, position) in rows.decode((Int32, Int64, Int64).self) {
            return (month, EventCursor(transactionID: UInt64(transaction), position: position))
        }
        return nil
    }

    /// Each kept table's rows as they stood at the end of `month`: read-only temporary views of
    /// the tables' names, which PostgreSQL searches before the real tables.
    func viewAsOf(_ month: Int32, on connection: PostgresConnection, logger: Logger) async throws {
        for (table, _, select) in try await rows(asOf: month, on: connection, logger: logger) {
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE TEMP VIEW \(table) AS \(select)"), logger: logger)
        }
    }

    /// Each kept table as it stood at the end of `month`, copied into a writable temporary
    /// table of its name, for the events after that month to be replayed into.
    /// The tables restored on demand are left empty, for ``restoreRows(_:for:loaded:on:logger:)``.
    func restore(_ month: Int32, on connection: PostgresConnection, logger: Logger) async throws {
        let later = Set(onDemand.map(\.table))
        for (table, columns, select) in try await rows(asOf: month, on: connection, logger: logger) where !later.contains(table) {
            try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO pg_temp.\(table) (\(columns)) \(select)"), logger: logger)
        }
    }

    /// Before a batch of a replay from the end of `month` is applied: the rows of the on-demand
    /// tables it reads, as they stood at that month's end. `loaded` remembers the keys copied
    /// before, whose rows the replay may have changed or deleted since, and copies none twice;
    /// `columns` are the tables' (``columns(of:on:logger:)``, read once per replay).
    func restoreRows(
        _ month: Int32,
        for batch: [RecordedEvent],
        loaded: inout [String: Set<UUID>],
        columns: [String: String],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        for table in onDemand {
            let keys = Set(try table.keys(batch)).subtracting(loaded[table.table] ?? [])
            guard !keys.isEmpty else { continue }
            loaded[table.table, default: []].formUnion(keys)
            let list = columns[table.table]!
            var query = PostgresQuery(
                unsafeSQL: "INSERT INTO pg_temp.\(table.table) (\(list)) "
                    + Self.select(list, of: table.table, asOf: month, where: "\(table.key) = ANY($1)")
            )
            query.binds.append(Array(keys))
            try await connection.query(query, logger: logger)
        }
    }

    /// For each kept table, its columns and the SELECT of its rows as they stood at the end of
    /// `month` (the live rows that held by then, and the kept versions whose months cover it).
    func rows(asOf month: Int32, on connection: PostgresConnection, logger: Logger) async throws -> [(table: String, columns: String, select: String)]
    {
        let columns = try await Self.columns(of: tables, on: connection, logger: logger)
        return tables.map { table in
            let columns = columns[table]!
            return (table, columns, Self.select(columns, of: table, asOf: month))
        }
    }

    /// The SELECT of `table`'s rows as they stood at the end of `month` (the live rows that
    /// held by then, and the kept versions whose months cover it), `condition` on both.
    static func select(_ columns: String, of table: String, asOf month: Int32, where condition: String? = nil) -> String {
        let also = condition.map { " AND \($0)" } ?? ""
        return """
            SELECT \(columns) FROM public.\(table) WHERE since_month <= \(month)\(also)
            UNION ALL
            SELECT \(columns) FROM public.\(table)_history WHERE until_month > \(month) AND since_month <= \(month)\(also)
            """
    }

    /// Each table's columns, in order, quoted; in one look at the catalog.
    static func columns(of tables: [String], on connection: PostgresConnection, logger: Logger) async throws -> [String: String] {
        let rows = try await connection.query(
            """
            SELECT t.name, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
            FROM unnest(\(tables)::text[]) AS t(name)
            JOIN pg_attribute a ON a.attrelid = to_regclass('public.' || t.name) AND a.attnum > 0 AND NOT a.attisdropped
            GROUP BY t.name
            """,
            logger: logger
        )
        var columns: [String: String] = [:]
        for try await (table, list) in rows.decode((String, String).self) { columns[table] = list }
        if let missing = tables.first(where: { columns[$0] == nil }) { throw MissingTable(table: missing) }
        return columns
    }

    struct MissingTable: Error, CustomStringConvertible {
        var table: String
        var description: String { "the table \(table) kept at month ends is missing: is the schema migrated?" }
    }
}
