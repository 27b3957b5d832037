import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import SponaDomain
import SponaIdentity
import Synchronization

/// The network's identity provider, played by the test: its own signing keys (ES256), a JWKS
/// endpoint on loopback that a server fetches as it would Keycloak's, and access tokens it
/// signs for whoever a test says. Keys can be rotated while the server runs.
final class TestIdentityProvider: Sendable {
    static let issuer = "https://idp.test/realms/spona"
    static let audience = "spona-api"
    /// Shorter than a server's default, so that a rotation test need not wait long.
    static let refetchInterval: Duration = .seconds(2)

    struct SigningKey: Sendable {
        var id: String
        var key: P256.Signing.PrivateKey
    }

    /// The published keys and how often they were fetched, shared with the JWKS route.
    final class KeyRing: Sendable {
        let state: Mutex<(published: [SigningKey], jwksReads: Int)>
        init() { state = Mutex(([SigningKey(id: "key-1", key: .init())], 0)) }
        func withLock<T: Sendable>(_ body: (inout (published: [SigningKey], jwksReads: Int)) -> T) -> T { state.withLock { body(&$0) } }
    }

    let jwksURL: URL
    private let state: KeyRing

    private init(jwksURL: URL, state: KeyRing) {
        self.jwksURL = jwksURL
        self.state = state
    }

    /// Runs `body` with a provider serving its JWKS on a loopback port of its own.
    static func run(_ body: @Sendable (TestIdentityProvider) async throws -> Void) async throws {
        let state = KeyRing()
        let router = Router()
        router.get("/certs") { _, _ in
            let keys = state.withLock { state in
                state.jwksReads += 1
                return state.published
            }
            return Response(
                status: .ok,
                // No idle keep-alive connection left behind to hold the test server's shutdown.
                headers: [.contentType: "application/json", .connection: "close"],
                body: .init(byteBuffer: ByteBuffer(data: Self.jwks(keys)))
            )
        }
        let (port, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: Logger(label: "test-idp")
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var ports = port.makeAsyncIterator()
            guard let bound = await ports.next() else { throw CancellationError() }
            let provider = TestIdentityProvider(jwksURL: URL(string: "http://127.0.0.1:\(bound)/certs")!, state: state)
            defer { group.cancelAll() }
            try await body(provider)
        }
    }

    /// The provider as Spona is configured for it.
    func provider(geography: Geography, logger: Logger) -> IdentityProvider {
        var settings = IdentityProviderSettings(issuer: Self.issuer, audience: Self.audience, keys: .url(jwksURL))
        settings.refetchInterval = Self.refetchInterval
        return IdentityProvider(
            settings: settings,
            knownDistricts: Set(geography.districts.map(\.code.rawValue)),
            logger: logger
        )
    }

    var jwksReads: Int { state.withLock { $0.jwksReads } }
    var currentKey: SigningKey { state.withLock { $0.published.last! } }

    /// A new key published beside the old ones (as Keycloak does when it rotates); returns it.
    @discardableResult
    func rotate(retiringOld: Bool = false) -> SigningKey {
        state.withLock { state in
            let key = SigningKey(id: "key-\(state.published.count + 1)-\(UUID().uuidString.prefix(4))", key: .init())
            if retiringOld { state.published.removeAll() }
            state.published.append(key)
            return key
        }
    }

    /// An access token for a person, signed with the current key unless told otherwise;
    /// `claims` overrides or adds claims, `header` the header's fields.
    func token(
        subject: String,
        name: String? = "Test Person",
        institution: InstitutionID,
        role: Role,
        districts: [String] = [],
        expiresAt: Date = Date().addingTimeInterval(300),
        claims extra: [String: Any] = [:],
        header extraHeader: [String: Any] = [:],
        signingKey: SigningKey? = nil
    ) throws -> String {
        var claims: [String: Any] = [
            "iss": Self.issuer,
            "aud": [Self.audience, "account"],
            "sub": subject,
            "exp": Int(expiresAt.timeIntervalSince1970),
            "iat": Int(Date().timeIntervalSince1970),
            "spona_institution": institution.rawValue.uuidString.lowercased(),
            "spona_role": role.rawValue,
        ]
        if let name { claims["name"] = name }
        if !districts.isEmpty { claims["spona_districts"] = districts }
        for (key, value) in extra { claims[key] = value }
        let key = signingKey ?? currentKey
        var header: [String: Any] = ["alg": "ES256", "typ": "JWT", "kid": key.id]
        for (name, value) in extraHeader { header[name] = value }
        let input =
            Self.base64URL(try JSONSerialization.data(withJSONObject: header)) + "."
            + Self.base64URL(try JSONSerialization.data(withJSONObject: claims))
        let signature = try key.key.signature(for: Data(input.utf8)).rawRepresentation
        return input + "." + Self.base64URL(signature)
    }

    /// A token with any header and claims, signed (or not) by `sign`: for the forgeries.
    static func forge(header: [String: Any], claims: [String: Any], sign: (Data) -> Data) throws -> String {
        let input =
            base64URL(try JSONSerialization.data(withJSONObject: header)) + "." + base64URL(try JSONSerialization.data(withJSONObject: claims))
        return input + "." + base64URL(sign(Data(input.utf8)))
    }

    /// The JWKS document of `keys`, as a provider publishes it (public halves only).
    static func jwks(_ keys: [SigningKey]) -> Data {
        let entries: [[String: Any]] = keys.map { key in
            let raw = key.key.publicKey.rawRepresentation
            return [
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": key.id,
                "x": base64URL(raw.prefix(32)), "y": base64URL(raw.suffix(32)),
            ]
        }
        return try! JSONSerialization.data(withJSONObject: ["keys": entries])
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
