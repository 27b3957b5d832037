import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import SponaProjections
import Testing

/// The Center's 2025 report on the trainings, replayed through the application as staff would
/// have filed it, and read back from the views: 54 reports from trained staff (Zrenjanin 9,
/// Prokuplje 2, Belgrade 18, Novi Sad 11), 11 identified victims (8 children and 3 adults, 5
/// male and 6 female), 57 persons assisted (25 minors and 32 adults, 42 female and 15 male),
/// 3 persons at risk with prevention. More persons than reports: some reports are about a family.
@Suite("The 2025 report's figures, from the views")
struct AnnualReportTests {
    /// One report's subject and what became of it.
    struct Person {
        var municipality: String
        var trained: Bool
        var child: Bool
        var male: Bool
        var outcome: IdentificationOutcome?
        var assisted: Bool
    }

    /// 60 people: the first 54 each the first person of a report by trained staff, the last 6
    /// family members in two of those reports; 57 persons assisted; every figure above.
    static var people: [Person] {
        let places =
            Array(repeating: "zrenjanin", count: 9) + Array(repeating: "prokuplje", count: 2)
            + Array(repeating: "beograd-zemun", count: 6) + Array(repeating: "beograd-palilula", count: 6)
            + Array(repeating: "beograd-novi-beograd", count: 6) + Array(repeating: "novi-sad", count: 8)
            + Array(repeating: "novi-sad-petrovaradin", count: 3) + Array(repeating: "nis-medijana", count: 20)
        return (0..<60).map { index in
            let outcome: IdentificationOutcome? =
                switch index {
                case 0...4, 10...12, 40...42: .identifiedVictim  // 8 children (5 boys, 3 girls), 3 women
                case 13, 14, 43: .atRiskPrevention
                default: nil
                }
            return Person(
                municipality: places[index],
                trained: index < 54,
                child: index < 25,
                male: (0...6).contains(index) || (25...32).contains(index),
                outcome: outcome,
                assisted: index < 57
            )
        }
    }

    @Test("every figure of the report comes back from the views, exact for the Center and suppressed for an analyst")
    func figuresComeBack() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let cases = CaseService(store: api.db.store, geography: shippedGeography, vault: api.vault)
            let reporter = Caller(actor: Actor(id: "staff-1", institution: n.school, role: .reporter), isCenter: false)
            let center = Caller(actor: Actor(id: "coordinator-1", institution: .center, role: .coordinator), isCenter: true)
            // 54 reports by trained staff; two of Niš's are also about three more people each
            // (family members found with them), who are counted as persons, not as reports.
            let people = Self.people
            let reports = (0..<54).map { lead in (lead: lead, others: lead == 40 ? [54, 55, 56] : lead == 41 ? [57, 58, 59] : []) }
            func profile(_ person: Person) -> SubjectProfile {
                SubjectProfile(ageGroup: person.child ? .child14to17 : .adult26plus, gender: person.male ? .male : .female)
            }
            for (lead, others) in reports {
                let person = people[lead]
                let profiles = ([lead] + others).map { (index: $0, profile: profile(people[$0])) }
                let report = CaseCommand.FileReport(
                    municipality: MunicipalityCode(rawValue: person.municipality),
                    channel: .app,
                    subject: profiles[0].profile,
                    otherSubjects: profiles.dropFirst().map { CaseSubject(profile: $0.profile) },
                    exploitation: [person.male ? .labour : .sexual],
                    reporterTrained: person.trained
                )
                var state = try await cases.handle(
                    .fileReport(report),
                    on: report.caseID,
                    expectedVersion: nil,
                    caller: reporter,
                    requestID: "report-\(lead)",
                    idempotencyKey: nil
                )
                for (index, subject) in profiles {
                    if let outcome = people[index].outcome {
                        state = try await cases.handle(
                            .concludeIdentification(outcome, note: nil, subject: subject.id),
                            on: report.caseID,
                            expectedVersion: state.version,
                            caller: center,
                            requestID: "identify-\(index)",
                            idempotencyKey: nil
                        )
                    }
                    if people[index].assisted {
                        state = try await cases.handle(
                            .provideAssistance(.counselling, provider: n.socialWork, note: nil, subject: subject.id),
                            on: report.caseID,
                            expectedVersion: state.version,
                            caller: center,
                            requestID: "assist-\(index)",
                            idempotencyKey: nil
                        )
                    }
                }
            }
            try await waitForProjections(api, ["case_statistics", "case_work"])
            let month = StatisticsRules.month(Date())
            let period = "from=\(month)&to=\(month)"

