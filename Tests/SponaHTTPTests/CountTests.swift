import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import SponaProjections
import Testing

/// Counts that follow the facts: a person is counted once, and a correction takes back what the
/// fact it corrects added.
@Suite("Counts that follow corrections")
struct CountTests {
    /// The Center's national figure for this month's `metric` in the municipality view.
    static func national(_ api: APIHarness, _ token: String, _ metric: String) async throws -> Int {
        let view = try await api.send(.get, "/v1/views/municipalities?from=\(StatisticsRules.month(Date()))", token: token)
        return (view["rows"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "national" }?[metric] as? Int ?? 0
    }

    @Test(
        "identified victims are persons: identifying a case twice counts once, a later 'not a victim' takes it back, and identifying again counts it again"
    )
    func identifiedVictimsPerPerson() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, firstETag) = try await n.fileReport()
            var etag = firstETag
            func conclude(_ outcome: String) async throws {
                let reply = try await api.send(.post, path + "/identification", token: n.coordinator, json: ["outcome": outcome], ifMatch: etag)
                #expect(reply.status == .ok, "\(reply.text)")
                etag = reply.etag ?? etag
            }
            func expectIdentified(_ count: Int, _ why: String) async throws {
                try await api.eventually("\(count) identified victims: \(why)") {
                    try await Self.national(api, n.coordinator, "identifiedVictims") == count
                }
            }
            try await conclude("identified_victim")
            try await expectIdentified(1, "identified")
            try await conclude("identified_victim")
            try await waitForProjections(api, ["case_statistics"])
            try await expectIdentified(1, "identified twice, one person")
            try await conclude("not_a_victim")
            try await expectIdentified(0, "corrected: not a victim")
            try await conclude("at_risk_prevention")
            try await waitForProjections(api, ["case_statistics"])
            try await expectIdentified(0, "at risk is not identified")
            try await conclude("identified_victim")
            try await expectIdentified(1, "identified again")
        }
    }

    @Test("a referral marked entered in error no longer counts as sent, received or as a flow between sectors")
    func referralEnteredInError() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, etag) = try await n.fileReport()
            let due = iso(Date().addingTimeInterval(86_400))
            let sent = try await api.send(
                .post,
                path + "/referrals",
                token: n.schoolStaff,
                json: [
                    "to": n.socialWork.rawValue.uuidString, "reason": "assessment", "due": due,
                ],
                ifMatch: etag
            )
            #expect(sent.status == .created, "\(sent.text)")
            try await api.eventually("the referral counted") { try await Self.national(api, n.coordinator, "referralsSent") == 1 }
            let sectors = try await api.send(.get, "/v1/views/sectors?from=\(StatisticsRules.month(Date()))", token: n.coordinator)
            #expect(
                (sectors["rows"] as? [[String: Any]] ?? []).contains {
                    $0["sector"] as? String == "social_protection" && $0["referralsReceived"] as? Int == 1
                }
            )

            let corrected = try await api.send(
                .post,
                try #require(sent.location) + "/entered-in-error",
                token: n.schoolStaff,
                json: ["reason": "sent for the wrong child"],
                ifMatch: sent.etag
            )
            #expect(corrected.status == .ok, "\(corrected.text)")
            try await api.eventually("the referral no longer counted") { try await Self.national(api, n.coordinator, "referralsSent") == 0 }
            let after = try await api.send(.get, "/v1/views/sectors?from=\(StatisticsRules.month(Date()))", token: n.coordinator)
            for row in after["rows"] as? [[String: Any]] ?? [] {
                #expect(row["referralsSent"] as? Int ?? 0 == 0 && row["referralsReceived"] as? Int ?? 0 == 0, "\(row)")
            }
            let flows = try await api.send(.get, "/v1/views/flows/sectors?from=\(StatisticsRules.month(Date()))", token: n.coordinator)
            #expect((flows["rows"] as? [[String: Any]] ?? []).allSatisfy { $0["referrals"] as? Int == 0 }, "\(flows.text)")
        }
    }
}

extension CountTests {
    @Test("a city counts its city municipalities: a training for Belgrade reaches Zemun and Palilula, and the city has a row of its own")
    func cities() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token(.center, .admin)
            let filed: [(String, Int)] = [("beograd-zemun", 3), ("beograd-palilula", 2), ("beograd", 1)]
            for (place, count) in filed {
                let school = try await api.register("OŠ \(place)", sector: .education, municipality: place, admin: admin)
                let staff = try await api.token(school, .reporter)
                for _ in 0..<count {
                    var report = Network.report
                    report["municipality"] = place
                    report["locations"] = [["role": "residence", "municipality": place]]
                    #expect(try await api.send(.post, "/v1/cases", token: staff, json: report).status == .created)
                }
            }
            let today = String(iso(Date()).prefix(10))
            let training = try await api.send(
                .post,
                "/v1/trainings",
                token: admin,
                json: [
                    "date": today, "host": "beograd", "participants": 60, "women": 40, "men": 20, "municipalities": ["beograd"],
                ]
            )
            #expect(training.status == .created, "\(training.text)")
            try await waitForProjections(api, ["case_statistics"])
            let coordinator = try await api.token(.center, .coordinator)

