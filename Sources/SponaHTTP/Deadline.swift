import Hummingbird
import Synchronization

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
    _ limit: Duration, problem: Problem = .databaseUnavailable, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = Task { try await operation() }
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation)
            Task {
                let result = await work.result
                race.finish(result)
            }
            Task {
                try? await Task.sleep(for: limit)
                if race.finish(.failure(problem)) { work.cancel() }
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// Whichever ends first, the operation or the timer, resumes the caller; the other is ignored.
private final class DeadlineRace<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, finished: Bool)>((nil, false))

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    /// True when this call was the one that answered.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
        return continuation != nil
    }
}

/// Bounds how long any request waits for an answer (`SPONA_REQUEST_DEADLINE`): past it, 503
/// with `Retry-After`, whatever the request was waiting for.
struct DeadlineResponder<Responder: HTTPResponder>: HTTPResponder where Responder.Context == SponaRequestContext {
    let responder: Responder
    let limit: Duration

    static var timedOut: Problem {
        Problem(.serviceUnavailable, type: "urn:spona:problem:timed-out", title: "Timed out",
                detail: "The server could not answer in time (the database may be restarting); try again shortly.",
                headers: [.retryAfter: "5"])
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
