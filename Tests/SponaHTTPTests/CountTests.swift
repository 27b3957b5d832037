import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import Testing

/// Counts that follow the facts: a person is counted once, and a correction takes back what the
/// fact it corrects added.
@Suite("Counts that follow corrections")
struct CountTests {
    /// The Center's national figure for this month's `metric` in the municipality view.
    static func national(_ api: APIHarness, _ token: String, _ metric: String) async throws -> Int {
        let view = try await api.send(.get, "/v1/views/municipalities?from=\(StatisticsMonth.now)", token: token)
        return (view["rows"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "national" }?[metric] as? Int ?? 0
    }

    @Test("identified victims are persons: identifying a case twice counts once, a later 'not a victim' takes it back, and identifying again counts it again")
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
            let sent = try await api.send(.post, path + "/referrals", token: n.schoolStaff, json: [
                "to": n.socialWork.rawValue.uuidString, "reason": "assessment", "due": due,
            ], ifMatch: etag)
            #expect(sent.status == .created, "\(sent.text)")
            try await api.eventually("the referral counted") { try await Self.national(api, n.coordinator, "referralsSent") == 1 }
            let sectors = try await api.send(.get, "/v1/views/sectors?from=\(StatisticsMonth.now)", token: n.coordinator)
            #expect((sectors["rows"] as? [[String: Any]] ?? []).contains { $0["sector"] as? String == "social_protection" && $0["referralsReceived"] as? Int == 1 })

            let corrected = try await api.send(.post, try #require(sent.location) + "/entered-in-error", token: n.schoolStaff,
                                               json: ["reason": "sent for the wrong child"], ifMatch: sent.etag)
            #expect(corrected.status == .ok, "\(corrected.text)")
            try await api.eventually("the referral no longer counted") { try await Self.national(api, n.coordinator, "referralsSent") == 0 }
            let after = try await api.send(.get, "/v1/views/sectors?from=\(StatisticsMonth.now)", token: n.coordinator)
            for row in after["rows"] as? [[String: Any]] ?? [] {
                #expect(row["referralsSent"] as? Int ?? 0 == 0 && row["referralsReceived"] as? Int ?? 0 == 0, "\(row)")
            }
            let flows = try await api.send(.get, "/v1/views/flows/sectors?from=\(StatisticsMonth.now)", token: n.coordinator)
            #expect((flows["rows"] as? [[String: Any]] ?? []).allSatisfy { $0["referrals"] as? Int == 0 }, "\(flows.text)")
        }
    }
}

enum StatisticsMonth {
    static var now: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: Date())
        return String(format: "%04d-%02d", parts.year!, parts.month!)
    }
}
