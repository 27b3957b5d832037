import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// Signing a browser in at the identity provider: OAuth 2.0's authorization code flow with PKCE
/// (RFC 7636, S256) for a public client (`spona-web` in the example realm). The browser never
/// holds a token: the code comes back to the server, which exchanges it with its verifier and
/// checks the access token it gets exactly as it checks an API caller's (``IdentityProvider``).
public struct BrowserSignIn: Sendable {
    public struct Settings: Sendable, Hashable {
        /// The provider's authorization endpoint (Keycloak: `…/protocol/openid-connect/auth`).
        public var authorizationURL: URL
        /// The provider's token endpoint (Keycloak: `…/protocol/openid-connect/token`).
        public var tokenURL: URL
        /// Where the provider signs people out (Keycloak: `…/protocol/openid-connect/logout`).
        public var logoutURL: URL?
        public var clientID: String
        /// The dashboard's public address (`https://spona.example.org`): the provider sends the
        /// browser back to `<it>/dashboard/signed-in`.
        public var publicURL: URL

        public init(authorizationURL: URL, tokenURL: URL, logoutURL: URL? = nil, clientID: String, publicURL: URL) {
            self.authorizationURL = authorizationURL
            self.tokenURL = tokenURL
            self.logoutURL = logoutURL
            self.clientID = clientID
            self.publicURL = publicURL
        }

        public var redirectURI: String { publicURL.absoluteString.trimmingSuffix("/") + "/dashboard/signed-in" }

        /// From `SPONA_DASHBOARD_URL`, `SPONA_OIDC_AUTHORIZATION_URL`, `SPONA_OIDC_TOKEN_URL`,
        /// `SPONA_OIDC_LOGOUT_URL` and `SPONA_OIDC_WEB_CLIENT_ID` (default `spona-web`); nil
        /// when no dashboard address is set (the dashboard then explains how it is set up).
        public static func fromEnvironment(_ environment: [String: String]) throws(IdentityProviderSettings.Invalid) -> Self? {
            func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
            func url(_ name: String) throws(IdentityProviderSettings.Invalid) -> URL? {
                guard let text = value(name) else { return nil }
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                    throw .notAURL(name, text)
                }
                return url
            }
            guard let publicURL = try url("SPONA_DASHBOARD_URL") else { return nil }
            guard let authorization = try url("SPONA_OIDC_AUTHORIZATION_URL") else {
                throw .missing("SPONA_OIDC_AUTHORIZATION_URL (for SPONA_DASHBOARD_URL)")
            }
            guard let token = try url("SPONA_OIDC_TOKEN_URL") else { throw .missing("SPONA_OIDC_TOKEN_URL (for SPONA_DASHBOARD_URL)") }
            return Settings(
                authorizationURL: authorization,
                tokenURL: token,
                logoutURL: try url("SPONA_OIDC_LOGOUT_URL"),
                clientID: value("SPONA_OIDC_WEB_CLIENT_ID") ?? "spona-web",
                publicURL: publicURL
            )
        }
    }

    /// Why a browser's sign-in did not complete; shown to the person, never with a code or token.
    public enum Failure: Error, Equatable, CustomStringConvertible, Sendable {
        case providerRefused(String)
        case providerUnavailable
        case noAccessToken

        public var description: String {
            switch self {
            case .providerRefused(let error): "the identity provider refused the sign-in (\(error))"
            case .providerUnavailable: "the identity provider could not be reached; try again in a moment"
            case .noAccessToken: "the identity provider sent no access token"
            }
        }
    }

    public let settings: Settings

    public init(settings: Settings) { self.settings = settings }

    /// The PKCE challenge of a verifier: base64url(SHA-256(verifier)).
    public static func challenge(_ verifier: String) -> String {
        let digest = Data(SHA256.hash(data: Data(verifier.utf8)))
        return digest.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Where to send the browser to sign in.
    public func authorizationRedirect(state: String, verifier: String, language: String) -> URL {
        var components = URLComponents(url: settings.authorizationURL, resolvingAgainstBaseURL: false)!
        components.queryItems =
            (components.queryItems ?? []) + [
                URLQueryItem(name: "response_type", value: "code"),
                URLQueryItem(name: "client_id", value: settings.clientID),
                URLQueryItem(name: "redirect_uri", value: settings.redirectURI),
                URLQueryItem(name: "scope", value: "openid"),
                URLQueryItem(name: "state", value: state),
                URLQueryItem(name: "code_challenge", value: Self.challenge(verifier)),
                URLQueryItem(name: "code_challenge_method", value: "S256"),
                URLQueryItem(name: "ui_locales", value: language),
            ]
        // `+` in a query is a space to many servers: state and challenge are base64url, so none.
        return components.url!
    }

    /// Exchanges the code the browser brought back for an access token (which the caller then
    /// checks like any bearer token).
    public func exchange(code: String, verifier: String) async throws(Failure) -> String {
        func form(_ value: String) -> String {
            value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
        }
        let body = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", settings.redirectURI),
            ("client_id", settings.clientID), ("code_verifier", verifier),
        ].map { "\($0.0)=\(form($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: settings.tokenURL.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let answer: [String: Any]
        let status: UInt
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            status = response.status.code
            let bytes = try await response.body.collect(upTo: 256 * 1024)
            answer = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
        } catch {
            throw .providerUnavailable
        }
        guard (200..<300).contains(status) else {
            // OAuth's error codes are fixed words (invalid_grant…); anything else is not echoed.
            let error = (answer["error"] as? String).flatMap { $0.allSatisfy { $0.isLetter || $0 == "_" } ? $0 : nil } ?? "HTTP \(status)"
            throw .providerRefused(error)
        }
        guard let token = answer["access_token"] as? String, !token.isEmpty else { throw .noAccessToken }
        return token
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
