import Foundation
import Hummingbird
import Logging
import PostgresNIO
import SponaEventStore

/// Everything the HTTP server needs, read once at start-up.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    public var requestBodyLimit: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, requestBodyLimit: Int = 1 << 20) {
        self.host = host
        self.port = port
        self.requestBodyLimit = requestBodyLimit
    }
}

public typealias SponaRequestContext = BasicRequestContext

/// Builds the router: operations routes for now; the `/v1` API joins as its issues land.
public func buildRouter(database: PostgresClient, logger: Logger) -> Router<SponaRequestContext> {
    let router = Router(context: SponaRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    HealthRoutes(database: database).register(on: router)
    return router
}

/// The HTTP application: the router, the database pool and the store's notifier, shut down in
/// order on SIGTERM/SIGINT (the server stops accepting and finishes in-flight requests first,
/// then the store, then the pool).
public func buildApplication(
    settings: ServerSettings,
    database: PostgresClient,
    store: PostgresEventStore,
    logger: Logger
) -> some ApplicationProtocol {
    let router = buildRouter(database: database, logger: logger)
    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "spona"),
        services: [database, store],
        logger: logger
    )
}
