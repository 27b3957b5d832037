import Crypto
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaIdentity
import SponaProjections

/// Everything the HTTP server needs, read once at start-up.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Seconds a client connection may stay silent before it is closed (`SPONA_IDLE_TIMEOUT`).
    public var idleTimeoutSeconds: Int

    /// Where `/metrics`, `/healthz` and `/readyz` are served instead of the API's port
    /// (`SPONA_MANAGEMENT_PORT`, `SPONA_MANAGEMENT_HOST`), as Keycloak's management port: the
    /// figures and probes are for the cluster, not for clients. Nil: on the API's port.
    public var managementPort: Int?
    public var managementHost: String?

    public init(host: String = "127.0.0.1", port: Int = 8080, idleTimeoutSeconds: Int = 30) {
        self.host = host
        self.port = port
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}

/// The parts a router is built from.
public struct Dependencies: Sendable {
    public var database: PostgresClient
    public var store: PostgresEventStore
    public var geography: Geography
    public var logger: Logger
    /// How long a request waits for the database before it answers 503.
    public var databaseDeadline: Duration
    /// How long any request may take to answer before it gets 503 (`SPONA_REQUEST_DEADLINE`).
    public var requestDeadline: Duration = .seconds(30)
    /// How long a transaction may hold the read horizon back before the log warns of it
    /// (`SPONA_HORIZON_WARNING`, seconds, default 300) — and before a starting server stops
    /// waiting for what it holds back and serves, degraded.
    public var horizonWarning: Duration = .seconds(300)
    /// How long a transaction must have held the read horizon back before `/readyz` names it
    /// (shorter ones are the ordinary traffic of a busy cluster).
    public var horizonNamedAfter: Duration = .seconds(5)
    /// The head of the history at start, which readiness waits for the read models to reach.
    public var startupHead = StartupHead()
    /// The present for analysts' closed periods: they see a month once it has ended.
    public var analystNow: @Sendable () -> Date = { Date() }
    /// How many filtered or as-of view queries an analyst may make an hour, per process
    /// (`SPONA_ANALYST_QUERIES_PER_HOUR`, default 300).
    public var analystQueriesPerHour = 300
    /// One log line per request (`SPONA_ACCESS_LOG`, default on).
    public var accessLog = true
    /// The network's identity provider (`SPONA_OIDC_*`); nil: only service tokens sign in.
    public var identityProvider: IdentityProvider?
    /// Browser sign-in for the dashboard (`SPONA_DASHBOARD_URL`, `SPONA_OIDC_AUTHORIZATION_URL`,
    /// `SPONA_OIDC_TOKEN_URL`); nil: the dashboard explains how it is set up.
    public var browserSignIn: BrowserSignIn.Settings?
    /// Failed sign-ins one address may make in a minute before it is answered 429
    /// (`SPONA_FAILED_SIGNINS_PER_MINUTE`, default 20).
    public var failedSignInsPerMinute = 20
    /// Reads of personal data one person (or service account) may make in an hour, per process
    /// (`SPONA_PERSONAL_DATA_READS_PER_HOUR`, default 30): bulk reading of victims' files is
    /// refused, and the refusal is on the case's read trail.
    public var personalDataReadsPerHour = 30
    /// Seals and opens personal data; without it the server accepts none.
    public var vault: PersonalDataVault?
    /// Counts below this are hidden from analysts (`SPONA_SUPPRESSION_THRESHOLD`, default 5).
    public var suppressionThreshold: Int = 5
    /// Signs the history's seals (`SPONA_SEAL_KEY[_FILE]`); without it no seals are made, and
    /// verification checks roots but not signatures.
    public var sealKey: Curve25519.Signing.PrivateKey?
    /// Public keys of seal keys rotated away from (`SPONA_PREVIOUS_SEAL_PUBLIC_KEY`): their
    /// seals still verify, and new seals carry on from them.
    public var previousSealKeys: [Curve25519.Signing.PublicKey] = []
    /// How often the server seals (`SPONA_SEAL_INTERVAL`, minutes); nil: only on demand.
    public var sealInterval: Duration? = .seconds(3600)
    /// Token lookups kept in memory while the database tells of every change (runs as a
    /// service of ``buildApplication(settings:dependencies:)``; idle, it keeps nothing).
    public var tokenCache: AccessTokenCache

