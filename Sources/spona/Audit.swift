import ArgumentParser
import Foundation
import SponaEventStore

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove the history unaltered.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every stream's hash chain from the stored events.",
            discussion: """
                Needs only read access. Prints what it checked and exits 0, or names the first \
                event that does not match (stream, version, what is wrong) and exits 1.

                Environment: DATABASE_URL, SPONA_LOG_LEVEL.
                """
        )

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = try makeLogger(label: "spona.audit", level: nil)
            let url = try database.resolve()
            let verifier = try await withPostgresClient(url.configuration, logger: logger) { client in
                try await PostgresEventStore(client: client, logger: logger).verifyChains()
            }
            if let failure = verifier.firstFailure {
                print("FAILED: \(failure)")
                print("checked \(verifier.events) events in \(verifier.streams) streams")
                throw ExitCode(1)
            }
            print("ok: \(verifier.events) events in \(verifier.streams) streams, every hash chain intact")
        }
    }
}
