import Foundation
import Logging
import PostgresNIO
import SponaEventStore

/// Where a projection stands: how many events and how many seconds it is behind the store.
public struct ProjectionStatus: Sendable, Encodable {
    public var name: String
    public var eventsApplied: Int64
    public var eventsBehind: Int64
    /// Since the oldest event it has not applied yet was recorded; 0 when it is at the head.
    public var secondsBehind: Double
    public var updatedAt: Date?
    /// The event it stands still at, when it cannot apply one.
    public var stoppedAt: ProjectionFailure?
    /// Folding the whole history again after a version change; its views answer "rebuilding".
    public var rebuilding: Bool = false
    /// Where it has got to in the history.
    public var checkpoint: EventCursor = .start

    /// The version of each projection this code folds (a stored one below it is rebuilt).
    public static let codeVersions: [String: Int] = [
        InstitutionsProjection.projectionName: InstitutionsProjection.currentVersion,
        CaseWorkProjection.projectionName: CaseWorkProjection.currentVersion,
        CaseStatisticsProjection.projectionName: CaseStatisticsProjection.currentVersion,
    ]

    /// The status of each of `names`, read from the checkpoints and the store.
    public static func read(_ names: [String], client: PostgresClient, store: PostgresEventStore, logger: Logger) async throws -> [ProjectionStatus] {
        var checkpoints: [String: (EventCursor, Int64, Date, Bool)] = [:]
        let rows = try await client.query(
            "SELECT projection, transaction_id, position, events_applied, updated_at, rebuilding_until_transaction IS NOT NULL, version FROM projection_checkpoints",
            logger: logger
        )
        for try await (name, transaction, position, applied, updated, rebuilding, version) in rows.decode(
            (String, Int64, Int64, Int64, Date, Bool, Int32).self
        ) {
            // A stored version below the code's is a rebuild about to start.
            let stale = Int(version) < (codeVersions[name] ?? 0)
            checkpoints[name] = (EventCursor(transactionID: UInt64(transaction), position: position), applied, updated, rebuilding || stale)
        }
        let failures = try await ProjectionFailures.all(client: client, logger: logger)
        var result: [ProjectionStatus] = []
        let now = Date()
        for name in names {
            let checkpoint = checkpoints[name]
            let (behind, oldest) = try await store.backlog(after: checkpoint?.0 ?? .start)
            result.append(
                ProjectionStatus(
                    name: name,
                    eventsApplied: checkpoint?.1 ?? 0,
                    eventsBehind: behind,
                    secondsBehind: oldest.map { max(0, now.timeIntervalSince($0)) } ?? 0,
                    updatedAt: checkpoint?.2,
                    stoppedAt: failures[name],
                    rebuilding: checkpoint?.3 ?? false,
                    checkpoint: checkpoint?.0 ?? .start
                )
            )
        }
        return result
    }

    /// Which of `names` are rebuilding now (one small query, for every view request).
    public static func rebuilding(_ names: [String], client: PostgresClient, logger: Logger) async throws -> [String] {
        let rows = try await client.query(
            """
            SELECT projection, rebuilding_until_transaction IS NOT NULL, version FROM projection_checkpoints WHERE projection = ANY(\(names))
            """,
            logger: logger
        )
        var found: [String] = []
        for try await (name, rebuilding, version) in rows.decode((String, Bool, Int32).self)
        where rebuilding || Int(version) < (codeVersions[name] ?? 0) {
            found.append(name)
        }
        return found
    }
}
