import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaRecords

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a believable history of invented cases, for dashboards, demos and benchmarks.",
        discussion: """
            Every command goes through the domain like a request over HTTP, dated in the past \
            (the events' metadata carry occurredAt; views count by it). Registers the reference \
            institutions and trainings first. The same --seed and period give the same history: a \
            run cut short and started again (the same day, or with the same --until) finishes it \
            and writes nothing twice.

            Events cannot be deleted, so a demo refuses a database that holds cases it did not \
            write, unless --into-real-data is given.

            Environment: SPONA_OWNER_DATABASE_URL (else DATABASE_URL), SPONA_REFERENCE_DIR.
            """
    )

    @OptionGroup var database: OwnerDatabaseOptions
    @Option(help: "How many cases to write.") var cases: Int
    @Option(help: "The seed of the invented history.") var seed: UInt64 = 2025
    @Option(help: "The first day of the period (YYYY-MM-DD).") var from: String = "2024-01-01"
    @Option(help: "The last day of the period (YYYY-MM-DD); up to the start of today (UTC) when not given.") var until: String?
    @Option(help: "How many cases to write at once.") var concurrency: Int = 8
    @Option(help: "A CSV of institutions (default: institutions-2025.csv in the reference folder).") var institutions: String?
    @Option(help: "A CSV of trainings (default: trainings-2025.csv in the reference folder).") var trainings: String?
    @Flag(help: "Write the demo into a database that already holds real cases.") var intoRealData = false

    func validate() throws {
        guard cases >= 1 else { throw ValidationError("--cases must be at least 1") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 64") }
    }

    func run() async throws {
        let logger = try makeLogger(label: "spona.demo", level: nil)
        let directory = Environment.referenceDirectory
        let geography: Geography
        do { geography = try ReferenceData.geography(in: directory) } catch { throw CommandFailure("\(error)") }
        guard let start = Self.day(from) else { throw CommandFailure("--from '\(from)' is not a date (YYYY-MM-DD)") }
        let end: Date
        if let until {
            guard let day = Self.day(until) else { throw CommandFailure("--until '\(until)' is not a date (YYYY-MM-DD)") }
            end = day + 86_399
        } else {
            // The start of today (UTC): everything in the past, and the same plans all day.
            end = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
        }
        let loader = ReferenceImport(geography: geography)
        let institutionPlans: [InstitutionEvent.Details]
        let trainingPlans: [TrainingHeld]
        do {
            institutionPlans = try loader.institutions(
                try Reference.Load.table(institutions ?? directory.appendingPathComponent("institutions-2025.csv").path)
            )
            trainingPlans = try loader.trainings(try Reference.Load.table(trainings ?? directory.appendingPathComponent("trainings-2025.csv").path))
        } catch let problem as ReferenceImport.Problem { throw CommandFailure("\(problem)") }
        let known = institutionPlans.map(Institution.init(registered:))
        let history: DemoHistory
        do {
            history = try DemoHistory(geography: geography, institutions: known, trainings: trainingPlans, from: start, until: end, seed: seed)
        } catch { throw CommandFailure("\(error)") }

        let terminal = isatty(STDOUT_FILENO) == 1
        let cases = self.cases
        let seed = self.seed
        let concurrency = self.concurrency
        let intoRealData = self.intoRealData
        try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
            if !intoRealData {
                let real = try await client.query(
                    "SELECT count(*) FROM events WHERE stream_id LIKE 'case-%' AND stream_version = 1 AND metadata->>'requestID' NOT LIKE 'demo-%'",
                    logger: logger
                )
                for try await count in real.decode(Int64.self) where count > 0 {
                    throw CommandFailure(
                        "this database holds \(count) real cases; a demo's invented cases could never be removed from it (pass --into-real-data if you mean it)"
                    )
                }
            }
            let store = PostgresEventStore(client: client, logger: logger)
            try await RegistryService(store: store, geography: geography).load(
                institutions: institutionPlans,
                trainings: trainingPlans,
                actor: Actor(id: "spona-demo", institution: .center, role: .admin),
                requestID: "demo"
            )

            // The server's own vault when it is configured (its notes then read as the server's
            // do); else one of the demo's own, whose notes nobody can open afterwards.
            let vault: PersonalDataVault
            do {
                let configured =
                    Environment.value("SPONA_MASTER_KEY") ?? Environment.value("SPONA_MASTER_KEY_FILE")
                vault = configured != nil ? try PersonalDataVault.fromEnvironment(Environment.variables) : try PersonalDataVault.temporary()
            } catch { throw CommandFailure("\(error)") }
            let service = CaseService(store: store, geography: geography, vault: vault)
            let began = ContinuousClock.now
            let meter = DemoMeter(total: cases, terminal: terminal)
            let summary: DemoWriter.Summary
            do {
                let (history, seed, cases, concurrency) = (history, seed, cases, concurrency)
                summary = try await vault.withStoreRunning { _ in
                    try await DemoWriter(service: service, history: history, seed: seed)
                        .write(cases: cases, concurrency: concurrency) { meter.show($0) }
                }
            } catch let refused as DemoWriter.Refused {
                throw CommandFailure("\(refused)")
            }
            let seconds = (ContinuousClock.now - began).inSeconds
            if terminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
            print(
                String(
                    format: "demo: %d cases, %d commands (%d already there from an earlier run) in %.1f s",
                    summary.cases,
                    summary.commands,
                    summary.alreadyThere,
                    seconds
                )
            )
        }
    }

    static func day(_ text: String) -> Date? {
        guard text.count == 10 else { return nil }
        return ISO8601.date(from: text + "T00:00:00Z")
    }
}

/// Cases written so far: a bar on a terminal, a line every few seconds otherwise.
final class DemoMeter: @unchecked Sendable {
    let total: Int
    let terminal: Bool
    private let lock = NSLock()
    private var lastShown = ContinuousClock.now
    private let began = ContinuousClock.now

    init(total: Int, terminal: Bool) {
        self.total = total
        self.terminal = terminal
    }

    func show(_ done: Int) {
        lock.withLock {
            let now = ContinuousClock.now
            guard now - lastShown >= (terminal ? .milliseconds(100) : .seconds(5)) else { return }
            lastShown = now
            let elapsed = (now - began).inSeconds
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let left = rate > 0 ? Double(total - done) / rate : 0
            if terminal {
                let width = 30
                let filled = Int(Double(done) / Double(total) * Double(width))
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                FileHandle.standardOutput.write(
                    Data(("\rdemo \(bar) " + String(format: "%d/%d cases  %.0f cases/s  %.0f s left ", done, total, rate, left)).utf8)
                )
            } else {
                print("demo: " + String(format: "%d/%d cases, %.0f cases/s, %.0f s left", done, total, rate, left))
            }
        }
    }
}
