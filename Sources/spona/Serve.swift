import ArgumentParser
import Foundation
import Hummingbird
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaHTTP
import SponaIdentity

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the HTTP API.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT: stops accepting, finishes requests in flight \
            (and so their appends), then closes the database pool.

            Environment:
              DATABASE_URL        PostgreSQL URL of the server's login (a member of spona_app); required
              SPONA_HOST          address to listen on (default 127.0.0.1)
              SPONA_PORT          port to listen on (default 8080)
              SPONA_DB_POOL_SIZE  most database connections this process opens (default 20)
              SPONA_REQUEST_DEADLINE  seconds a request may take before it gets 503 (default 30)
              SPONA_IDLE_TIMEOUT  seconds a silent client connection stays open (default 30)
              SPONA_REFERENCE_DIR the folder of reference data (default: ./Reference)
              SPONA_MASTER_KEY    base64 of the 32-byte master key that wraps the subjects' keys;
                                  or SPONA_MASTER_KEY_FILE, a file holding it (`spona keys generate`)
              SPONA_PREVIOUS_MASTER_KEY[_FILE]  the key being rotated away from (see `spona keys rotate`)
              SPONA_KEY_DIR       the folder of the subjects' wrapped keys; keep it outside the
                                  database and its backups (erasure deletes a key file for good)
              SPONA_SUPPRESSION_THRESHOLD  counts below it are shown to analysts as "<N" (default 5)
              SPONA_SEAL_KEY      base64 of the Ed25519 key that signs the history's seals; or
                                  SPONA_SEAL_KEY_FILE (`spona keys generate-seal-key`). Without
                                  it the server makes no seals.
              SPONA_SEAL_INTERVAL minutes between seals (default 60; 0: only on demand)
              SPONA_PREVIOUS_SEAL_PUBLIC_KEY  after a seal key rotation, the old key's public
                                  key (base64; several comma-separated): its seals still verify
              SPONA_LOG_LEVEL     trace, debug, info (default), notice, warning, error
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Address to listen on.", discussion: "Environment: SPONA_HOST.", valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on.", discussion: "Environment: SPONA_PORT.", valueName: "port"))
    var port: Int?

    func run() async throws {
        // Async work runs on the event loops that do the I/O (Hummingbird's and PostgresNIO's
        // shared group) instead of hopping to Swift's own pool and back at every await.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        let logger = try makeLogger(label: "spona", level: nil)
        // Every setting is read and checked before anything starts, and every problem is
        // reported, one line each: an operator fixes them in one go.
        var problems = SettingsProblems()
        let url = problems.attempt { try database.resolve() }
        var settings = ServerSettings()
        settings.host = host ?? Environment.value("SPONA_HOST") ?? settings.host
        if let port {
            settings.port = port
        } else if let chosen = problems.number("SPONA_PORT", 1...65535, unit: "port number") {
            settings.port = chosen
        }
        if let port = problems.number("SPONA_MANAGEMENT_PORT", 1...65535, unit: "port number") {
            if port == settings.port { problems.lines.append("SPONA_MANAGEMENT_PORT \(port) is the API's port; give it one of its own") }
            settings.managementPort = port
        }
        settings.managementHost = Environment.value("SPONA_MANAGEMENT_HOST")
        if let seconds = problems.number("SPONA_IDLE_TIMEOUT", 1...3600, unit: "number of seconds") { settings.idleTimeoutSeconds = seconds }
        let poolSize = problems.number("SPONA_DB_POOL_SIZE", 1...1000)
        let geography = problems.attempt { try ReferenceData.geography(in: Environment.referenceDirectory) }
        let vault = problems.attempt { try PersonalDataVault.fromEnvironment(Environment.variables, logger: logger) }
        let threshold = problems.number("SPONA_SUPPRESSION_THRESHOLD", 1...1000)
        let sealKey = problems.attempt { try SealKeys.privateKeyFromEnvironment() }
        let previousSealKeys = problems.attempt { try SealKeys.previousPublicKeys() }
        let sealMinutes = problems.number("SPONA_SEAL_INTERVAL", 0...10_080, unit: "number of minutes")
        let deadline = problems.number("SPONA_REQUEST_DEADLINE", 1...3600, unit: "number of seconds")
        let analystQueries = problems.number("SPONA_ANALYST_QUERIES_PER_HOUR", 1...100_000)
        let horizonWarning = problems.number("SPONA_HORIZON_WARNING", 1...86_400, unit: "number of seconds")
        let failedSignIns = problems.number("SPONA_FAILED_SIGNINS_PER_MINUTE", 1...10_000)
        let personalDataReads = problems.number("SPONA_PERSONAL_DATA_READS_PER_HOUR", 1...100_000)
        let accessLog = Environment.value("SPONA_ACCESS_LOG")
        if let accessLog, !["on", "off"].contains(accessLog) { problems.lines.append("SPONA_ACCESS_LOG '\(accessLog.prefix(40))' is not on or off") }
        let provider = problems.attempt { try IdentityProviderSettings.fromEnvironment(Environment.variables) }
        let browserSignIn = problems.attempt { try BrowserSignIn.Settings.fromEnvironment(Environment.variables) }
        if (browserSignIn ?? nil) != nil, (provider ?? nil) == nil {
            problems.lines.append("SPONA_DASHBOARD_URL needs the identity provider (SPONA_OIDC_ISSUER and the rest) to sign browsers in")
        }
        guard problems.lines.isEmpty, let url, let geography, let vault else { throw CommandFailure(problems.lines.joined(separator: "\n")) }

        var configuration = url.configuration
        if let poolSize { configuration.options.maximumConnections = poolSize }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let store = PostgresEventStore(client: client, logger: logger)
        var dependencies = Dependencies(database: client, store: store, geography: geography, logger: logger, vault: vault)
        if let threshold { dependencies.suppressionThreshold = threshold }
        dependencies.sealKey = sealKey ?? nil
        dependencies.previousSealKeys = previousSealKeys ?? []
        if let sealMinutes { dependencies.sealInterval = sealMinutes == 0 ? nil : .seconds(sealMinutes * 60) }
        if let deadline { dependencies.requestDeadline = .seconds(deadline) }
        if let analystQueries { dependencies.analystQueriesPerHour = analystQueries }
        if let horizonWarning { dependencies.horizonWarning = .seconds(horizonWarning) }
        if let failedSignIns { dependencies.failedSignInsPerMinute = failedSignIns }
        if let personalDataReads { dependencies.personalDataReadsPerHour = personalDataReads }
        if let accessLog { dependencies.accessLog = accessLog == "on" }
        if let provider = provider ?? nil {
            dependencies.identityProvider = IdentityProvider(
                settings: provider,
                knownDistricts: Set(geography.districts.map(\.code.rawValue)),
                logger: logger
            )
            logger.info("people sign in through the identity provider", metadata: ["issuer": "\(provider.issuer)"])
        } else {
            logger.notice("no identity provider (SPONA_OIDC_ISSUER): only service tokens sign in")
        }
        if let browserSignIn = browserSignIn ?? nil {
            dependencies.browserSignIn = browserSignIn
            if browserSignIn.publicURL.scheme == "http" {
                logger.warning("SPONA_DASHBOARD_URL is http: session cookies are not marked Secure; serve the dashboard over https")
            }
        } else {
            logger.notice("no SPONA_DASHBOARD_URL: the dashboard explains how browser sign-in is set up")
        }
        if dependencies.sealKey == nil { logger.notice("no seal key (SPONA_SEAL_KEY_FILE): the history is not being sealed") }
        let app = buildApplication(settings: settings, dependencies: dependencies)
        logger.info("serving", metadata: ["address": "\(settings.host):\(settings.port)", "database": "\(url)"])
        // Graceful shutdown is bounded too: whatever a fault left hanging, SIGTERM ends the
        // process within seconds (in-flight requests get up to 10 s to finish).
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        group.maximumGracefulShutdownDuration = .seconds(10)
        group.maximumCancellationDuration = .seconds(3)
        try await ServiceGroup(configuration: group).run()
    }

}

/// The problems found in a command's settings, one line each.
struct SettingsProblems {
    var lines: [String] = []

    /// The whole number in `name`, if it is set and within `range`; else nil (and, when set
    /// but wrong, a line saying so).
    mutating func number(_ name: String, _ range: ClosedRange<Int>, unit: String = "whole number") -> Int? {
        guard let text = Environment.value(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            lines.append("\(name) '\(text.prefix(40))' is not a \(unit) from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    /// `body`'s value, or nil and its error as a line.
    mutating func attempt<T>(_ body: () throws -> T) -> T? {
        do { return try body() } catch {
            lines.append("\(error)")
            return nil
        }
    }
}
