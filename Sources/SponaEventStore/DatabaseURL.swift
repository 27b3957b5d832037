import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// A libpq-style connection URL: `postgresql://user:password@host:port/database?sslmode=…`.
///
/// Understood query parameters, as libpq reads them: `sslmode` (`disable`, `prefer` — the
/// default —, `require`, `verify-ca`, `verify-full`), `sslrootcert` (a PEM file of the
/// certificate authorities to trust, e.g. the operator's own, as CloudNativePG issues; `system`
/// for the system's), `sslcert` and `sslkey` (a client certificate and its key, PEM), and `host`
/// (a Unix socket directory).
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public enum ParseError: Error, CustomStringConvertible {
        case notAURL
        case unsupportedScheme(String)
        case missingUser
        case unsupportedSSLMode(String)
        case unreadableTLSFile(parameter: String, path: String)

        public var description: String {
            switch self {
            case .notAURL: "the database URL is not a URL; expected postgresql://user:password@host:port/database"
            case .unsupportedScheme(let scheme): "the database URL's scheme '\(scheme)' is not postgresql:// or postgres://"
            case .missingUser: "the database URL names no user; expected postgresql://user:password@host:port/database"
            case .unsupportedSSLMode(let mode): "sslmode '\(mode)' is not one of disable, prefer, require, verify-ca, verify-full"
            case let .unreadableTLSFile(parameter, path): "\(parameter) '\(path)' is not a readable PEM file"
            }
        }
    }

    public var configuration: PostgresClient.Configuration
    /// The URL with its password hidden, for logs and messages.
    public let description: String

    public init(_ text: String) throws(ParseError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme else { throw .notAURL }
        guard scheme == "postgresql" || scheme == "postgres" else { throw .unsupportedScheme(scheme) }
        guard let user = components.user?.removingPercentEncoding, !user.isEmpty else { throw .missingUser }
        let password = components.password?.removingPercentEncoding
        let database = components.path.isEmpty ? nil : String(components.path.dropFirst()).removingPercentEncoding
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            uniquingKeysWith: { _, last in last }
        )
        let port = components.port ?? 5432

        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let path = query["sslrootcert"], path != "system" {
            guard let roots = try? NIOSSLCertificate.fromPEMFile(path), !roots.isEmpty else {
                throw .unreadableTLSFile(parameter: "sslrootcert", path: path)
            }
            tlsConfiguration.trustRoots = .certificates(roots)
        }
        if let path = query["sslcert"] {
            guard let chain = try? NIOSSLCertificate.fromPEMFile(path), !chain.isEmpty else {
                throw .unreadableTLSFile(parameter: "sslcert", path: path)
            }
            tlsConfiguration.certificateChain = chain.map { .certificate($0) }
            let keyPath = query["sslkey"] ?? path
            guard let key = try? NIOSSLPrivateKey(file: keyPath, format: .pem) else {
                throw .unreadableTLSFile(parameter: "sslkey", path: keyPath)
            }
            tlsConfiguration.privateKey = .privateKey(key)
        }
        let tls: PostgresClient.Configuration.TLS
        switch query["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(tlsConfiguration)
        case "require":
            // libpq: with a root certificate given, `require` verifies the chain as `verify-ca`.
            tlsConfiguration.certificateVerification = query["sslrootcert"] == nil ? .none : .noHostnameVerification
            tls = .require(tlsConfiguration)
        case "verify-ca":
            tlsConfiguration.certificateVerification = .noHostnameVerification
            tls = .require(tlsConfiguration)
        case "verify-full":
            tlsConfiguration.certificateVerification = .fullVerification
            tls = .require(tlsConfiguration)
        case let other: throw .unsupportedSSLMode(other)
        }

        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)",
                username: user,
                password: password,
                database: database
            )
        } else {
            configuration = .init(
                host: components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost",
                port: port,
                username: user,
                password: password,
                database: database,
                tls: tls
            )
        }
        var redacted = components
        if redacted.password != nil { redacted.password = "***" }
        description = redacted.string ?? "postgresql://…"
    }
}

/// Runs `body` with a connected pool, for one-shot work (a command, a test, a benchmark):
/// the pool runs beside `body` and is shut down when it returns or throws.
///
/// The pool's shutdown is waited for a few seconds at most: a pool cancelled while it keeps
/// trying to connect may never return (postgres-nio #599, fixed after the version served
/// here), and one-shot work must end all the same.
public func withPostgresClient<Result: Sendable>(
    _ configuration: PostgresClient.Configuration,
    logger: Logger,
    _ body: (PostgresClient) async throws -> Result
) async throws -> Result {
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    let running = Task { await client.run() }
    // Give run() a moment to start: a lease before it has is served, but with a warning.
    try? await Task.sleep(for: .milliseconds(10))
    do {
        let result = try await body(client)
        await stop(running)
        return result
    } catch {
        await stop(running)
        throw error
    }
}

/// Cancels a pool's run and waits up to five seconds for it to end.
private func stop(_ running: Task<Void, Never>) async {
    running.cancel()
    await waitAtMost(.seconds(5), for: running)
}

/// Waits for `task` to end, but no longer than `limit` and not past the cancellation of the
/// waiting task (which cancels `task` too). A task that ignores its cancellation — a query
/// waiting for a connection a pool no longer makes after the database restarted — is left to
/// end on its own instead of holding whoever waits for it (a shutdown, a test) for ever.
public func waitAtMost(_ limit: Duration, for task: Task<Void, Never>) async {
    let (ended, ending) = AsyncStream<Void>.makeStream()
    let watcher = Task {
        await task.value
        ending.finish()
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        ending.finish()
    }
    await withTaskCancellationHandler {
        for await _ in ended {}
    } onCancel: {
        task.cancel()
        ending.finish()
    }
    timer.cancel()
    watcher.cancel()
}
