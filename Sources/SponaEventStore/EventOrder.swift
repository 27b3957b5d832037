import Foundation
import Logging
import PostgresNIO

/// The store's reading order across restores and moves (`Schema/0008_restore_safe_order.sql`).
///
/// Readers order events by (transaction id, position) below the read horizon. A database
/// restored into a new cluster, or moved by logical replication, meets a transaction counter
/// far below its stored ids; until a new *era* begins, the store refuses appends rather than
/// place new events before old ones. `spona migrate` and every server's start call
/// ``advance(client:logger:)``; it does nothing when the order is already trusted.
public enum EventOrder {
    public struct State: Sendable, Hashable {
        /// How many times the order was carried over a restore or move.
        public var era: Int
        /// What the era adds to the cluster's transaction ids.
        public var offset: Int64
        public var beganAt: Date?
        /// Whether the next event will come after every stored one.
        public var trusted: Bool
    }

    /// Begins a new era when the cluster's counter is behind the stored history. Answers the new
    /// era, or nil when the order was trusted already.
    @discardableResult
    public static func advance(client: PostgresClient, logger: Logger) async throws -> Int? {
        let rows = try await client.query("SELECT spona_advance_event_order()", logger: logger)
        for try await era in rows.decode(Int32?.self) {
            guard let era else { return nil }
            logger.warning(
                "the event order began era \(era): this database's transaction counter was behind its stored history (it was restored or moved); new events come after every stored one"
            )
            return Int(era)
        }
        return nil
    }

    public static func state(client: PostgresClient, logger: Logger) async throws -> State {
        let rows = try await client.query(
            "SELECT era, xid_offset, began_at, spona_event_order_trusted() FROM event_order",
            logger: logger
        )
        for try await (era, offset, beganAt, trusted) in rows.decode((Int32, Int64, Date?, Bool).self) {
            return State(era: Int(era), offset: offset, beganAt: beganAt, trusted: trusted)
        }
        return State(era: 0, offset: 0, beganAt: nil, trusted: false)
    }
}
