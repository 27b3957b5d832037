import Foundation
import Logging
import PostgresNIO
import SponaEventStore

/// A view as it stood at a past moment: the projections' own fold replayed, on one
/// connection, into temporary tables of the same names — which PostgreSQL searches before
/// the real ones — from the events recorded up to that moment. The view's queries then run
/// unchanged on that connection, so an as-of view is by construction a rebuild cut at that
/// point, disclosure control included. The temporary tables go when the body ends.
public enum PointInTime {
    public static func withViews<Result: Sendable>(
        _ projections: [any Projection],
        at moment: Date,
        client: PostgresClient,
        store: PostgresEventStore,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            func run(_ sql: String) async throws { try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
            do {
                for table in Set(projections.flatMap(\.tables)).sorted() {
                    try await run("CREATE TEMP TABLE \(table) (LIKE public.\(table) INCLUDING ALL)")
                }
                // Events an operator told a projection to skip are skipped here too.
                var skipped: [String: Set<UUID>] = [:]
                for projection in projections {
                    skipped[projection.name] = try await ProjectionEventSkipped.recorded(for: projection.name, in: store)
                }
                var cursor = EventCursor.start
                var batches = 0
                let tables = Set(projections.flatMap(\.tables)).sorted()
                while true {
                    let batch = try await store.readAll(
                        after: cursor,
                        limit: 5000,
                        recordedUpTo: moment,
                        categories: ProjectionRebuild.categories(of: projections)
                    )
                    guard let last = batch.last else { break }
                    try await DecodedCaseEvents.sharing {
                        try await connection.withTransaction(logger: logger) { connection in
                            for projection in projections {
                                let skip = skipped[projection.name] ?? []
                                let share = batch.filter { projection.folds($0.streamID) && !skip.contains($0.id) }
                                if !share.isEmpty { try await projection.apply(share, on: connection, logger: logger) }
                            }
                        }
                    }
                    cursor = last.cursor
                    batches += 1
                    try await ProjectionRebuild.analyzeIfDue(after: batches, tables: tables, on: connection, logger: logger)
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
}
