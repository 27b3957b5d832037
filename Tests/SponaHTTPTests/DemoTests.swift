import Foundation
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaRecords
import SponaTestSupport
import Testing

@Suite("The demo history")
struct DemoTests {
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Reference")

    /// Registers the shipped institutions and trainings, as `spona demo` does first.
    static func loadReference(_ store: PostgresEventStore) async throws -> (institutions: [Institution], trainings: [TrainingHeld]) {
        let importer = ReferenceImport(geography: shippedGeography)
        let details = try importer.institutions(
            try CSVTable(parsing: String(contentsOf: reference.appendingPathComponent("institutions-2025.csv"), encoding: .utf8))
        )
        let trainings = try importer.trainings(
            try CSVTable(parsing: String(contentsOf: reference.appendingPathComponent("trainings-2025.csv"), encoding: .utf8))
        )
        try await RegistryService(store: store, geography: shippedGeography).load(
            institutions: details,
            trainings: trainings,
            actor: Actor(id: "test-admin", institution: .center, role: .admin),
            requestID: "test"
        )
        let institutions = details.map(Institution.init(registered:))
        return (institutions, trainings)
    }

    @Test("a demo goes through the domain, spreads over its period with the source's proportions, and a second run writes nothing")
    func demoHistory() async throws {
        try await APIHarness.run { api in
            let (institutions, trainings) = try await Self.loadReference(api.db.store)
            let from = try #require(ISO8601.date(from: "2024-01-01T00:00:00Z"))
            let until = try #require(ISO8601.date(from: "2026-10-31T23:59:59Z"))
            let history = try DemoHistory(
                geography: shippedGeography,
                institutions: institutions,
                trainings: trainings,
                from: from,
                until: until,
                seed: 7
            )
            let service = CaseService(store: api.db.store, geography: shippedGeography, vault: api.vault)
            let writer = DemoWriter(service: service, history: history, seed: 7)

            let first = try await writer.write(cases: 300)
            #expect(first.cases == 300)
            #expect(first.alreadyThere == 0)
            #expect(first.commands > 300 * 5)
            let events = try await api.db.eventCount()

            // A second run of the same seed finds every command carried out and writes nothing.
            let second = try await writer.write(cases: 300, concurrency: 3)
            #expect(second.commands == first.commands)
            #expect(second.alreadyThere == first.commands)
            #expect(try await api.db.eventCount() == events)

            // The views count by when things happened, and equal a fold of the same events.
            let all = try await waitForProjections(api, ["case_statistics", "case_work"])
            let fold = try foldStatistics(all)
            #expect(try await storedStatistics(api).municipalities == fold.municipalities)

            var reports: [(CaseEvent.ReportFiled, Date)] = []
            var identified = 0
            for event in all where Streams.caseID(of: event.streamID) != nil {
                let occurred = EventCoding.occurredAt(of: event)
                #expect(occurred >= from && occurred <= until, "\(event.type) at \(occurred)")
                #expect(occurred < event.recordedAt)
                let metadata = try EventCoding.decoder.decode(CommandMetadata.self, from: event.metadata)
                #expect(metadata.requestID.hasPrefix("demo-7-"))
                switch try CaseEvent(typeName: event.type, schemaVersion: event.schemaVersion, payload: event.payload, decoder: EventCoding.decoder) {
                case .reportFiled(let filed): reports.append((filed, occurred))
                case .identificationConcluded(let concluded) where concluded.outcome == .identifiedVictim: identified += 1
                default: break
                }
            }
            #expect(reports.count == 300)
            let months = Set(reports.map { StatisticsRules.month($0.1) })
            #expect(months.count >= 24, "reports in \(months.count) months")
            func share(_ predicate: (CaseEvent.ReportFiled) -> Bool) -> Double { Double(reports.filter { predicate($0.0) }.count) / 300 }
            #expect((0.3...0.6).contains(share { $0.subject.ageGroup.isChild }))
            #expect((0.6...0.88).contains(share { $0.subject.gender == .female }))
            #expect((0.1...0.3).contains(Double(identified) / 300))
            #expect(Set(reports.map(\.0.reportingInstitution)).count > 50)

            // More reports per month after a district's first training than before it.
            var firstTraining: [DistrictCode: Date] = [:]
            for training in trainings {
                let district = try #require(shippedGeography.municipality(training.host)?.district)
                let day = try #require(ISO8601.date(from: training.date + "T00:00:00Z"))
                firstTraining[district] = min(firstTraining[district] ?? day, day)
            }
            var before = 0.0
            var after = 0.0
            var monthsBefore = 0.0
            var monthsAfter = 0.0
            for (district, day) in firstTraining {
                let here = reports.filter { shippedGeography.municipality($0.0.municipality)?.district == district }
                before += Double(here.filter { $0.1 < day }.count)
                after += Double(here.filter { $0.1 >= day }.count)
                monthsBefore += day.timeIntervalSince(from) / (30 * 86_400)
                monthsAfter += until.timeIntervalSince(day) / (30 * 86_400)
            }
            #expect(after / monthsAfter > 1.3 * before / monthsBefore, "before \(before) in \(monthsBefore) months, after \(after) in \(monthsAfter)")

            // The coordinators' case list and the inboxes have work in them.
            for table in ["case_reports WHERE closed_at IS NULL", "case_reports WHERE closed_at IS NOT NULL", "open_work"] {
                let rows = try await api.db.admin.query("SELECT count(*) FROM \(unescaped: table)", logger: api.db.logger)
                for try await count in rows.decode(Int64.self) { #expect(count > 0, "\(table)") }
            }
        }
    }

    @Test("a clean demo history of 100,000 events verifies, chains and seal")
    func largeHistoryVerifies() async throws {
        try await TestDatabase.withFresh { db in
            let (institutions, trainings) = try await Self.loadReference(db.store)
            let history = try DemoHistory(
                geography: shippedGeography,
                institutions: institutions,
                trainings: trainings,
                from: try #require(ISO8601.date(from: "2024-01-01T00:00:00Z")),
                until: Date(),
                seed: 100_000
            )
            let writer = DemoWriter(
                service: CaseService(store: db.store, geography: shippedGeography, vault: try PersonalDataVault.temporary()),
                history: history,
                seed: 100_000
            )
            var cases = 0
            while try await db.eventCount() < 100_000 {
                _ = try await writer.writeInBulk(cases: cases..<(cases + 2000))
                cases += 2000
            }
            let total = try await db.eventCount()
            #expect(try await db.waitUntilReadable())
            let seal = try #require(try await HistorySealer(store: db.store, key: APIHarness.sealKey, logger: db.logger).seal())
            #expect(seal.treeSize == Int64(total))
            let verifier = try await db.store.verifyHistory(publicKey: APIHarness.sealKey.publicKey)
            #expect(verifier.findings == [])
            #expect(verifier.events == total + 1)
            #expect(verifier.sealsChecked == 1)
        }
    }

    @Test("a demo refuses what cannot be a history")
    func refusals() throws {
        #expect(throws: DemoHistory.Problem.noInstitutions) {
            try DemoHistory(
                geography: shippedGeography,
                institutions: [],
                trainings: [],
                from: Date(timeIntervalSince1970: 0),
                until: Date(),
                seed: 1
            )
        }
        let school = Institution(
            id: InstitutionID(),
            nameLatin: "OŠ",
            nameCyrillic: nil,
            sector: .education,
            municipality: MunicipalityCode(rawValue: "blace"),
            isActive: true,
            isCenter: false
        )
        #expect(throws: DemoHistory.Problem.emptyWindow) {
            try DemoHistory(
                geography: shippedGeography,
                institutions: [school],
                trainings: [],
                from: Date(),
                until: Date(timeIntervalSince1970: 0),
                seed: 1
            )
        }
    }
}

