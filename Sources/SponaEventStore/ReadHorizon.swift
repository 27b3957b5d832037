import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// What holds the read horizon back.
///
/// Readers, projections and seals see only events below the oldest transaction still running
/// anywhere in the PostgreSQL cluster, since an event of that transaction may yet commit
/// behind them. So any transaction holding a transaction id — in this database or another of
/// the cluster, a forgotten `BEGIN` in psql, a stuck batch job, a prepared transaction — holds
/// back every view and seal for as long as it runs. This names it, so an operator can end it
/// (`SELECT pg_terminate_backend(pid)`) and bound it (`idle_in_transaction_session_timeout`).
public enum ReadHorizon {
    /// The oldest transaction holding a transaction id in the cluster.
    public struct Holder: Sendable, Hashable, Encodable {
        /// The server process (`pg_stat_activity.pid`); nil for a prepared transaction.
        public var pid: Int?
        public var database: String?
        public var application: String?
        /// `active`, `idle in transaction`…, or `prepared` (two-phase commit) — or nil when this
        /// login may not see other sessions (grant it `pg_read_all_stats` to see them).
        public var state: String?
        /// How long it has been running, in seconds.
        public var seconds: Double
        /// Whether it runs in this server's own database.
        public var sameDatabase: Bool
    }

    /// The oldest transaction holding a transaction id anywhere in the cluster, if any.
    public static func oldestHolder(client: PostgresClient, logger: Logger) async throws -> Holder? {
        let rows = try await client.query(
            """
            SELECT pid, datname, application_name, state, seconds, same_database FROM (
                SELECT pid, datname::text, application_name, state,
                       extract(epoch FROM clock_timestamp() - xact_start)::float8 AS seconds,
                       datname = current_database() AS same_database, age(backend_xid) AS xid_age
                FROM pg_stat_activity
                WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
                UNION ALL
                SELECT NULL, database::text, NULL, 'prepared',
                       extract(epoch FROM clock_timestamp() - prepared)::float8,
                       database = current_database(), age(transaction)
                FROM pg_prepared_xacts
            ) holders
            ORDER BY xid_age DESC
            LIMIT 1
            """,
            logger: logger
        )
        for try await (pid, database, application, state, seconds, same) in rows.decode((Int32?, String?, String?, String?, Double?, Bool?).self) {
            return Holder(
                pid: pid.map(Int.init),
                database: database,
                application: application?.isEmpty == true ? nil : application,
                state: state,
                seconds: seconds ?? 0,
                sameDatabase: same ?? false
            )
        }
        return nil
    }
}

extension ReadHorizon.Holder: CustomStringConvertible {
    public var description: String {
        var parts = [pid.map { "pid \($0)" } ?? "a prepared transaction"]
        if let database { parts.append("database \(database)") }
        if let application { parts.append("application '\(application)'") }
        parts.append(state ?? "state unknown (grant pg_read_all_stats to see it)")
        parts.append(String(format: "running %.0f s", seconds))
        return parts.joined(separator: ", ")
    }
}

/// Logs a warning, every `interval`, while a transaction has held the read horizon back longer
/// than `threshold`: views and seals stand still behind it, and nothing else says why.
public struct ReadHorizonWatch: Service {
    let client: PostgresClient
    let threshold: Duration
    let interval: Duration
    let logger: Logger

    public init(client: PostgresClient, threshold: Duration = .seconds(300), interval: Duration = .seconds(30), logger: Logger) {
        self.client = client
        self.threshold = threshold
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let limit = Double(threshold.components.seconds)
        // It holds nothing: on graceful shutdown it simply stops.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                let (client, logger) = (self.client, self.logger)
                let found = try? await withTimeout(interval, { try await ReadHorizon.oldestHolder(client: client, logger: logger) })
                guard let holder = found ?? nil, holder.seconds > limit else { continue }
                logger.warning(
                    "a transaction holds the read horizon back: views, projections and seals see nothing newer until it ends",
                    metadata: ["holder": "\(holder)", "pid": "\(holder.pid.map(String.init) ?? "-")", "seconds": "\(Int(holder.seconds))"]
                )
            }
        }
    }
}
