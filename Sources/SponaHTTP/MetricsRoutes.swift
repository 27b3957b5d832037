import Foundation
import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Prometheus
import SponaEventStore
import SponaProjections

/// `/metrics` in the Prometheus text format, for operators: the HTTP requests (by route
/// template, method and status — never a path with an id in it), and, read when scraped, each
/// projection's lag, the store's head and the last seal's age. Labels are names of routes and
/// projections only: no case, person or token ever appears.
struct MetricsRoutes: Sendable {
    let registry: PrometheusCollectorRegistry
    let database: PostgresClient
    let store: PostgresEventStore
    let projections: [String]

    func register(on router: Router<SponaRequestContext>) {
        router.get("/metrics") { _, context in
            await refresh(logger: context.logger)
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
    }

    func gauge(_ name: String, _ help: String, labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// The figures that live in the database, read now; left as they were if it does not answer in time.
    func refresh(logger: Logger) async {
        let (database, store, projections) = (self.database, self.store, self.projections)
        if let statuses = try? await withDeadline(
            .seconds(2),
            { try await ProjectionStatus.read(projections, client: database, store: store, logger: logger) }
        ) {
            for status in statuses {
                gauge(
                    "spona_projection_events_behind",
                    "Events committed that the projection has not applied yet",
                    labels: [("projection", status.name)]
                ).set(Double(status.eventsBehind))
                gauge(
                    "spona_projection_seconds_behind",
                    "Age of the oldest event the projection has not applied yet",
                    labels: [("projection", status.name)]
                ).set(status.secondsBehind)
                gauge("spona_projection_events_applied", "Events the projection has applied", labels: [("projection", status.name)]).set(
                    Double(status.eventsApplied)
                )
                gauge(
                    "spona_projection_stopped",
                    "1 when the projection stands still at an event it cannot apply",
                    labels: [("projection", status.name)]
                ).set(Double(status.stoppedAt == nil ? 0 : 1))
            }
        }
        do {
            let holder = try await withDeadline(.seconds(2), { try await ReadHorizon.oldestHolder(client: database, logger: logger) })
            gauge("spona_read_horizon_held_seconds", "How long the oldest transaction of the cluster has held the read horizon back (0: none)")
                .set(holder?.seconds ?? 0)
        } catch {
            // Left as it was: the database did not answer in time.
        }
        if let last = try? await withDeadline(.seconds(2), { try await store.readStreamBackward(Seal.stream, limit: 1) }),
            let event = last.first, let sealed = try? Seal(event: event)
        {
            gauge("spona_seal_tree_size", "Events covered by the last seal").set(Double(sealed.treeSize))
            gauge("spona_seal_age_seconds", "Seconds since the last seal").set(Date().timeIntervalSince(sealed.sealedAt))
        }
    }
}

/// Sends swift-metrics (Hummingbird's request metrics among them) to a Prometheus registry;
/// once per process.
public enum SponaMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
