import Foundation
import Hummingbird
import Prometheus
import SponaApplication
import SponaDomain
import SponaIdentity

/// Resolves `Authorization: Bearer <token>` to the caller on every request: a person's access
/// token from the network's identity provider (a JWT: ``IdentityProvider``), or a service
/// account's `spona_` token (``AccessTokens``; a revoked one stops working at once). Either
/// way the institution must be registered and active. Requests without a caller go no
/// further: 401, and nothing is recorded.
///
/// Failed sign-ins are counted per client address (`spona_authentication_failures_total`);
/// once an address has failed too often in a minute, its further failures are answered 429
/// with `Retry-After` instead of 401, so that a guesser is told to wait and is seen. A valid
/// token always signs in: behind a proxy every client shares the proxy's address, and one
/// client's failures must not lock the others out.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = SponaRequestContext
    let tokens: AccessTokens
    let identityProvider: IdentityProvider?
    /// Failed sign-ins per address in a sliding minute.
    let failures: SlidingWindowLimit
    /// How long the token lookup (every request's first database access) may wait for the database.
    let databaseDeadline: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized(AccessTokens.Refusal.missing.description)
        }
        let address = context.remoteAddress?.ipAddress ?? "unknown"
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized(AccessTokens.Refusal.missing.description)
        }
        let token = String(parts[1])
        let found: AccessTokens.Authenticated
        do {
            found = try await authenticate(token)
        } catch let refusal as AccessTokens.Refusal {
            try await failed(address, kind: "token")
            throw refusal
        } catch let refusal as SignInRefusal where refusal != .keysUnavailable {
            try await failed(address, kind: "identity_provider")
            throw Problem.unauthorized(refusal.description)
        } catch SignInRefusal.keysUnavailable {
            throw Problem(
                .serviceUnavailable,
                type: "urn:spona:problem:unavailable",
                title: "Sign-in unavailable",
                detail: SignInRefusal.keysUnavailable.description,
                headers: [.retryAfter: "5"]
            )
        }
        // Only a coordinator of the Center acts as the Center; its other staff are reporters.
        let isCenter = found.actor.role == .coordinator && found.isCenter
        var context = context
        context.caller = Caller(actor: found.actor, isCenter: isCenter, districts: found.districts)
        return try await next(request, context)
    }

    private func authenticate(_ token: String) async throws -> AccessTokens.Authenticated {
        let tokens = self.tokens
        if token.hasPrefix("spona_") || identityProvider == nil || !IdentityProvider.looksLikeJWT(token) {
            if let kept = try tokens.authenticateFromMemory(token) { return kept }
            return try await withDeadline(databaseDeadline) { try await tokens.authenticate(token) }
        }
        let person = try await identityProvider!.signIn(token)
        return try await withDeadline(databaseDeadline) {
            try await tokens.admitPerson(
                id: person.actorID,
                name: person.name,
                institution: person.institution,
                role: person.role,
                districts: person.districts
            )
        }
    }

    /// `spona_authentication_failures_total{kind}`: token, identity_provider (a JWT), browser (a
    /// dashboard sign-in the provider or Spona refused).
    static func countFailure(kind: String) {
        SponaMetrics.registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "spona_authentication_failures",
                unitName: "total",
                helpText: "Sign-ins refused (kind: token, identity_provider or browser)"
            ),
            labels: [("kind", kind)]
        ).increment()
    }

    /// Counts a failure; past the limit, answers 429 instead of the refusal.
    private func failed(_ address: String, kind: String) async throws {
        defer { Self.countFailure(kind: kind) }
        if let wait = await failures.admit(address) {
            throw Problem.rateLimited(
                "Too many failed sign-ins",
                "this address failed to sign in \(failures.most) times within a minute; try again in \(wait) s",
                retryAfter: wait
            )
        }
    }
}
