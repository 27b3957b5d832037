import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaHTTP
import SponaProjections

/// From append to visible in a view: reports filed at a steady rate through the application,
/// the server's projection runners following, and each report timed until its row is in the
/// reporters' view (`case_reports`).
struct VisibilityBench {
    let app: PostgresClient
    let geography: Geography
    let logger: Logger
    let rate: Int
    let seconds: Double

    struct Result {
        var appended: Int
        var p50: Duration
        var p99: Duration
        var max: Duration
    }

    func run() async throws -> Result {
        let store = PostgresEventStore(client: app, logger: logger, pollInterval: .milliseconds(200))
        let registry = RegistryService(store: store, geography: geography)
        try await registry.ensureCenter(requestID: "bench")
        let school = InstitutionID()
        try await registry.handle(
            .register(.init(id: school, nameLatin: "OŠ (bench)", sector: .education, municipality: MunicipalityCode(rawValue: "prokuplje"))),
            on: school,
            actor: Actor(id: "bench", institution: .center, role: .admin),
            requestID: "bench",
            idempotencyKey: nil
        )
        let cases = CaseService(store: store, geography: geography, vault: try PersonalDataVault.temporary())
        let caller = Caller(actor: Actor(id: "bench", institution: school, role: .reporter), isCenter: false)
        let dependencies = Dependencies(database: app, store: store, geography: geography, logger: logger)
        let clock = ContinuousClock()
        let pending = Pending()

        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            for runner in projectionRunners(dependencies) {
                group.addTask { try await runner.run() }
            }
            // The watcher: which pending reports have reached the view.
            group.addTask {
                while !Task.isCancelled {
                    let waiting = await pending.ids()
                    if !waiting.isEmpty {
                        let rows = try await app.query("SELECT case_id FROM case_reports WHERE case_id = ANY(\(waiting))", logger: logger)
                        var seen: [UUID] = []
                        for try await id in rows.decode(UUID.self) { seen.append(id) }
                        await pending.visible(seen, at: clock.now)
                    }
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            // A steady rate: the n-th report is filed at start + n / rate.
            let start = clock.now
            let total = Int(Double(rate) * seconds)
            let interval = Duration.nanoseconds(1_000_000_000 / rate)
            try await withThrowingTaskGroup(of: Void.self) { writers in
                for n in 0..<total {
                    try await clock.sleep(until: start + interval * n)
                    writers.addTask {
                        let report = CaseCommand.FileReport(
                            municipality: MunicipalityCode(rawValue: "prokuplje"),
                            channel: .app,
                            subject: SubjectProfile(ageGroup: .child14to17, gender: .female),
                            urgency: .urgent
                        )
                        let began = clock.now
                        _ = try await cases.handle(
                            .fileReport(report),
                            on: report.caseID,
                            expectedVersion: nil,
                            caller: caller,
                            requestID: "bench",
                            idempotencyKey: nil
                        )
                        await pending.add(report.caseID.rawValue, at: began)
                    }
                }
                try await writers.waitForAll()
            }
            let deadline = clock.now + .seconds(10)
            while await !pending.ids().isEmpty, clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            group.cancelAll()
            let latencies = await pending.latencies.sorted()
            func percentile(_ p: Double) -> Duration {
                latencies.isEmpty ? .zero : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
            }
            return Result(appended: total, p50: percentile(0.5), p99: percentile(0.99), max: latencies.last ?? .zero)
        }
    }

    actor Pending {
        var started: [UUID: ContinuousClock.Instant] = [:]
        var latencies: [Duration] = []
        func add(_ id: UUID, at time: ContinuousClock.Instant) { started[id] = time }
        func ids() -> [UUID] { Array(started.keys) }
        func visible(_ ids: [UUID], at time: ContinuousClock.Instant) {
            for id in ids { if let began = started.removeValue(forKey: id) { latencies.append(time - began) } }
        }
    }
}
