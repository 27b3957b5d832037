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
            refreshProcess()
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

    // One help text per metric: the registry stops the process on two different ones.
    static let eventsBehindHelp = "Events committed that the projection has not applied yet (NaN: the database did not answer)"
    static let secondsBehindHelp = "Age of the oldest event the projection has not applied yet (NaN: the database did not answer)"

    func gauge(_ name: String, _ help: String, labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// The process as Prometheus's conventions name it: memory, file descriptors, start time
    /// (from `/proc/self`, where there is one), and which build this is.
    func refreshProcess() {
        gauge("spona_build_info", "Always 1; the labels say which Spona this is", labels: [("version", SponaMetrics.version)]).set(1.0)
        gauge("process_start_time_seconds", "When this process started (Unix time)").set(SponaMetrics.startedAt.timeIntervalSince1970)
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " "), statm.count > 1,
            let pages = Double(statm[1])
        {
            gauge("process_resident_memory_bytes", "Resident memory").set(pages * Double(sysconf(Int32(_SC_PAGESIZE))))
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            gauge("process_open_fds", "Open file descriptors (client connections among them)").set(Double(descriptors.count))
        }
        if let limit = Self.openFileLimit() { gauge("process_max_fds", "The limit on open file descriptors").set(limit) }
    }

    static func openFileLimit() -> Double? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return Double(limit.rlim_cur)
    }

    /// The figures that live in the database, read now. When it does not answer in time they
    /// are not known: `spona_database_up` says 0 and the lags read NaN, never the last value
    /// seen as if it were current.
    func refresh(logger: Logger) async {
        let (database, store, projections) = (self.database, self.store, self.projections)
        let statuses = try? await withDeadline(
            .seconds(2),
            { try await ProjectionStatus.read(projections, client: database, store: store, logger: logger) }
        )
        gauge("spona_database_up", "1 when the database answered this scrape's questions in time").set(statuses == nil ? 0.0 : 1.0)
        if statuses == nil {
            for name in projections {
                gauge("spona_projection_events_behind", Self.eventsBehindHelp, labels: [("projection", name)]).set(Double.nan)
                gauge("spona_projection_seconds_behind", Self.secondsBehindHelp, labels: [("projection", name)]).set(Double.nan)
            }
        }
        if let statuses {
            for status in statuses {
                gauge(
                    "spona_projection_events_behind",
                    Self.eventsBehindHelp,
                    labels: [("projection", status.name)]
                ).set(Double(status.eventsBehind))
                gauge(
                    "spona_projection_seconds_behind",
                    Self.secondsBehindHelp,
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
            gauge("spona_seal_last_timestamp_seconds", "When the last seal was made (Unix time)").set(sealed.sealedAt.timeIntervalSince1970)
        }
    }
}

/// Sends swift-metrics to a Prometheus registry; once per process.
public enum SponaMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    static let startedAt = Date()
    /// The API's version, as the OpenAPI document gives it.
    static let version = "0.3.0"
}

/// Counts every answer by route template, method and status (`spona_http_requests_total`), and
/// times it (`spona_http_request_duration_seconds`), after Prometheus's naming conventions.
/// Labels are route templates only (`/v1/cases/{case}`): never an id of a case or a person.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let registry: PrometheusCollectorRegistry
    /// Made once: looking it up in the registry is a lock and a dictionary on every request.
    let inFlight: Prometheus.Gauge

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        self.inFlight = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "spona_http_requests_in_flight", unitName: "", helpText: "Requests being answered now"),
            labels: []
        )
    }

    static var buckets: [Duration] {
        [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        inFlight.increment()
        defer { inFlight.decrement() }
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            record(request, context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: started)
            throw error
        }
        record(request, context, status: response.status, since: started)
        return response
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, since started: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        let labels = [("method", request.method.rawValue), ("route", route), ("status", String(status.code))]
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "spona_http_requests", unitName: "total", helpText: "HTTP requests answered"),
            labels: labels
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "spona_http_request_duration",
                unitName: "seconds",
                helpText: "Time to answer an HTTP request"
            ),
            labels: [("method", request.method.rawValue), ("route", route)],
            buckets: Self.buckets
        ).record(ContinuousClock.now - started)
    }
}
