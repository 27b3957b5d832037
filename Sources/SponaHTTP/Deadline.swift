import Hummingbird
import SponaEventStore

/// Runs `operation`, giving up after `limit` with `problem` (503 with `Retry-After`).
///
/// The database pool waits for a connection for as long as it takes, and while the database is
/// unreachable that is a minute or more. A person at a desk must learn within seconds that the
/// server cannot answer now rather than watch a spinner.
///
/// The caller gets its answer at the deadline whatever the operation does: the operation runs
/// in a task of its own, which is cancelled then and left to end by itself (a wait that does
/// not heed cancellation cannot hold the caller). An append that was already on its way may
/// still commit; the client's retry with the same `Idempotency-Key` then gets its first answer.
@discardableResult
func withDeadline<T: Sendable>(
    _ limit: Duration,
    problem: Problem = .databaseUnavailable,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withTimeout(limit, timeout: { problem }, operation)
}

/// Bounds how long any request waits for an answer (`SPONA_REQUEST_DEADLINE`): past it, 503
/// with `Retry-After`, whatever the request was waiting for.
struct DeadlineResponder<Responder: HTTPResponder>: HTTPResponder where Responder.Context == SponaRequestContext {
    let responder: Responder
    let limit: Duration

    static var timedOut: Problem {
        Problem(
            .serviceUnavailable,
            type: "urn:spona:problem:timed-out",
            title: "Timed out",
            detail: "The server could not answer in time (the database may be restarting); try again shortly.",
            headers: [.retryAfter: "5"]
        )
    }

    func respond(to request: Request, context: SponaRequestContext) async throws -> Response {
        let responder = self.responder
        do {
            return try await withDeadline(limit, problem: Self.timedOut) { try await responder.respond(to: request, context: context) }
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        }
    }
}
