import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore

/// Where the identity provider's public keys come from.
public enum KeySource: Sendable, Hashable {
    /// The provider's JWKS endpoint (Keycloak: `<issuer>/protocol/openid-connect/certs`).
    case url(URL)
    /// A JWKS file, for closed networks; read again when a token names a key it lacks, so a
    /// rotation is a file replaced, not a restart.
    case file(String)
}

/// The provider's signing keys, read from their source and kept. Read again when a token
/// names a key not among them (a rotation at the provider: at most once per
/// ``refetchInterval``, so a flood of made-up key ids cannot make Spona hammer the provider),
/// and at the latest after ``maximumAge`` (a key the provider withdrew stops signing anyone
/// in). While the source cannot be read the keys last read are kept; never any at all is
/// ``SignInRefusal/keysUnavailable``.
actor ProviderKeys {
    struct KeySet: Sendable {
        var keys: JWTKeyCollection
        var ids: Set<String>
        var readAt: ContinuousClock.Instant
    }

    let source: KeySource
    let logger: Logger
    let maximumAge: Duration
    let refetchInterval: Duration
    private var current: KeySet?
    private var lastAttempt: ContinuousClock.Instant?
    private var reading: Task<KeySet, any Error>?

    init(source: KeySource, logger: Logger, maximumAge: Duration = .seconds(600), refetchInterval: Duration = .seconds(10)) {
        self.source = source
        self.logger = logger
        self.maximumAge = maximumAge
        self.refetchInterval = refetchInterval
    }

    /// The keys, with `kid` among them if the source has it now.
    func keys(for kid: String) async throws(SignInRefusal) -> JWTKeyCollection {
        let now = ContinuousClock.now
        if let current, current.ids.contains(kid), now - current.readAt < maximumAge { return current.keys }
        // Unknown or stale: read again, unless that was tried moments ago.
        if current == nil || lastAttempt.map({ now - $0 >= refetchInterval }) ?? true {
            await refresh()
        }
        guard let current else { throw .keysUnavailable }
        guard current.ids.contains(kid) else { throw .unknownKey }
        return current.keys
    }

    /// Reads the keys now unless they were read already; true when some are held. A server
    /// calls it before serving, so that the first person to sign in does not wait for it.
    func warm() async -> Bool {
        if current == nil { await refresh() }
        return current.map { !$0.ids.isEmpty } ?? false
    }

    /// Reads the source once (callers arriving meanwhile wait for the same read).
    private func refresh() async {
        lastAttempt = .now
        let task: Task<KeySet, any Error>
        if let reading {
            task = reading
        } else {
            let source = self.source
            task = Task { try await Self.read(source) }
            reading = task
        }
        defer { reading = nil }
        do {
            current = try await task.value
        } catch {
            logger.error("the identity provider's keys could not be read; the keys read before are kept", metadata: ["error": "\(error)"])
        }
    }

    static func read(_ source: KeySource) async throws -> KeySet {
        let data: Data
        switch source {
        case .file(let path):
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        case .url(let url):
            var request = HTTPClientRequest(url: url.absoluteString)
            request.headers.add(name: "Accept", value: "application/json")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            guard response.status == .ok else { throw KeySourceError.status(Int(response.status.code)) }
            data = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        }
        return try await keySet(from: data)
    }

    /// The signing keys of a JWKS document. Keys for encryption, keys of other types and keys
    /// without an id are left out: a token must name its key.
    static func keySet(from data: Data) async throws -> KeySet {
        let document = try JSONDecoder().decode(JWKS.self, from: data)
        let keys = JWTKeyCollection()
        var ids: Set<String> = []
        for key in document.keys {
            guard let kid = key.keyIdentifier?.string, key.algorithm != .rsaOAEP else { continue }
            do {
                try await keys.add(jwk: key)
                ids.insert(kid)
            } catch {
                continue
            }
        }
        return KeySet(keys: keys, ids: ids, readAt: .now)
    }

    enum KeySourceError: Error, CustomStringConvertible {
        case status(Int)
        var description: String {
            switch self {
            case .status(let code): "the JWKS endpoint answered \(code)"
            }
        }
    }
}
