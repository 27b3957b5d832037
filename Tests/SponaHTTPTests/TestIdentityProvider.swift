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
    let browser: BrowserDesk

    /// Who the provider's sign-in page signs in next (as if they typed their password), and
    /// the codes it handed out: what its authorization and token endpoints share.
    final class BrowserDesk: Sendable {
        struct Person: Sendable {
            var subject: String
            var name: String
            var institution: InstitutionID
            var role: Role
            var districts: [String]
        }
        struct Grant: Sendable {
            var person: Person
            var challenge: String
            var redirectURI: String
            var clientID: String
        }
        let state = Mutex<(next: Person?, grants: [String: Grant], exchanges: Int)>((nil, [:], 0))
    }

    private init(jwksURL: URL, state: KeyRing, browser: BrowserDesk) {
        self.jwksURL = jwksURL
        self.state = state
        self.browser = browser
    }

    /// The next browser sign-in at this provider signs in this person.
    func signInNext(subject: String, name: String, institution: InstitutionID, role: Role, districts: [String] = []) {
        browser.state.withLock {
            $0.next = .init(subject: subject, name: name, institution: institution, role: role, districts: districts)
        }
    }

    /// The provider's endpoints as the dashboard is configured for them.
    func browserSignIn(publicURL: URL) -> BrowserSignIn.Settings {
        let base = jwksURL.deletingLastPathComponent()
        return BrowserSignIn.Settings(
            authorizationURL: base.appendingPathComponent("auth"),
            tokenURL: base.appendingPathComponent("token"),
            clientID: "spona-web",
            publicURL: publicURL
        )
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
        // The authorization endpoint: the person set by `signInNext` "signs in" at once, and
        // the browser goes back with a one-time code bound to the PKCE challenge.
        let browser = BrowserDesk()
        router.get("/auth") { request, _ in
            let query = request.uri.queryParameters
            guard let redirect = query["redirect_uri"].map(String.init), let state = query["state"].map(String.init),
                let challenge = query["code_challenge"].map(String.init), query["code_challenge_method"] == "S256",
                query["response_type"] == "code", let client = query["client_id"].map(String.init)
            else { return Response(status: .badRequest) }
            let code = UUID().uuidString
            let granted = browser.state.withLock { desk -> Bool in
                guard let person = desk.next else { return false }
                desk.grants[code] = .init(person: person, challenge: challenge, redirectURI: redirect, clientID: client)
                return true
            }
            let target =
                granted
                ? "\(redirect)?code=\(code)&state=\(state)" : "\(redirect)?error=access_denied&state=\(state)"
            return Response(status: .found, headers: [.location: target, .connection: "close"])
        }
        // The token endpoint: the code once, with the verifier whose challenge it was given for.
        router.post("/token") { request, _ in
            let body = try await request.body.collect(upTo: 16_384)
            var form: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                if parts.count == 2 { form[parts[0]] = parts[1] }
            }
            let grant = browser.state.withLock { desk -> BrowserDesk.Grant? in
                desk.exchanges += 1
                return form["code"].flatMap { desk.grants.removeValue(forKey: $0) }
            }
            guard let grant, form["grant_type"] == "authorization_code", form["redirect_uri"] == grant.redirectURI,
                form["client_id"] == grant.clientID, let verifier = form["code_verifier"],
                BrowserSignIn.challenge(verifier) == grant.challenge
            else {
                return Response(
                    status: .badRequest,
                    headers: [.contentType: "application/json", .connection: "close"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":"invalid_grant"}"#))
                )
            }
            let provider = TestIdentityProvider(jwksURL: URL(string: "http://unused")!, state: state, browser: browser)
            let token = try provider.token(
                subject: grant.person.subject,
                name: grant.person.name,
                institution: grant.person.institution,
                role: grant.person.role,
                districts: grant.person.districts
            )
            let answer = try JSONSerialization.data(withJSONObject: ["access_token": token, "token_type": "Bearer", "expires_in": 300])
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .connection: "close"],
                body: .init(byteBuffer: ByteBuffer(data: answer))
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
            let provider = TestIdentityProvider(jwksURL: URL(string: "http://127.0.0.1:\(bound)/certs")!, state: state, browser: browser)
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
