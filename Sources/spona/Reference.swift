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
                """)

        @OptionGroup var database: OwnerDatabaseOptions
        @Option(help: "A CSV of institutions to import.") var institutions: String?
        @Option(help: "A CSV of trainings to import.") var trainings: String?

        func run() async throws {
            let logger = try makeLogger(label: "spona.reference", level: nil)
            let geography: Geography
            do { geography = try ReferenceData.geography(in: ReferenceData.defaultDirectory) } catch { throw CommandFailure("\(error)") }
            let institutionRows = try institutions.map { try Self.table($0) }
            let trainingRows = try trainings.map { try Self.table($0) }
            let loader = Loader(geography: geography)
            let plans = try (institutionRows.map { try loader.institutions($0) } ?? [], trainingRows.map { try loader.trainings($0) } ?? [])

            let summary = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                let store = PostgresEventStore(client: client, logger: logger)
                let registry = RegistryService(store: store, geography: geography)
                let admin = Actor(id: "spona-reference-load", institution: .center, role: .admin)
                var registered = 0, trainingsWritten = 0
                if try await registry.ensureCenter(requestID: "reference-load") { registered += 1 }
                for details in plans.0 where try await InstitutionDirectory(store: store).institution(details.id) == nil {
                    try await registry.handle(.register(details), on: details.id, actor: admin, requestID: "reference-load", idempotencyKey: nil)
                    registered += 1
                }
                let caller = Caller(actor: admin, isCenter: true)
                for training in plans.1 where try await registry.recordTraining(training, caller: caller, requestID: "reference-load") {
                    trainingsWritten += 1
                }
                return (registered, trainingsWritten)
            }
            print("registered \(summary.0) institutions, recorded \(summary.1) trainings (the rest were there already)")
        }

        static func table(_ path: String) throws -> CSVTable {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandFailure("cannot read \(path)") }
            do { return try CSVTable(parsing: text) } catch { throw CommandFailure("\(path): \(error)") }
        }
    }
}

/// Turns reference CSV rows into registry facts, with ids derived from the rows so a second
/// load finds what the first one wrote.
struct Loader {
    let geography: Geography

    func institutions(_ table: CSVTable) throws -> [InstitutionEvent.Details] {
        for column in ["name_lat", "sector"] where !table.header.contains(column) {
            throw CommandFailure("the institutions file has no column '\(column)'")
        }
        return try table.rows.enumerated().compactMap { index, row in
            if row["is_center"] == "true" { return nil } // the Center is registered by itself
            guard let sector = Sector(rawValue: row["sector"] ?? "") else {
                throw CommandFailure("institutions line \(index + 2): '\(row["sector"] ?? "")' is not a sector")
            }
            var municipality: MunicipalityCode?
            // An inter-municipal institution lists several ("Mionica;Ljig;Lajkovac"): the first is its seat.
            if let listed = row["municipality_lat"], let name = listed.split(separator: ";").first.map(String.init), !name.isEmpty {
                let part = row["city_municipality_lat"] ?? ""
                guard let found = part.isEmpty ? geography.resolve(name: name) : geography.resolve(name: part, within: name) ?? geography.resolve(name: name) else {
                    throw CommandFailure("institutions line \(index + 2): '\(name)' is not a municipality")
                }
                municipality = found.code
            }
            let name = row["name_lat"] ?? ""
            return InstitutionEvent.Details(
                id: InstitutionID(rawValue: Self.stableID("institution|\(name)|\(municipality?.rawValue ?? "")")),
                nameLatin: name, nameCyrillic: row["name_cyr"].flatMap { $0.isEmpty ? nil : $0 },
                sector: sector, municipality: municipality)
        }
    }

    func trainings(_ table: CSVTable) throws -> [TrainingHeld] {
        try table.rows.enumerated().map { index, row in
            let line = index + 2
            guard let host = geography.resolve(name: row["host_city_lat"] ?? "") else {
                throw CommandFailure("trainings line \(line): '\(row["host_city_lat"] ?? "")' is not a municipality")
            }
            func number(_ column: String) -> Int { Int(row[column] ?? "") ?? 0 }
            var bySector: [Sector: Int] = [:]
            for (column, sector) in [("social_protection", Sector.socialProtection), ("education", .education), ("health", .health),
                                     ("police", .police), ("ngo", .ngo), ("judiciary", .judiciary), ("local_government", .localGovernment),
                                     ("red_cross", .redCross), ("other", .other)] where number(column) > 0 {
                bySector[sector] = number(column)
            }
            let represented = (row["lsg_present"] ?? "").split(separator: ";").compactMap { geography.resolve(name: String($0))?.code }
            let date = row["date"] ?? ""
            return TrainingHeld(
                id: TrainingID(rawValue: Self.stableID("training|\(date)|\(host.code)")), date: date, host: host.code,
                participantsBySector: bySector, participants: number("participants"), women: number("women"), men: number("men"),
                municipalities: represented)
        }
    }

    static func stableID(_ text: String) -> UUID {
        var bytes = Array(Data(text.utf8).sha256Prefix16)
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

import Crypto

extension Data {
    var sha256Prefix16: [UInt8] { Array(SHA256.hash(data: self).prefix(16)) }
}
