import Foundation
import HTTPTypes
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaRecords
import Testing

/// A report often concerns more than one person: siblings, a group of workers found together.
@Suite("Reports about several people")
struct SeveralPeopleTests {
    @Test(
        "a report about three people: each person's data under their own key, read together and erased alone; persons counted from the people, reports from cases"
    )
    func threePeople() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            var report = reportWithPersonalData()
            report["otherSubjects"] = [
                ["ageGroup": "child_0_13", "gender": "male", "personalData": ["name": "Brat Zdravković"]],
                [
                    "ageGroup": "adult_26_plus", "gender": "female", "citizenship": "RS", "vulnerableGroups": ["roma", "refugee", "roma"],
                    "personalData": ["name": "Majka Zdravković"],
                ],
            ]
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: report)
            #expect(filed.status == .created, "\(filed.text)")
            let path = try #require(filed.location)
            var etag = try #require(filed.etag)
            let people = try #require((filed["subjects"] as? [[String: Any]])?.compactMap { $0["id"] as? String })
            #expect(people.count == 3)
            // A list of codes is a set: each once.
            let others = try #require((filed["report"] as? [String: Any])?["otherSubjects"] as? [[String: Any]])
            #expect(others.last?["vulnerableGroups"] as? [String] == ["roma", "refugee"])
            for secret in ["Brat Zdravković", "Majka Zdravković"] { #expect(!filed.text.contains(secret)) }
            let (brother, mother) = (people[1], people[2])

            func step(_ suffix: String, _ token: String, _ json: [String: Any]) async throws -> Reply {
                let reply = try await api.send(.post, path + suffix, token: token, json: json, ifMatch: etag)
                if let next = reply.etag { etag = next }
                return reply
            }
            #expect(try await step("/acknowledge", n.coordinator, [:]).status == .ok)
            // Everyone identified; then the mother found not to be a victim; schooling for the boy alone.
            #expect(try await step("/identification", n.coordinator, ["outcome": "identified_victim"]).status == .ok)
            #expect(try await step("/identification", n.coordinator, ["outcome": "not_a_victim", "subject": mother]).status == .ok)
            #expect(try await step("/assistance", n.coordinator, ["kind": "education", "subject": brother]).status == .ok)
            // Someone who is not one of the case's people is refused.
            let stranger = UUID().uuidString
            let refused = try await step("/identification", n.coordinator, ["outcome": "identified_victim", "subject": stranger])
            #expect(refused.status == .unprocessableContent, "\(refused.text)")

            let read = try await api.send(.get, path + "/personal-data", token: n.coordinator, headers: readReason("case%20conference"))
            #expect(read.status == .ok, "\(read.text)")
            let readings = try #require(read["subjects"] as? [[String: Any]])
            #expect(
                readings.map { ($0["personalData"] as? [String: Any])?["name"] as? String } == [
                    personalData["name"] as? String, "Brat Zdravković", "Majka Zdravković",
                ]
            )
            let one = try await api.send(.get, path + "/personal-data?subject=\(brother)", token: n.coordinator, headers: readReason("school"))
            #expect((one["personalData"] as? [String: Any])?["name"] as? String == "Brat Zdravković", "\(one.text)")
            #expect((one["subjects"] as? [Any])?.count == 1)

            // The brother's data erased alone: his key is gone, the others' and the case's texts stay.
            let erased = try await api.send(
                .post,
                path + "/erase-personal-data",
                token: n.admin,
                json: ["legalBasis": "ZZPL čl. 30", "reference": "Poverenik 1/26", "subject": brother]
            )
            #expect(erased.status == .ok, "\(erased.text)")
            #expect((erased["subjects"] as? [[String: Any]])?.map { $0["subject"] as? String } == [brother])
            let after = try await api.send(.get, path + "/personal-data", token: n.coordinator, headers: readReason("after%20erasure"))
            #expect((after["subjects"] as? [[String: Any]])?.map { $0["status"] as? String } == ["present", "erased", "present"], "\(after.text)")
            #expect(!after.text.contains("Brat"))
            let state = try await api.send(.get, path, token: n.coordinator)
            #expect(state["texts"] as? String == "readable")
            #expect(state["personalData"] as? String == "present")
            #expect(
                (state["subjects"] as? [[String: Any]])?.map { $0["identification"] as? String } == [
                    "identified_victim", "identified_victim", "not_a_victim",
                ]
            )
            #expect(
                try await api.send(
                    .post,
                    path + "/erase-personal-data",
                    token: n.admin,
                    json: ["legalBasis": "ZZPL čl. 30", "reference": "Poverenik 1/26", "subject": brother]
                ).status == .conflict
            )

            // The views count persons: two identified, one not a victim, one assisted, of one report.
            try await waitForProjections(api, ["case_work", "case_statistics"])
            let month = String(iso(Date()).prefix(7))
            let outcomes = try await api.send(.get, "/v1/views/outcomes?from=\(month)&to=\(month)", token: n.coordinator)
            let row = try #require((outcomes["rows"] as? [[String: Any]])?.first, "\(outcomes.text)")
            let expected: [String: Int] = [
                "reports": 1, "identified": 2, "identifiedChildren": 2, "identifiedFemale": 1, "identifiedMale": 1, "notAVictim": 1,
                "assisted": 1, "assistedChildren": 1, "assistedMale": 1,
            ]
            for (metric, value) in expected { #expect(row[metric] as? Int == value, "\(metric): \(outcomes.text)") }
            let municipalities = try await api.send(.get, "/v1/views/municipalities", token: n.coordinator)
            let prokuplje = try #require((municipalities["rows"] as? [[String: Any]])?.first { $0["municipality"] as? String == "prokuplje" })
            #expect(prokuplje["reports"] as? Int == 1, "\(municipalities.text)")
            #expect(prokuplje["children"] as? Int == 2, "\(municipalities.text)")
            #expect(prokuplje["identifiedVictims"] as? Int == 2, "\(municipalities.text)")
        }
    }

    @Test("a report about more people than one report may hold is refused in one problem, and leaves no key behind")
    func tooManyPeople() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            var report = Network.report
            report["otherSubjects"] = (0..<CaseLimits.maxSubjects).map { _ in ["ageGroup": "adult_26_plus", "gender": "male"] }
            let refused = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: report)
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            #expect(refused.headers[.contentType] == "application/problem+json")
            #expect(refused.text.contains("people in one report"))
        }
    }

    @Test("a report stored in the first version, with a code named twice, reads back as one person with each code once")
    func storedBeforeCodesWereASet() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let id = UUID()
            let subject = UUID()
            let payload = """
                {"risk": {"level": "low", "ruleVersion": "2025.1", "possibleVictim": false, "elementsPresent": [], "catalogueVersion": "2025.1"},
                 "caseID": "\(id.uuidString.lowercased())", "channel": "app",
                 "subject": {"id": "\(subject.uuidString.lowercased())", "gender": "male", "ageGroup": "child_0_13", "isMigrant": false,
                             "vulnerableGroups": ["roma", "refugee", "roma"]},
                 "urgency": "routine", "locations": [], "indicators": [], "exploitation": ["begging"], "municipality": "prokuplje",
                 "reportingInstitution": "\(n.school.rawValue.uuidString.lowercased())", "reporterTrained": false}
                """
            _ = try await api.db.store.append(
                to: Streams.case(CaseID(rawValue: id)),
                expected: .noStream,
                events: [EventData(type: "ReportFiled", schemaVersion: 1, payload: Data(payload.utf8))]
            )
            let read = try await api.send(.get, "/v1/cases/\(id.uuidString.lowercased())", token: n.coordinator)
            #expect(read.status == .ok, "\(read.text)")
            let report = try #require(read["report"] as? [String: Any])
            #expect((report["subject"] as? [String: Any])?["vulnerableGroups"] as? [String] == ["roma", "refugee"])
            #expect((read["subjects"] as? [[String: Any]])?.map { $0["id"] as? String } == [subject.uuidString.lowercased()])
            #expect(report["otherSubjects"] == nil)
        }
    }
}
