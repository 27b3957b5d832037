import ArgumentParser
import Foundation
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaHTTP
import SponaProjections

struct Projections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The read models folded from the events.",
        subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How far behind the store each projection is (events and seconds).",
            discussion: "Needs only read access. Environment: DATABASE_URL, SPONA_REFERENCE_DIR.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = try makeLogger(label: "spona.projections", level: nil)
            let geography: Geography
            do { geography = try ReferenceData.geography(in: ReferenceData.defaultDirectory) } catch { throw CommandFailure("\(error)") }
            let names = allProjections(geography: geography).map(\.name)
            let statuses = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                try await ProjectionStatus.read(names, client: client, store: PostgresEventStore(client: client, logger: logger), logger: logger)
            }
            func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
            print(pad("projection", 18), pad("applied", 10), pad("behind", 10), "seconds behind")
            for status in statuses {
                print(pad(status.name, 18), pad("\(status.eventsApplied)", 10), pad("\(status.eventsBehind)", 10), String(format: "%.1f", status.secondsBehind))
            }
        }
    }
}