@Suite("spona demo, as a newcomer runs it")
struct DemoCommandTests {
    @Test("it refuses a database with real cases, and nonsense arguments, in one line")
    func refusals() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            _ = try await n.fileReport()
            let before = try await api.db.eventCount()
            let real = try await runProcess(
                sponaExecutable,
                ["demo", "--cases", "1"],
                environment: ["DATABASE_URL": api.db.ownerURL, "SPONA_OWNER_DATABASE_URL": api.db.ownerURL]
            )
            #expect(real.status != 0)
            #expect(real.errorOutput.contains("1 real cases"), "\(real.errorOutput)")
            #expect(try await api.db.eventCount() == before, "nothing written")

            let zero = try await runProcess(sponaExecutable, ["demo", "--cases", "0"], environment: ["DATABASE_URL": api.db.ownerURL])
            #expect(zero.status != 0 && zero.errorOutput.contains("--cases must be at least 1"), "\(zero.errorOutput)")
            let badDay = try await runProcess(
                sponaExecutable,
                ["demo", "--cases", "1", "--from", "yesterday"],
                environment: ["DATABASE_URL": api.db.ownerURL]
            )
            #expect(badDay.status != 0 && badDay.errorOutput.contains("--from 'yesterday' is not a date"), "\(badDay.errorOutput)")
        }
    }
}