    public init(
        database: PostgresClient,
        store: PostgresEventStore,
        geography: Geography,
        logger: Logger,
        databaseDeadline: Duration = .seconds(5),
        vault: PersonalDataVault? = nil
    ) {
        self.vault = vault
        self.database = database
        self.store = store
        self.geography = geography
        self.logger = logger
        self.databaseDeadline = databaseDeadline
        self.tokenCache = AccessTokenCache(client: database, logger: logger)
    }
}

/// Builds the router: operations routes open to all, the `/v1` API behind bearer tokens.
public func buildRouter(_ dependencies: Dependencies, operations: Bool = true) -> Router<SponaRequestContext> {
    let router = Router(context: SponaRequestContext.self)
    // Outermost, so that it counts the answer clients get (a refusal is its 4xx, not an error).
    router.add(middleware: RequestIDMiddleware())
    if dependencies.accessLog { router.add(middleware: AccessLogMiddleware()) }
    router.add(middleware: HTTPMetricsMiddleware(registry: SponaMetrics.registry))
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: InputBoundsMiddleware())
    if operations { registerOperations(on: router, dependencies) }
    router.get("/openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.yaml)))
    }
    registerAPI(on: router, dependencies)
    return router
}

/// The management port's router: probes and metrics only.
public func buildOperationsRouter(_ dependencies: Dependencies) -> Router<SponaRequestContext> {
    let router = Router(context: SponaRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: ProblemMiddleware())
    registerOperations(on: router, dependencies)
    return router
}

/// `/healthz`, `/readyz` and `/metrics`.
func registerOperations(on router: Router<SponaRequestContext>, _ dependencies: Dependencies) {
    HealthRoutes(
        database: dependencies.database,
        store: dependencies.store,
        projections: allProjections(geography: dependencies.geography).map(\.name),
        namedAfter: dependencies.horizonNamedAfter.inSeconds,
        readyBehindHolderAfter: dependencies.horizonWarning.inSeconds,
        startupHead: dependencies.startupHead
    ).register(on: router)
    MetricsRoutes(
        registry: SponaMetrics.registry,
        database: dependencies.database,
        store: dependencies.store,
        projections: allProjections(geography: dependencies.geography).map(\.name)
    ).register(on: router)
}

/// The `/v1` API behind authentication.
func registerAPI(on router: Router<SponaRequestContext>, _ dependencies: Dependencies) {
    let store = dependencies.store
    let api = router.group("v1")
        .add(
            middleware: AuthenticationMiddleware(
                tokens: AccessTokens(client: dependencies.database, logger: dependencies.logger, cache: dependencies.tokenCache),
                identityProvider: dependencies.identityProvider,
                failures: SlidingWindowLimit(most: dependencies.failedSignInsPerMinute, per: .seconds(60)),
                databaseDeadline: dependencies.databaseDeadline
            )
        )
        .add(middleware: IdempotencyKeyRequired())
    CaseRoutes(
        cases: CaseService(store: store, geography: dependencies.geography, vault: dependencies.vault),
        personalDataReads: SlidingWindowLimit(most: dependencies.personalDataReadsPerHour, per: .seconds(3600))
    ).register(on: api)
    WorkRoutes(database: dependencies.database).register(on: api)
    let views = ViewRoutes(
        database: dependencies.database,
        store: store,
        geography: dependencies.geography,
        disclosure: Disclosure(threshold: dependencies.suppressionThreshold),
        analystNow: dependencies.analystNow,
        queryLimit: SlidingWindowLimit(most: dependencies.analystQueriesPerHour, per: .seconds(3600))
    )
    views.register(on: api)
    // The dashboard renders the same views' tables, with the same limits and read trail.
    DashboardRoutes(
        views: views.tables(),
        geography: dependencies.geography,
        sessions: BrowserSessions(client: dependencies.database, logger: dependencies.logger),
        tokens: AccessTokens(client: dependencies.database, logger: dependencies.logger, cache: dependencies.tokenCache),
        identityProvider: dependencies.identityProvider,
        signIn: dependencies.browserSignIn.map(BrowserSignIn.init(settings:))
    ).register(on: router)
    AuditRoutes(
        audit: AuditService(store: store, vault: dependencies.vault),
        store: store,
        sealer: dependencies.sealKey.map {
            HistorySealer(store: store, key: $0, previousKeys: dependencies.previousSealKeys, logger: dependencies.logger)
        },
        publicKeys: (dependencies.sealKey.map { [$0.publicKey] } ?? []) + dependencies.previousSealKeys
    ).register(on: api)
    RegistryRoutes(
        registry: RegistryService(store: store, geography: dependencies.geography),
        database: dependencies.database,
        geography: dependencies.geography
    ).register(on: api)
}

