import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

extension Duration {
    /// The duration as a number of seconds, for figures, settings and comparisons with
    /// PostgreSQL's own (which are seconds as floating point).
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The work took longer than it may: a database that does not answer.
public struct DatabaseTimeout: Error, CustomStringConvertible {
    public var limit: Duration
    public init(limit: Duration) { self.limit = limit }
    public var description: String { "the database did not answer within \(limit)" }
}

/// Runs `operation`, answering `timeout()`'s error after `limit` whatever the operation does
/// (then `onTimeout` runs); with `givingUpOnCancel`, answering `CancellationError` at once when
/// the caller is cancelled (and `onTimeout` runs too).
///
/// The caller gets its answer at the deadline even if the operation ignores cancellation: it
/// runs in a task of its own, which is cancelled then and left to end by itself. A query on a
/// connection the server dropped can wait for ever; nobody waits with it.
public func withTimeout<T: Sendable>(
    _ limit: Duration,
    timeout: @escaping @Sendable () -> any Error = { DatabaseTimeout(limit: .zero) },
    onTimeout: @escaping @Sendable () async -> Void = {},
    givingUpOnCancel: Bool = false,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = Race<T>()
    let work = Task {
        do {
            race.finish(.success(try await operation()))
        } catch {
            race.finish(.failure(error))
        }
    }
    // Every request of the server passes here, once or twice: the timer is an event loop's
    // scheduled task (a heap entry), not a sleeping task (a libdispatch timer, a wake-up and a
    // task of its own each), and it is cancelled as soon as the work answers.
    let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(limit)) {
        if race.finish(.failure(timeout())) {
            work.cancel()
            Task { await onTimeout() }
        }
    }
    race.onFinish { timer.cancel() }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation)
        }
    } onCancel: {
        // Cancelled work normally ends by itself and answers, its connection still usable.
        // Where waiting for it could mean waiting for ever, the caller gives up on it at once
        // as at the deadline.
        if givingUpOnCancel, race.finish(.failure(CancellationError())) {
            work.cancel()
            Task { await onTimeout() }
        } else {
            work.cancel()
        }
    }
}

/// Whichever ends first — the operation, the timer, or the caller's cancellation — answers the
/// caller, once; the others are ignored. An answer that comes before the caller started waiting
/// (a task cancelled before it began) is kept and given when it does.
private final class Race<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var answer: Result<T, any Error>?
        var finished = false
        /// Run once, when the race is decided (the timer's cancellation).
        var onFinish: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early: Result<T, any Error>? = state.withLock { state in
            if state.finished { return state.answer }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    /// Runs `action` when the race is decided, or now if it is.
    func onFinish(_ action: @escaping @Sendable () -> Void) {
        let decided = state.withLock { state in
            if !state.finished { state.onFinish = action }
            return state.finished
        }
        if decided { action() }
    }

    /// True when this call was the one that answered.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let (won, continuation, action): (Bool, CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) = state.withLock { state in
            guard !state.finished else { return (false, nil, nil) }
            state.finished = true
            let action = state.onFinish
            state.onFinish = nil
            guard let continuation = state.continuation else {
                state.answer = result
                return (true, nil, action)
            }
            state.continuation = nil
            return (true, continuation, action)
        }
        action?()
        continuation?.resume(with: result)
        return won
    }
}

extension PostgresConnection {
    /// Runs `body` on this connection for at most `limit`, or until the caller is cancelled.
    /// Past it (or then) the connection is closed —
    /// a pool then replaces it rather than lend it again — and ``DatabaseTimeout`` thrown.
    /// A connection the server dropped (a restart, `pg_terminate_backend`) can leave a query
    /// waiting for ever; this is what gets a reader or a projection runner going again.
    @discardableResult
    public func bounded<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withTimeout(
            limit,
            timeout: { DatabaseTimeout(limit: limit) },
            onTimeout: { [self] in try? await self.close() },
            givingUpOnCancel: true
        ) { [self] in
            try await body(self)
        }
    }
}

/// The connection a bounded piece of work is using, if it got one: closed when it overruns.
final class LeasedConnection: Sendable {
    private let connection = Mutex<PostgresConnection?>(nil)

    func set(_ value: PostgresConnection) { connection.withLock { $0 = value } }

    func close() async {
        if let leased = connection.withLock({ $0 }) { try? await leased.close() }
    }
}
