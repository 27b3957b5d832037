import Foundation
import Hummingbird
import SponaApplication
import SponaDomain

/// Resolves `Authorization: Bearer <token>` to the caller, on every request (a revoked token
/// stops working at once). Requests without a valid token go no further: 401.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = SponaRequestContext
    let tokens: AccessTokens
    let directory: InstitutionDirectory
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
        let (tokens, directory) = (self.tokens, self.directory)
        let (actor, districts, isCenter) = try await withDeadline(databaseDeadline) {
            let (actor, districts) = try await tokens.authenticate(token)
            var isCenter = false
            if actor.role == .coordinator {
                isCenter = try await directory.institutions([actor.institution])[actor.institution]?.isCenter ?? false
            }
            return (actor, districts, isCenter)
        }
        var context = context
        context.caller = Caller(actor: actor, isCenter: isCenter, districts: districts)
        return try await next(request, context)
    }
}
