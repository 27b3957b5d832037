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
}
