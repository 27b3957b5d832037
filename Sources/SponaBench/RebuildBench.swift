import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaHTTP
import SponaProjections

/// Rebuilding the views from a large history, beside the raw read of the same events
/// (`COPY … TO STDOUT` in the store's gap-safe order), with the process's memory sampled
/// throughout to show it does not grow with the number of events.
struct RebuildBench {
    let owner: PostgresClient
    let ownerURL: String
    let geography: Geography
    let logger: Logger
    let events: Int
    let psql: String?

    struct Result {
        var events: Int64
        var generateSeconds: Double
        var rawSeconds: Double?
        var rebuilds: [(name: String, seconds: Double)]
        var rssBeforeMiB: Int
        var rssPeakMiB: Int
    }

    func run() async throws -> Result {
        let store = PostgresEventStore(client: owner, logger: logger)
        let clock = ContinuousClock()
        let generated = clock.now
        try await generate(store)
        let generateSeconds = Self.seconds(clock.now - generated)
        let total = try await store.backlog(after: .start).events

        var rawSeconds: Double?
        if let psql {
            let began = clock.now
            let process = Process()
            process.executableURL = URL(fileURLWithPath: psql)
            process.arguments = [ownerURL, "-X", "-q", "-c", """
                COPY (SELECT global_position, transaction_id, stream_id, stream_version, event_id, event_type, schema_version,
                             payload, metadata, recorded_at, hash FROM events ORDER BY transaction_id, global_position) TO STDOUT
                """]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus == 0 { rawSeconds = Self.seconds(clock.now - began) }
        }

        let before = Self.residentMegabytes()
        let sampler = Task {
            var peak = 0
            while !Task.isCancelled {
                peak = max(peak, Self.residentMegabytes())
                try? await Task.sleep(for: .milliseconds(50))
            }
            return peak
        }
        var rebuilds: [(String, Double)] = []
        for projection in allProjections(geography: geography) {
            let result = try await ProjectionRebuild(owner: owner, store: store, logger: logger).rebuild(projection)
            rebuilds.append((projection.name, Self.seconds(result.elapsed)))
        }
        sampler.cancel()
        let peak = max(await sampler.value, before)
        return Result(events: total, generateSeconds: generateSeconds, rawSeconds: rawSeconds, rebuilds: rebuilds,
                      rssBeforeMiB: before, rssPeakMiB: peak)
    }

    /// Cases decided by the domain (report, acknowledgement, triage, referral, identification:
    /// five events each), appended eight streams at a time.
    private func generate(_ store: PostgresEventStore) async throws {
        let center = Institution(id: .center, nameLatin: "Centar", nameCyrillic: nil, sector: .socialProtection,
                                 municipality: MunicipalityCode(rawValue: "beograd"), isActive: true, isCenter: true)
        let places = geography.municipalities.map(\.code)
        var institutions: [InstitutionID: Institution] = [.center: center]
        var schools: [Institution] = []
        for (index, sector) in [Sector.education, .socialProtection, .health, .police, .ngo].enumerated() {
            let institution = Institution(id: InstitutionID(), nameLatin: "Bench \(index)", nameCyrillic: nil, sector: sector,
                                          municipality: places[index * 7 % places.count], isActive: true, isCenter: false)
            institutions[institution.id] = institution
            schools.append(institution)
            let details = InstitutionEvent.Details(id: institution.id, nameLatin: institution.nameLatin, sector: sector, municipality: institution.municipality)
            try await store.append(to: Streams.institution(institution.id), expected: .noStream,
                                   events: [EventData(type: "InstitutionRegistered", schemaVersion: InstitutionEvent.schemaVersion,
                                                      payload: try InstitutionEvent.registered(details).encodePayload(with: EventCoding.encoder))],
                                   metadata: try EventCoding.metadata(CommandMetadata(actor: Actor(id: "bench", institution: .center, role: .admin), requestID: "bench")))
        }
        let cases = max(1, events / 5)
        let institutionsSnapshot = institutions
        let schoolList = schools
        let geography = self.geography
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var random = SystemRandomNumberGenerator()
                    for n in stride(from: worker, to: cases, by: 8) {
                        let reporter = schoolList[n % schoolList.count]
                        let receiver = schoolList[(n + 1) % schoolList.count]
                        let now = Date()
                        func context(_ actor: Actor) -> DecisionContext {
                            DecisionContext(actor: actor, now: now, institutions: institutionsSnapshot, geography: geography)
                        }
                        let staff = Actor(id: "bench-staff", institution: reporter.id, role: .reporter)
                        let coordinator = Actor(id: "bench-coordinator", institution: .center, role: .coordinator)
                        let report = CaseCommand.FileReport(
                            municipality: places.randomElement(using: &random)!, channel: .app,
                            subject: SubjectProfile(ageGroup: AgeGroup.allCases.randomElement(using: &random)!, gender: .female),
                            locations: [Location(role: .recruitment, municipality: places.randomElement(using: &random)!),
                                        Location(role: .exploitation, country: "DE")],
                            exploitation: [.sexual], indicators: [IndicatorID(rawValue: "VR-05")], urgency: .urgent, reporterTrained: n % 3 == 0)
                        var history: [(event: CaseEvent, at: Date)] = []
                        var state: Case?
                        func run(_ command: CaseCommand, as actor: Actor) throws {
                            for event in try CaseDecider.decide(command, on: state, context: context(actor)) {
                                history.append((event, now))
                                state = Case.evolve(state, event, at: now)
                            }
                        }
                        try run(.fileReport(report), as: staff)
                        try run(.acknowledge, as: coordinator)
                        try run(.triage(confirmedRisk: .high, caseManager: "bench", note: nil), as: coordinator)
                        try run(.sendReferral(.init(to: receiver.id, reason: "assessment", due: now + 86_400)), as: coordinator)
                        try run(.concludeIdentification(n % 4 == 0 ? .identifiedVictim : .atRiskPrevention, note: nil), as: coordinator)
                        let data = try history.map {
                            EventData(type: $0.event.typeName, schemaVersion: CaseEvent.schemaVersion, payload: try $0.event.encodePayload(with: EventCoding.encoder))
                        }
                        try await store.append(to: Streams.case(report.caseID), expected: .noStream, events: data,
                                               metadata: try EventCoding.metadata(CommandMetadata(actor: coordinator, requestID: "bench")))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func residentMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }
}
