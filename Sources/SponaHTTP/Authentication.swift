import Foundation
import Hummingbird
import SponaApplication
import SponaDomain

/// Resolves `Authorization: Bearer <token>` to the caller, on every request (a revoked token
/// stops working at once). Requests without a valid token go no further: 401.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = SponaRequestContext
    let tokens: AccessTokens
    /// How long the token lookup (every request's first database access) may wait for the database.
    let databaseDeadline: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized(AccessTokens.Refusal.missing.description)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized(AccessTokens.Refusal.missing.description)
        }
        let token = String(parts[1])
        let tokens = self.tokens
        let found = try await withDeadline(databaseDeadline) { try await tokens.authenticate(token) }
        // Only a coordinator of the Center acts as the Center; its other staff are reporters.
        let isCenter = found.actor.role == .coordinator && found.isCenter
        var context = context
        context.caller = Caller(actor: found.actor, isCenter: isCenter, districts: found.districts)
        return try await next(request, context)
    }
}
