import Logging
import PostgresNIO
import ServiceLifecycle

/// Wakes subscribers in every process after events were appended.
///
/// The NOTIFY is sent after the append committed, on its own, and bursts of appends are
/// coalesced into one: a NOTIFY inside the appending transaction would take PostgreSQL's
/// notification-queue lock until commit and so serialise every writer's commit (and its
/// WAL flush) behind each other. Subscribers read from their own cursor when woken, so a
/// coalesced or lost notification only costs the time until the next poll.
final class AppendNotifier: Sendable {
    private let client: PostgresClient
    private let channel: String
    private let logger: Logger
    private let wakeups: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init(client: PostgresClient, channel: String, logger: Logger) {
        self.client = client
        self.channel = channel
        self.logger = logger
        (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Cheap and non-blocking: called on every append's hot path.
    func signal() {
        continuation.yield()
    }

    /// At most one NOTIFY per interval: under load, appends arrive far faster than subscribers
    /// need waking, and each NOTIFY costs the database a transaction of its own.
    static let minimumInterval: Duration = .milliseconds(25)

    func run() async {
        for await _ in wakeups.cancelOnGracefulShutdown() {
            // A NOTIFY waits for a connection, and after the database restarted that wait may
            // not heed cancellation: it gets five seconds, and a shutdown never waits for it.
            let (client, channel, logger) = (self.client, self.channel, self.logger)
            let notify = Task {
                do {
                    try await client.query(PostgresQuery(unsafeSQL: "NOTIFY \(channel)"), logger: logger)
                } catch {
                    logger.debug("could not send the append notification; subscribers will poll", metadata: ["error.type": "\(type(of: error))"])
                }
            }
            await waitAtMost(.seconds(5), for: notify)
            try? await Task.sleep(for: Self.minimumInterval)
        }
    }

    deinit { continuation.finish() }
}