            let impact = try await api.send(.get, "/v1/views/trainings?district=RS-00", token: coordinator)
            let rows = Dictionary(
                (impact["rows"] as? [[String: Any]] ?? []).map { ($0["municipality"] as? String ?? "", $0) },
                uniquingKeysWith: { a, _ in a }
            )
            #expect(rows["beograd"]?["reportsAfter"] as? Int == 6, "the city adds up its parts: \(impact.text.prefix(500))")
            #expect(rows["beograd"]?["reportsByTrained"] as? Int == 6)
            #expect(rows["beograd"]?["participants"] as? Int == 60)
            #expect(rows["beograd-zemun"]?["reportsAfter"] as? Int == 3, "a city municipality the training covered has its row")
            #expect(rows["beograd-zemun"]?["trainings"] as? Int == 1)
            #expect(rows["beograd-palilula"]?["reportsAfter"] as? Int == 2)

            let view = try await api.send(.get, "/v1/views/municipalities?district=RS-00", token: coordinator)
            let city = (view["rows"] as? [[String: Any]] ?? []).first {
                $0["kind"] as? String == "city" && $0["municipality"] as? String == "beograd"
            }
            #expect(city?["reports"] as? Int == 6, "\(view.text.prefix(500))")
            let district = (view["rows"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "district" }
            #expect(district?["reports"] as? Int == 6)
        }
    }

    @Test(
        "breakdowns count persons by gender, form of exploitation, outcome and assistance, move with a corrected outcome, and hide small counts from analysts"
    )
    func breakdowns() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            let month = StatisticsRules.month(Date())
            // A girl reported for sexual exploitation, a young man for forced labour and begging.
            let (girl, girlETag) = try await n.fileReport()
            var man = Network.report
            man["subject"] = ["ageGroup": "adult_18_25", "gender": "male"]
            man["exploitation"] = ["labour", "begging", "labour"]
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: man)
            let manPath = try #require(filed.location)
            var manETag = try #require(filed.etag)

            let coordinator = n.coordinator
            func expect(_ dimension: String, _ expected: [String: Int], _ why: String) async throws {
                try await api.eventually("\(dimension) \(expected): \(why)") {
                    let view = try await api.send(.get, "/v1/views/breakdowns?dimension=\(dimension)&from=\(month)&to=\(month)", token: coordinator)
                    #expect(view.status == .ok, "\(view.text)")
                    let row = (view["rows"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "national" } ?? [:]
                    return expected.allSatisfy { row[$0.key] as? Int == $0.value }
                }
            }
            try await expect("gender", ["female": 1, "male": 1, "other": 0, "unknown": 0], "one of each")
            try await expect("age_group", ["child_14_17": 1, "adult_18_25": 1], "one of each")
            try await expect("exploitation", ["sexual": 1, "labour": 1, "begging": 1, "criminality": 0], "labour named twice counts once")

            let identified = try await api.send(
                .post,
                girl + "/identification",
                token: n.coordinator,
                json: ["outcome": "identified_victim"],
                ifMatch: girlETag
            )
            #expect(identified.status == .ok, "\(identified.text)")
            try await expect("outcome", ["identified_victim": 1, "not_a_victim": 0], "identified")
            try await expect("identified_gender", ["female": 1, "male": 0], "identified")
            try await expect("identified_exploitation", ["sexual": 1, "labour": 0], "identified")
            let corrected = try await api.send(
                .post,
                girl + "/identification",
                token: n.coordinator,
                json: ["outcome": "not_a_victim"],
                ifMatch: identified.etag
            )
            #expect(corrected.status == .ok, "\(corrected.text)")
            try await expect("outcome", ["identified_victim": 0, "not_a_victim": 1], "corrected")
            try await expect("identified_gender", ["female": 0], "corrected")

            for kind in ["shelter", "shelter", "health"] {
                let reply = try await api.send(
                    .post,
                    manPath + "/assistance",
                    token: n.coordinator,
                    json: ["kind": kind, "provider": n.socialWork.rawValue.uuidString],
                    ifMatch: manETag
                )
                #expect(reply.status == .ok, "\(reply.text)")
                manETag = reply.etag ?? manETag
            }
            try await expect("assistance", ["shelter": 1, "health": 1, "legal": 0], "shelter twice is one person sheltered")
            try await expect("assisted_gender", ["male": 1, "female": 0], "one person assisted")
            try await expect("assisted_age_group", ["adult_18_25": 1], "one person assisted")
            try await expect("reporter_sector", ["education": 2, "police": 0], "both filed by the school")

            // The analyst: counts of 1 are "<5", no national row, the district adds up the places.
            let view = try await api.send(.get, "/v1/views/breakdowns?dimension=gender&from=\(month)&to=\(month)", token: analyst)
            #expect(view.status == .ok, "\(view.text)")
            let rows = view["rows"] as? [[String: Any]] ?? []
            let prokuplje = try #require(rows.first { $0["municipality"] as? String == "prokuplje" }, "\(view.text)")
            #expect(prokuplje["female"] as? String == "<5" && prokuplje["male"] as? String == "<5" && prokuplje["other"] as? Int == 0)
            #expect(rows.first { $0["kind"] as? String == "district" }?["female"] as? String == "<5")
            #expect(!rows.contains { $0["kind"] as? String == "national" })
            #expect(view["suppressionThreshold"] as? Int == 5)

            #expect(
                try await api.send(.get, "/v1/views/breakdowns?dimension=names&from=\(month)&to=\(month)", token: analyst).status
                    == .unprocessableContent
            )
            #expect(
                try await api.send(.get, "/v1/views/breakdowns?dimension=gender&from=\(month)", token: n.coordinator).status == .unprocessableContent
            )
            #expect(
                try await api.send(.get, "/v1/views/breakdowns?dimension=gender&district=RS-20&from=\(month)&to=\(month)", token: analyst).status
                    == .forbidden
            )
            #expect(
                try await api.send(.get, "/v1/views/breakdowns?dimension=gender&from=\(month)&to=\(month)", token: n.schoolStaff).status == .forbidden
            )
        }
    }

    @Test(
        "the Center reads exact waits: three reports of Prokuplje acknowledged after 2, 4 and 10 hours wait 4.0 h at the median and 8.8 h at the 90th percentile"
    )
    func waits() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let cases = CaseService(store: api.db.store, geography: shippedGeography, vault: api.vault)
            let reporter = Caller(actor: Actor(id: "staff-1", institution: n.school, role: .reporter), isCenter: false)
            let center = Caller(actor: Actor(id: "coordinator-1", institution: .center, role: .coordinator), isCenter: true)
            let filed = Date().addingTimeInterval(-86_400 * 2)
            for (index, hours) in [2.0, 4.0, 10.0].enumerated() {
                let report = CaseCommand.FileReport(
                    municipality: MunicipalityCode(rawValue: "prokuplje"),
                    channel: .app,
                    subject: SubjectProfile(ageGroup: .child14to17, gender: .female)
                )
                let state = try await cases.handle(
                    .fileReport(report),
                    on: report.caseID,
                    expectedVersion: nil,
                    caller: reporter,
                    requestID: "file-\(index)",
                    idempotencyKey: nil,
                    occurredAt: filed
                )
                _ = try await cases.handle(
                    .acknowledge,
                    on: report.caseID,
                    expectedVersion: state.version,
                    caller: center,
                    requestID: "ack-\(index)",
                    idempotencyKey: nil,
                    occurredAt: filed.addingTimeInterval(hours * 3600)
                )
            }
            try await waitForProjections(api, ["case_statistics"])
            let month = StatisticsRules.month(filed)
            let view = try await api.send(.get, "/v1/views/waits?from=\(month)&to=\(StatisticsRules.month(Date()))", token: n.coordinator)
            #expect(view.status == .ok, "\(view.text)")
            let rows = view["rows"] as? [[String: Any]] ?? []
            for kind in ["municipality", "district", "national"] {
                let row = rows.first { $0["kind"] as? String == kind && $0["wait"] as? String == "acknowledgement" }
                #expect(row?["count"] as? Int == 3, "\(kind): \(view.text)")
                #expect(row?["medianHours"] as? String == "4.0" && row?["p90Hours"] as? String == "8.8", "\(kind): \(view.text)")
            }
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            #expect(try await api.send(.get, "/v1/views/waits?from=\(month)&to=\(month)", token: analyst).status == .forbidden)
            #expect(try await api.send(.get, "/v1/views/waits?from=\(month)", token: n.coordinator).status == .unprocessableContent)
        }
    }
}
