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
    /// table of the versions it replaced and the `keep_month_ends` trigger.
    public var tables: [String]
    /// The table of where each month ends in the history's order (`month`, `transaction_id`,
    /// `position`).
    public var boundaries: String

    public init(tables: [String], boundaries: String) {
        self.tables = tables
        self.boundaries = boundaries
    }

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

    /// A batch cut where its months change, each part with its month; months never go back
    /// (`after` is the month of the last event applied before).
    static func runs(_ batch: [RecordedEvent], after last: Int32?) -> [(month: Int32, events: ArraySlice<RecordedEvent>)] {
        var runs: [(month: Int32, events: ArraySlice<RecordedEvent>)] = []
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

    /// Tells the trigger which month this transaction's writes belong to.
    static func begin(_ month: Int32, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT set_config('spona.month', \(String(month)), true)", logger: logger)
    }

    /// Marks where `month` ends so far: at `cursor`.
    func mark(_ month: Int32, at cursor: EventCursor, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(boundaries) (month, transaction_id, position) VALUES (\(month), \(cursor.transactionID), \(cursor.position))
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
            PostgresQuery(unsafeSQL: "SELECT month, transaction_id, position FROM \(boundaries) WHERE month <= \(month) ORDER BY month DESC LIMIT 1"),
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
        for table in tables {
            let rows = try await Self.rows(of: table, asOf: month, on: connection, logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE TEMP VIEW \(table) AS \(rows.select)"), logger: logger)
        }
    }

    /// Each kept table as it stood at the end of `month`, copied into a writable temporary
    /// table of its name, for the events after that month to be replayed into.
    func restore(_ month: Int32, on connection: PostgresConnection, logger: Logger) async throws {
        for table in tables {
            let rows = try await Self.rows(of: table, asOf: month, on: connection, logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO pg_temp.\(table) (\(rows.columns)) \(rows.select)"), logger: logger)
        }
    }

    /// The SELECT of a table's rows as they stood at the end of `month` (the live rows that
    /// held by then, and the kept versions whose months cover it), and its columns.
    static func rows(
        of table: String,
        asOf month: Int32,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (columns: String, select: String) {
        let columns = try await columns(of: table, on: connection, logger: logger)
        return (
            columns,
            """
            SELECT \(columns) FROM public.\(table) WHERE since_month <= \(month)
            UNION ALL
            SELECT \(columns) FROM public.\(table)_history WHERE int4range(since_month, until_month) @> \(month)
            """
        )
    }

    /// A table's columns, in order, quoted.
    static func columns(of table: String, on connection: PostgresConnection, logger: Logger) async throws -> String {
        let rows = try await connection.query(
            """
            SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = to_regclass('public.' || \(table)) AND attnum > 0 AND NOT attisdropped
            """,
            logger: logger
        )
        for try await columns in rows.decode(String?.self) {
            if let columns { return columns }
        }
        throw MissingTable(table: table)
    }

    struct MissingTable: Error, CustomStringConvertible {
        var table: String
        var description: String { "the table \(table) kept at month ends is missing: is the schema migrated?" }
    }
}