/// Every projection of the server.
public func allProjections(geography: Geography) -> [any Projection] {
    [InstitutionsProjection(geography: geography), CaseWorkProjection(), CaseStatisticsProjection()]
}

/// The projections every server process runs (each elected once across all processes).
public func projectionRunners(_ dependencies: Dependencies) -> [any Service] {
    allProjections(geography: dependencies.geography).map {
        ProjectionRunner(client: dependencies.database, store: dependencies.store, projection: $0, logger: dependencies.logger)
    }
}

/// The HTTP application: the router, the database pool, the store's notifier and the
/// projection runners, shut down in order on SIGTERM/SIGINT (the server stops accepting and
/// finishes in-flight requests first, then the other services, the pool last).
public func buildApplication(settings: ServerSettings, dependencies: Dependencies) -> some ApplicationProtocol {
    // With a management port, probes and metrics are served there only, by an application of
    // their own that shuts down with the rest.
    var management: [any Service] = []
    if let port = settings.managementPort {
        management.append(
            Application(
                router: buildOperationsRouter(dependencies),
                configuration: .init(address: .hostname(settings.managementHost ?? settings.host, port: port), serverName: "spona-management"),
                logger: dependencies.logger
            )
        )
    }
    var app = Application(
        responder: DeadlineResponder(
            responder: buildRouter(dependencies, operations: settings.managementPort == nil).buildResponder(),
            limit: dependencies.requestDeadline
        ),
        // A connection that sends nothing for this long is closed: idle clients cannot hold
        // the server's file descriptors for ever.
        server: .http1(configuration: .init(idleTimeout: .seconds(Int64(settings.idleTimeoutSeconds)))),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "spona"),
        services: [dependencies.database, dependencies.store, dependencies.tokenCache] + projectionRunners(dependencies) + sealSchedule(dependencies)
            + [ReadHorizonWatch(client: dependencies.database, threshold: dependencies.horizonWarning, logger: dependencies.logger)]
            + management + (dependencies.vault?.services ?? []),
        logger: dependencies.logger
    )
    // A database restored or moved into another cluster gets its event order carried over
    // before this server takes a request; when that fails, the server does not start.
    // Then the key folder is held to the history (nothing erased comes back; a wrong or empty
    // folder stops the start instead of every case reading "erased").
    app.beforeServerStarts {
        [
            database = dependencies.database, store = dependencies.store, vault = dependencies.vault, logger = dependencies.logger,
            head = dependencies.startupHead, identityProvider = dependencies.identityProvider
        ] in
        try await EventOrder.advance(client: database, logger: logger)
        if let vault {
            try await vault.store.prepare()
            try await KeyFolderCheck.run(store: store, vault: vault, logger: logger)
        }
        try await head.record(store)
        if let identityProvider, await !identityProvider.warm() {
            logger.error(
                "the identity provider's keys could not be read: people cannot sign in until they can (service tokens still work)",
                metadata: ["issuer": "\(identityProvider.settings.issuer)"]
            )
        }
    }
    return app
}

/// The periodic seal, when the server has a seal key and an interval.
func sealSchedule(_ dependencies: Dependencies) -> [any Service] {
    guard let key = dependencies.sealKey, let interval = dependencies.sealInterval else { return [] }
    return [
        SealSchedule(
            sealer: HistorySealer(store: dependencies.store, key: key, previousKeys: dependencies.previousSealKeys, logger: dependencies.logger),
            interval: interval,
            logger: dependencies.logger
        )
    ]
}
