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
        let url = try database.resolve()
        var settings = ServerSettings()
        settings.host = host ?? Environment.value("SPONA_HOST") ?? settings.host
        if let port {
            settings.port = port
        } else if let text = Environment.value("SPONA_PORT") {
            settings.port = try Self.parsePort(text)
        }
        if let text = Environment.value("SPONA_MANAGEMENT_PORT") {
            let port = try Self.parsePort(text, name: "SPONA_MANAGEMENT_PORT")
            guard port != settings.port else { throw CommandFailure("SPONA_MANAGEMENT_PORT \(port) is the API's port; give it one of its own") }
            settings.managementPort = port
        }
        settings.managementHost = Environment.value("SPONA_MANAGEMENT_HOST")
        if let text = Environment.value("SPONA_IDLE_TIMEOUT") {
            guard let seconds = Int(text), (1...3600).contains(seconds) else {
                throw CommandFailure("SPONA_IDLE_TIMEOUT '\(text)' is not a number of seconds from 1 to 3600")
            }
            settings.idleTimeoutSeconds = seconds
        }
        var configuration = url.configuration
        if let poolText = Environment.value("SPONA_DB_POOL_SIZE") {
            guard let size = Int(poolText), size > 0 else { throw CommandFailure("SPONA_DB_POOL_SIZE '\(poolText)' is not a positive whole number") }
            configuration.options.maximumConnections = size
        }

        let geography: Geography
        do { geography = try ReferenceData.geography(in: ReferenceData.defaultDirectory) } catch { throw CommandFailure("\(error)") }
        let vault: PersonalDataVault
        do { vault = try PersonalDataVault.fromEnvironment() } catch { throw CommandFailure("\(error)") }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let store = PostgresEventStore(client: client, logger: logger)
        var dependencies = Dependencies(database: client, store: store, geography: geography, logger: logger, vault: vault)
        if let text = Environment.value("SPONA_SUPPRESSION_THRESHOLD") {
            guard let threshold = Int(text), threshold >= 1 else {
                throw CommandFailure("SPONA_SUPPRESSION_THRESHOLD '\(text)' is not a positive whole number")
            }
            dependencies.suppressionThreshold = threshold
        }
        dependencies.sealKey = try SealKeys.privateKeyFromEnvironment()
        dependencies.previousSealKeys = try SealKeys.previousPublicKeys()
        if let text = Environment.value("SPONA_SEAL_INTERVAL") {
            guard let minutes = Int(text), minutes >= 0 else {
                throw CommandFailure("SPONA_SEAL_INTERVAL '\(text)' is not a whole number of minutes")
            }
            dependencies.sealInterval = minutes == 0 ? nil : .seconds(minutes * 60)
        }
        if let text = Environment.value("SPONA_REQUEST_DEADLINE") {
            guard let seconds = Int(text), (1...3600).contains(seconds) else {
                throw CommandFailure("SPONA_REQUEST_DEADLINE '\(text)' is not a number of seconds from 1 to 3600")
            }
            dependencies.requestDeadline = .seconds(seconds)
        }
        if let text = Environment.value("SPONA_ANALYST_QUERIES_PER_HOUR") {
            guard let count = Int(text), (1...100_000).contains(count) else {
                throw CommandFailure("SPONA_ANALYST_QUERIES_PER_HOUR '\(text)' is not a whole number from 1 to 100000")
            }
            dependencies.analystQueriesPerHour = count
        }
        if let text = Environment.value("SPONA_HORIZON_WARNING") {
            guard let seconds = Int(text), (1...86_400).contains(seconds) else {
                throw CommandFailure("SPONA_HORIZON_WARNING '\(text)' is not a number of seconds from 1 to 86400")
            }
            dependencies.horizonWarning = .seconds(seconds)
        }
        if let text = Environment.value("SPONA_ACCESS_LOG") {
            guard ["on", "off"].contains(text) else { throw CommandFailure("SPONA_ACCESS_LOG '\(text)' is not on or off") }
            dependencies.accessLog = text == "on"
        }
        for (name, range, keyPath) in [
            ("SPONA_FAILED_SIGNINS_PER_MINUTE", 1...10_000, \Dependencies.failedSignInsPerMinute),
            ("SPONA_PERSONAL_DATA_READS_PER_HOUR", 1...100_000, \Dependencies.personalDataReadsPerHour),
        ] as [(String, ClosedRange<Int>, WritableKeyPath<Dependencies, Int>)] {
            guard let text = Environment.value(name) else { continue }
            guard let count = Int(text), range.contains(count) else {
                throw CommandFailure("\(name) '\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            dependencies[keyPath: keyPath] = count
        }
        do {
            if let provider = try IdentityProviderSettings.fromEnvironment() {
                dependencies.identityProvider = IdentityProvider(
                    settings: provider,
                    knownDistricts: Set(geography.districts.map(\.code.rawValue)),
                    logger: logger
                )
                logger.info("people sign in through the identity provider", metadata: ["issuer": "\(provider.issuer)"])
            } else {
                logger.notice("no identity provider (SPONA_OIDC_ISSUER): only service tokens sign in")
            }
        } catch {
            throw CommandFailure("\(error)")
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

    static func parsePort(_ text: String, name: String = "SPONA_PORT") throws -> Int {
        guard let port = Int(text), (1...65535).contains(port) else { throw CommandFailure("\(name) '\(text)' is not a port number") }
        return port
    }
}
