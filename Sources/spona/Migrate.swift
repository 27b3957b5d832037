import ArgumentParser
import Foundation
import SchemaMigrations
import SponaEventStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the numbered SQL files of Schema/ that the database does not have yet.",
        discussion: """
            Runs as the database's owner. Applying twice changes nothing; a migration file changed \
            after it was applied is refused. After a restore or a move into another cluster, it \
            also carries the event order over (a new era), so that new events come after the \
            restored ones; until then the store refuses to write.

            Environment:
              SPONA_OWNER_DATABASE_URL  the owner's PostgreSQL URL (falls back to DATABASE_URL); or _FILE
              SPONA_OWNER_DATABASE_PASSWORD[_FILE]  its password, if not in the URL
              SPONA_SCHEMA_DIR              the folder of migrations (default: ./Schema)
              SPONA_LOG_LEVEL               trace, debug, info (default), notice, warning, error
            """
    )

    @OptionGroup var database: OwnerDatabaseOptions

    @Option(name: .customLong("schema-dir"), help: ArgumentHelp("The folder of NNNN_name.sql files.", valueName: "path"))
    var schemaDirectory: String?

    func run() async throws {
        let logger = try makeLogger(label: "spona.migrate", level: nil)
        let url = try database.resolve()
        let directory = URL(fileURLWithPath: schemaDirectory ?? Environment.value("SPONA_SCHEMA_DIR") ?? "Schema")
        let migrator: SchemaMigrator
        do { migrator = try SchemaMigrator(directory: directory) } catch { throw CommandFailure("\(error)") }

        let (outcome, era) = try await withPostgresClient(url.configuration, logger: logger) { client in
            do {
                let outcome = try await migrator.migrate(client: client, logger: logger)
                // After a restore or a move, the order is carried over before anything is written.
                return (outcome, try await EventOrder.advance(client: client, logger: logger))
            } catch let error as SchemaMigrator.MigrationError {
                throw CommandFailure("\(error)")
            }
        }
        if let era {
            print("the event order began era \(era): this database was restored or moved; new events come after every stored one")
        }
        if outcome.applied.isEmpty {
            print("schema is up to date (\(outcome.alreadyApplied.count) migrations applied before)")
        } else {
            print("applied \(outcome.applied.count) migrations: \(outcome.applied.map(String.init).joined(separator: ", "))")
        }
    }
}
