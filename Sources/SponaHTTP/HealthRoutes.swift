import Foundation
import Hummingbird
import PostgresNIO
import SchemaMigrations
import SponaEventStore
import SponaProjections

/// `/healthz`: the process is alive. `/readyz`: it can serve, i.e. the database answers and
/// its event order can be trusted (``EventOrder``).
/// Orchestrators restart on the first and route traffic on the second. A projection stopped at
/// an event makes readiness "degraded" (still 200: every process shares the same history, so
/// taking them out of service would stop the whole API for one view).
/// The head of the history when this server started, and whether every projection has
/// reached it since: until then the process is not ready (its views would show figures from
/// before events it already holds).
public actor StartupHead {
    private(set) var cursor: EventCursor?
    private(set) var reached = false

    public init() {}

    /// Notes where the history stands now (a server's start): its last committed event, not
    /// the read horizon's (a transaction left open elsewhere in the cluster would otherwise
    /// let a server call itself ready with views missing events it already holds).
    public func record(_ store: PostgresEventStore) async throws {
        cursor = try await store.lastCommitted()
        reached = cursor == nil
    }

    func markReached() { reached = true }
}

struct HealthRoutes: Sendable {
    let database: PostgresClient
    let store: PostgresEventStore
    let projections: [String]
    /// Seconds a transaction must have held the read horizon back before readyz names it.
    var namedAfter: Double = 5
    /// Seconds after which a starting server stops waiting for events held behind the read
    /// horizon: it serves what its views can show (degraded, naming the transaction), so that
    /// a forgotten session somewhere in the cluster never keeps new servers from taking
    /// reports. `SPONA_HORIZON_WARNING`, when the same transaction is logged as a warning.
    var readyBehindHolderAfter: Double = 300
    var startupHead = StartupHead()
    /// The migration level the server needs; nil: not checked (tests of a bare store).
    var requiredSchemaLevel: Int? = SchemaMigrator.requiredLevel

    struct Status: ResponseEncodable {
        var status: String
        var database: String?
        /// How far behind each projection is (the views may show an older moment).
        var projections: [String: Lag]?
        /// Projections that stand still at an event they cannot apply: their views answer 503
        /// until an operator retries or skips it; everything else serves.
        var stopped: [ProjectionFailure]?
        /// Projections folding the whole history again after an upgrade changed them.
        var rebuilding: [String]?
        /// The oldest transaction in the cluster holding the read horizon back, when it has
        /// for more than a few seconds: nothing newer reaches the views until it ends.
        var horizonHeldBy: ReadHorizon.Holder?
    }

    struct Lag: Encodable {
        var eventsBehind: Int64
        var secondsBehind: Double
    }

    func register(on router: Router<SponaRequestContext>) {
        router.get("/healthz") { _, _ in
            Status(status: "ok")
        }
        router.get("/readyz") { _, context in
            let (database, store, names) = (self.database, self.store, self.projections)
            let order: EventOrder.State
            do {
                order = try await withDeadline(.seconds(2)) { try await EventOrder.state(client: database, logger: context.logger) }
            } catch {
                throw Problem.databaseUnavailable
            }
            // A restored or moved database whose order was not carried over: nothing can be
            // written, and this process should get no traffic until it is.
            guard order.trusted else { throw EventStoreError.orderUntrusted }
            // A binary newer than its schema would fail on its first use of what is missing.
            if let required = self.requiredSchemaLevel {
                let applied = try await withDeadline(.seconds(2)) { try await SchemaMigrator.appliedLevel(client: database, logger: context.logger) }
                guard applied >= required else { throw Problem.schemaBehind(applied: applied, required: required) }
            }
            // Lag is detail, not readiness: when it takes too long to count, it is left out.
            let statuses = try? await withDeadline(.seconds(2)) {
                try await ProjectionStatus.read(names, client: database, store: store, logger: context.logger)
            }
            // Ready only once every projection has caught up with the history as it was at start
            // — or with all of it readers can see, when a transaction has held the rest back for
            // longer than an operator is warned after (then degraded, and it is named).
            var heldBack = false
            if let head = await startupHead.cursor, await !startupHead.reached {
                guard let statuses else { throw Problem.catchingUp(names) }
                let behind = statuses.filter { $0.stoppedAt == nil && $0.checkpoint < head }.map(\.name)
                if behind.isEmpty {
                    await startupHead.markReached()
                } else {
                    let holder = try? await withDeadline(.seconds(1)) {
                        try await ReadHorizon.oldestHolder(client: database, logger: context.logger)
                    }
                    guard let holder = holder ?? nil, holder.seconds >= readyBehindHolderAfter,
                        let readable = try? await store.readableHead(),
                        statuses.allSatisfy({ $0.stoppedAt != nil || $0.checkpoint >= readable })
                    else { throw Problem.catchingUp(behind, heldBy: holder ?? nil) }
                    heldBack = true
                }
            }
            let lags = statuses.map { statuses in
                Dictionary(
                    uniqueKeysWithValues: statuses.map {
                        ($0.name, Lag(eventsBehind: $0.eventsBehind, secondsBehind: ($0.secondsBehind * 1000).rounded() / 1000))
                    }
                )
            }
            let stopped = statuses?.compactMap(\.stoppedAt) ?? []
            let rebuilding = statuses?.filter(\.rebuilding).map(\.name) ?? []
            let holder = try? await withDeadline(.seconds(1)) { try await ReadHorizon.oldestHolder(client: database, logger: context.logger) }
            return Status(
                status: stopped.isEmpty && rebuilding.isEmpty && !heldBack ? "ready" : "degraded",
                database: "ok",
                projections: lags,
                stopped: stopped.isEmpty ? nil : stopped,
                rebuilding: rebuilding.isEmpty ? nil : rebuilding,
                horizonHeldBy: (holder ?? nil).flatMap { $0.seconds >= namedAfter ? $0 : nil }
            )
        }
    }
}
