import ArgumentParser
import Foundation
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaHTTP
import SponaProjections
import SponaRecords

#if canImport(Glibc)
import Glibc
#endif

struct Projections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The read models folded from the events.",
        subcommands: [Status.self, Rebuild.self, Skip.self, Retry.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How far behind the store each projection is (events and seconds).",
            discussion: "Needs only read access. Environment: DATABASE_URL, SPONA_REFERENCE_DIR."
        )

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = try makeLogger(label: "spona.projections", level: nil)
            let geography: Geography
            do { geography = try ReferenceData.geography(in: Environment.referenceDirectory) } catch { throw CommandFailure("\(error)") }
            let names = allProjections(geography: geography).map(\.name)
            let (statuses, holder) = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                (
                    try await ProjectionStatus.read(names, client: client, store: PostgresEventStore(client: client, logger: logger), logger: logger),
                    try await ReadHorizon.oldestHolder(client: client, logger: logger)
                )
            }
            func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
            print(pad("projection", 18), pad("applied", 10), pad("behind", 10), "seconds behind")
            for status in statuses {
                print(
                    pad(status.name, 18),
                    pad("\(status.eventsApplied)", 10),
                    pad("\(status.eventsBehind)", 10),
                    String(format: "%.1f", status.secondsBehind) + (status.rebuilding ? "  (rebuilding after a version change)" : "")
                )
            }
            if let holder, holder.seconds >= 5 {
                print(
                    """

                    the read horizon is held back by the oldest transaction of the cluster: \(holder)
                      nothing newer reaches the projections and seals until it ends\(holder.pid.map { " (SELECT pg_terminate_backend(\($0)))" } ?? "")
                    """
                )
            }
            for status in statuses {
                guard let failure = status.stoppedAt else { continue }
                print(
                    """

                    \(failure.projection) STOPPED at event \(failure.eventID) (\(failure.type), stream \(failure.stream) version \(failure.version), \
                    position \(failure.position)), tried \(failure.attempts) time\(failure.attempts == 1 ? "" : "s"): \(failure.error)
                      once the cause is mended: spona projections retry \(failure.projection)
                      if it can never apply:    spona projections skip \(failure.projection) \(failure.eventID) --reason "…"
                    """
                )
            }
            if statuses.contains(where: { $0.stoppedAt != nil }) { throw ExitCode(3) }
        }
    }

    struct Skip: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a stopped projection go on without the one event it cannot apply.",
            discussion: """
                The skip is itself recorded in the history (stream projections-skips), with the \
                reason, so every later rebuild and as-of view leaves the same event out and an \
                auditor sees that it did and why. The event stays in the history.

                Environment: DATABASE_URL, SPONA_REFERENCE_DIR.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The stopped projection (see `spona projections status`).") var name: String
        @Argument(help: "The id of the event it stopped at.") var event: String
        @Option(help: "Why it is right to go on without it (recorded in the history).") var reason: String
        @Option(help: "Who decides: an operator's id, never a name (recorded in the history).") var actor: String = "operator"

        func run() async throws {
            let logger = try makeLogger(label: "spona.projections", level: nil)
            guard let eventID = UUID(uuidString: event) else { throw CommandFailure("'\(event)' is not an event id (a UUID)") }
            let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !reason.isEmpty, reason.count <= 2000, !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw CommandFailure("--reason must say why, in at most 2000 characters on one line")
            }
            let geography: Geography
            do { geography = try ReferenceData.geography(in: Environment.referenceDirectory) } catch { throw CommandFailure("\(error)") }
            guard allProjections(geography: geography).contains(where: { $0.name == name }) else {
                throw CommandFailure("there is no projection '\(name)'")
            }
            let skip: ProjectionEventSkipped = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                let store = PostgresEventStore(client: client, logger: logger)
                guard let failure = try await ProjectionFailures.all(client: client, logger: logger)[name], failure.eventID == eventID else {
                    throw CommandFailure("\(name) has not stopped at event \(eventID); only the event a projection stopped at can be skipped")
                }
                let skip = ProjectionEventSkipped(
                    projection: name,
                    eventID: eventID,
                    stream: failure.stream,
                    version: failure.version,
                    reason: reason
                )
                let metadata = try EventCoding.metadata(
                    CommandMetadata(
                        actor: Actor(id: "operator:\(actor)", institution: .center, role: .admin),
                        requestID: "spona-projections-skip-\(UUID())"
                    )
                )
                _ = try await store.append(
                    to: ProjectionEventSkipped.stream,
                    expected: .any,
                    events: [
                        EventData(
                            type: ProjectionEventSkipped.typeName,
                            schemaVersion: ProjectionEventSkipped.schemaVersion,
                            payload: try EventCoding.encoder.encode(skip)
                        )
                    ],
                    metadata: metadata
                )
                _ = try await ProjectionFailures.retry(name, client: client, logger: logger)
                return skip
            }
            print(
                "\(skip.projection) will go on without event \(skip.eventID) (stream \(skip.stream) version \(skip.version)); the skip is recorded in the history"
            )
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a stopped projection try its event again now (after the cause was mended).",
            discussion: "Environment: DATABASE_URL."
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The stopped projection.") var name: String

        func run() async throws {
            let logger = try makeLogger(label: "spona.projections", level: nil)
            let stopped = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                try await ProjectionFailures.retry(name, client: client, logger: logger)
            }
            print(stopped ? "\(name) will try its event again within seconds" : "\(name) has not stopped; nothing to retry")
        }
    }

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the whole history into fresh tables and swap them in at the end.",
            discussion: """
                The servers keep answering from the old tables until the swap, which is one \
                transaction. On a terminal it shows a progress bar; otherwise a line every few seconds.

                Environment: SPONA_OWNER_DATABASE_URL (it creates and renames tables), SPONA_REFERENCE_DIR.
                """
        )

        @OptionGroup var database: OwnerDatabaseOptions
        @Argument(help: "The projection to rebuild (see `spona projections status`).") var name: String?
        @Flag(help: "Rebuild every projection.") var all = false

        func validate() throws {
            if all == (name != nil) { throw ValidationError("name one projection, or give --all") }
        }

        func run() async throws {
            let logger = try makeLogger(label: "spona.projections", level: nil)
            let geography: Geography
            do { geography = try ReferenceData.geography(in: Environment.referenceDirectory) } catch { throw CommandFailure("\(error)") }
            let known = allProjections(geography: geography)
            let chosen = all ? known : known.filter { $0.name == name }
            guard !chosen.isEmpty else {
                throw CommandFailure("there is no projection '\(name ?? "")'; there are \(known.map(\.name).joined(separator: ", "))")
            }
            let terminal = isatty(STDOUT_FILENO) == 1
            try await withPostgresClient(try database.resolve().configuration, logger: logger) { owner in
                let store = PostgresEventStore(client: owner, logger: logger)
                // All of them in one pass: the history is read once, not once per projection.
                let meter = ProgressMeter(name: chosen.map(\.name).joined(separator: ", "), terminal: terminal)
                let result = try await ProjectionRebuild(owner: owner, store: store, logger: logger).rebuild(chosen) { meter.show($0) }
                meter.finish(result)
            }
        }
    }
}

/// A progress bar on a terminal (events, rate, time left); plain lines every few seconds otherwise.
final class ProgressMeter: @unchecked Sendable {
    let name: String
    let terminal: Bool
    private let lock = NSLock()
    private var lastShown = ContinuousClock.now - .seconds(60)

    init(name: String, terminal: Bool) {
        self.name = name
        self.terminal = terminal
    }

    func show(_ progress: ProjectionRebuild.Progress) {
        lock.withLock {
            let now = ContinuousClock.now
            guard now - lastShown >= (terminal ? .milliseconds(100) : .seconds(3)) else { return }
            lastShown = now
            let elapsed = progress.elapsed.inSeconds
            let rate = elapsed > 0 ? Double(progress.applied) / elapsed : 0
            let left = rate > 0 ? Double(progress.total - progress.applied) / rate : 0
            let fraction = progress.total > 0 ? Double(progress.applied) / Double(progress.total) : 1
            if terminal {
                let width = 30
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                let line = "\r\(name) \(bar) " + String(format: "%d/%d events  %.0f ev/s  %.0f s left ", progress.applied, progress.total, rate, left)
                FileHandle.standardOutput.write(Data(line.utf8))
            } else {
                print(
                    "\(name): "
                        + String(
                            format: "%d/%d events (%.0f%%), %.0f ev/s, %.0f s left",
                            progress.applied,
                            progress.total,
                            fraction * 100,
                            rate,
                            left
                        )
                )
            }
        }
    }

    func finish(_ result: ProjectionRebuild.Result) {
        let elapsed = result.elapsed.inSeconds
        if terminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
        print(
            "\(name): "
                + String(
                    format: "rebuilt from %d events in %.1f s (%.0f ev/s), swapped in",
                    result.events,
                    elapsed,
                    elapsed > 0 ? Double(result.events) / elapsed : 0
                )
        )
    }
}
