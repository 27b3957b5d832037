import Foundation
import JWTKit
import Logging
import SponaDomain

/// The network's OpenID Connect provider (Keycloak, say), as Spona trusts it: which issuer,
/// which audience, where its keys are, and how its claims name a person's institution, role
/// and districts.
public struct IdentityProviderSettings: Sendable, Hashable {
    public var issuer: String
    public var audience: String
    public var keys: KeySource
    public var claims = ClaimMapping()
    /// Clock difference tolerated between the provider and this server for `exp` and `nbf`.
    public var leeway: Duration = .seconds(30)
    /// The least time between two reads of the keys for a key id not among them: a flood of
    /// made-up key ids costs the provider one request per interval.
    public var refetchInterval: Duration = .seconds(10)
    /// Keys are read again at least this often, so that one the provider withdrew stops
    /// signing anyone in.
    public var maximumKeyAge: Duration = .seconds(600)

    public init(issuer: String, audience: String, keys: KeySource) {
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
    }

    public enum Invalid: Error, CustomStringConvertible {
        case missing(String)
        case notAURL(String, String)
        public var description: String {
            switch self {
            case .missing(let name): "\(name) is required when SPONA_OIDC_ISSUER is set"
            case .notAURL(let name, let value): "\(name) '\(value)' is not an http(s) URL"
            }
        }
    }

    /// From `SPONA_OIDC_*` (README, operators' section); nil when no issuer is configured, so
    /// that only Spona's own service tokens sign in.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(Invalid) -> Self? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let issuer = value("SPONA_OIDC_ISSUER") else { return nil }
        guard let audience = value("SPONA_OIDC_AUDIENCE") else { throw .missing("SPONA_OIDC_AUDIENCE") }
        let keys: KeySource
        if let path = value("SPONA_OIDC_JWKS_FILE") {
            keys = .file(path)
        } else if let text = value("SPONA_OIDC_JWKS_URL") {
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? "") else {
                throw .notAURL("SPONA_OIDC_JWKS_URL", text)
            }
            keys = .url(url)
        } else {
            throw .missing("SPONA_OIDC_JWKS_URL or SPONA_OIDC_JWKS_FILE")
        }
        var settings = Self(issuer: issuer, audience: audience, keys: keys)
        if let names = value("SPONA_OIDC_NAME_CLAIM") { settings.claims.name = names.split(separator: ",").map(String.init) }
        if let claim = value("SPONA_OIDC_INSTITUTION_CLAIM") { settings.claims.institution = claim }
        if let claim = value("SPONA_OIDC_ROLE_CLAIM") { settings.claims.role = claim }
        if let prefix = value("SPONA_OIDC_ROLE_PREFIX") { settings.claims.rolePrefix = prefix }
        if let claim = value("SPONA_OIDC_DISTRICTS_CLAIM") { settings.claims.districts = claim }
        if let prefix = value("SPONA_OIDC_DISTRICT_PREFIX") { settings.claims.districtPrefix = prefix }
        return settings
    }
}

/// Signs people in from the provider's access tokens (JWT): the signature against the
/// provider's published keys, then issuer, audience, expiry and not-before, then the claims
/// mapped to a ``SignedInPerson``. Whether the person's institution is registered and active
/// is the registry's question, asked by the caller of ``signIn(_:now:)``.
public struct IdentityProvider: Sendable {
    public let settings: IdentityProviderSettings
    let keys: ProviderKeys
    let knownDistricts: Set<String>

    /// Algorithms a provider's key pair signs with. `none` and HMAC are refused before any key
    /// is looked at: with HMAC, a published public key would be the secret.
    static let asymmetric: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]

    public init(settings: IdentityProviderSettings, knownDistricts: Set<String>, logger: Logger) {
        self.settings = settings
        self.knownDistricts = knownDistricts
        self.keys = ProviderKeys(
            source: settings.keys,
            logger: logger,
            maximumAge: settings.maximumKeyAge,
            refetchInterval: settings.refetchInterval
        )
    }

    /// Reads the provider's keys ahead of the first sign-in; false when none could be read
    /// (people cannot sign in until they can; service tokens still work).
    public func warm() async -> Bool {
        await keys.warm()
    }

    /// Whether a bearer token is one for this provider to judge (a JWT), not a service token.
    public static func looksLikeJWT(_ token: String) -> Bool {
        token.utf8.count <= 16_384 && token.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
        var crit: [String]?
    }

    /// The claims as a whole, checked after the signature by ``signIn(_:now:)``.
    struct Claims: JWTPayload {
        var value: ClaimValue
        init(from decoder: any Decoder) throws { value = try ClaimValue(from: decoder) }
        func encode(to encoder: any Encoder) throws {}
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    public func signIn(_ token: String, now: Date = Date()) async throws(SignInRefusal) -> SignedInPerson {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 16_384, let headerData = Self.base64URLDecoded(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: headerData)
        else { throw .malformed }
        guard let algorithm = header.alg, Self.asymmetric.contains(algorithm) else { throw .algorithmRefused(header.alg ?? "none") }
        // Extensions this code does not understand must not be ignored (RFC 7515, 4.1.11).
        guard header.crit == nil else { throw .malformed }
        guard let kid = header.kid, !kid.isEmpty else { throw .missingKeyID }

        let collection = try await keys.keys(for: kid)
        let claims: ClaimValue
        do {
            claims = try await collection.verify(token, as: Claims.self).value
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch {
            throw .malformed
        }

        guard claims.value(at: "iss")?.strings.first == settings.issuer else { throw .wrongIssuer }
        guard claims.value(at: "aud")?.strings.contains(settings.audience) == true else { throw .wrongAudience }
        let leeway = Double(settings.leeway.components.seconds)
        guard let expiry = claims.value(at: "exp")?.number else { throw .missingClaim("exp") }
        guard now.timeIntervalSince1970 < expiry + leeway else { throw .expired }
        if let notBefore = claims.value(at: "nbf")?.number, now.timeIntervalSince1970 + leeway < notBefore { throw .notYetValid }
        return try settings.claims.person(from: claims, knownDistricts: knownDistricts)
    }

    static func base64URLDecoded(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