            // Reports by trained staff: the nation, and each place the report names.
            let totals = try await api.send(.get, "/v1/views/periods?\(period)", token: n.coordinator)
            let rows = totals["rows"] as? [[String: Any]] ?? []
            func trained(_ kind: String, _ code: String) -> Int? {
                rows.first { $0["kind"] as? String == kind && ($0["municipality"] as? String ?? "") == code }?["reportsByTrained"] as? Int
            }
            #expect(trained("national", "") == 54)
            let nation = rows.first { $0["kind"] as? String == "national" }
            #expect(nation?["reports"] as? Int == 54, "\(totals.text)")
            #expect(trained("municipality", "zrenjanin") == 9)
            #expect(trained("municipality", "prokuplje") == 2)
            #expect(trained("city", "beograd") == 18)
            #expect(trained("city", "novi-sad") == 11)

            // Outcomes and assistance, each person once.
            func national(_ dimension: String) async throws -> [String: Int] {
                let view = try await api.send(.get, "/v1/views/breakdowns?dimension=\(dimension)&\(period)", token: n.coordinator)
                #expect(view.status == .ok, "\(view.text)")
                let row = (view["rows"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "national" } ?? [:]
                return row.compactMapValues { $0 as? Int }
            }
            let outcomes = try await national("outcome")
            #expect(outcomes["identified_victim"] == 11 && outcomes["at_risk_prevention"] == 3)
            let identifiedAges = try await national("identified_age_group")
            #expect(identifiedAges["child_14_17"] == 8 && identifiedAges["adult_26_plus"] == 3)
            let identifiedGenders = try await national("identified_gender")
            #expect(identifiedGenders["male"] == 5 && identifiedGenders["female"] == 6)
            let assistedAges = try await national("assisted_age_group")
            #expect(assistedAges["child_14_17"] == 25 && assistedAges["adult_26_plus"] == 32)
            let assistedGenders = try await national("assisted_gender")
            #expect(assistedGenders["female"] == 42 && assistedGenders["male"] == 15)
            #expect(try await national("reporter_training")["stated_only"] == 54)
            // Persons from the people of each report: 60 of 54 reports.
            #expect(try await national("gender").values.reduce(0, +) == 60)

            // The Center's national outcome view agrees, month by month summed.
            let outcomeView = try await api.send(.get, "/v1/views/outcomes?\(period)", token: n.coordinator)
            func sum(_ column: String) -> Int {
                (outcomeView["rows"] as? [[String: Any]] ?? []).compactMap { $0[column] as? Int }.reduce(0, +)
            }
            #expect(sum("identified") == 11 && sum("identifiedChildren") == 8 && sum("identifiedMale") == 5)
            #expect(sum("assisted") == 57 && sum("assistedChildren") == 25 && sum("assistedFemale") == 42)
            #expect(sum("atRiskPrevention") == 3)

            // Toplica's analyst: Prokuplje's two reports by trained staff are "<5", never 2.
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            let theirs = try await api.send(.get, "/v1/views/periods?\(period)", token: analyst)
            let prokuplje = (theirs["rows"] as? [[String: Any]] ?? []).first { $0["municipality"] as? String == "prokuplje" }
            #expect(prokuplje?["reportsByTrained"] as? String == "<5", "\(theirs.text)")
            #expect(!(theirs["rows"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "national" })
        }
    }
}
