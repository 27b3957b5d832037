import ArgumentParser
import Foundation
import Logging
import SponaApplication
import SponaDomain
import SponaEventStore

struct Reference: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load reference data.",
        subcommands: [Load.self]
    )

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register the Center, and import institutions and trainings from CSV files.",
            discussion: """
                Safe to run again: what is already there is left as it is. Institutions: a CSV like \
                institutions-2025.csv (name_lat, name_cyr, sector, municipality_lat, \
                city_municipality_lat, is_center); an institution without a municipality is national. \
                Trainings: a CSV like trainings-2025.csv.

                Environment: SPONA_OWNER_DATABASE_URL, SPONA_REFERENCE_DIR.
                """
        )

        @OptionGroup var database: OwnerDatabaseOptions
        @Option(help: "A CSV of institutions to import.") var institutions: String?
        @Option(help: "A CSV of trainings to import.") var trainings: String?

        func run() async throws {
            let logger = try makeLogger(label: "spona.reference", level: nil)
            let geography: Geography
            do { geography = try ReferenceData.geography(in: Environment.referenceDirectory) } catch { throw CommandFailure("\(error)") }
            let institutionRows = try institutions.map { try Self.table($0) }
            let trainingRows = try trainings.map { try Self.table($0) }
            let loader = ReferenceImport(geography: geography)
            let plans: ([InstitutionEvent.Details], [TrainingHeld])
            do {
                plans = (try institutionRows.map { try loader.institutions($0) } ?? [], try trainingRows.map { try loader.trainings($0) } ?? [])
            } catch { throw CommandFailure("\(error)") }

            let summary = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                let store = PostgresEventStore(client: client, logger: logger)
                let admin = Actor(id: "spona-reference-load", institution: .center, role: .admin)
                return try await RegistryService(store: store, geography: geography)
                    .load(institutions: plans.0, trainings: plans.1, actor: admin, requestID: "reference-load")
            }
            print("registered \(summary.0) institutions, recorded \(summary.1) trainings (the rest were there already)")
        }

        static func table(_ path: String) throws -> CSVTable {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandFailure("cannot read \(path)") }
            do { return try CSVTable(parsing: text) } catch { throw CommandFailure("\(path): \(error)") }
        }
    }
}
