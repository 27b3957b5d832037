import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import SponaRecords
import Testing

@testable import SponaHTTP

/// What a fuzzer or a hostile client sends: every value out of its bounds is refused with a
/// problem naming it, nothing is recorded, and the server goes on answering.
@Suite("Hostile input")
struct HostileInputTests {
    static var training: [String: Any] { ["date": "2026-03-10", "host": "zrenjanin", "participants": 40, "women": 30, "men": 10] }

    @Test("a training's counts and date are bounded: no figure a reader cannot fold gets into the history")
    func trainingBounds() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token(.center, .admin)
            var cases: [([String: Any], String)] = []
            var big = Self.training
            big["participants"] = 2_147_483_648
            cases.append((big, "participants"))
            var womenOverflow = Self.training
            womenOverflow["women"] = Int.max
            womenOverflow["men"] = Int.max
            cases.append((womenOverflow, "must be between"))
            var bySector = Self.training
            bySector["participantsBySector"] = ["health": 9_000_000_000_000_000_000 as Int, "education": 9_000_000_000_000_000_000 as Int]
            cases.append((bySector, "participantsBySector"))
            var tooMany = Self.training
            tooMany["participants"] = TrainingHeld.maxParticipants + 1
            cases.append((tooMany, "counts"))
            for date in ["2026-02-30", "2025-02-29", "2026-13-01", "2026-04-31", "1999-12-31", "2026-1-1", "２０２６-01-01"] {
                var bad = Self.training
                bad["date"] = date
                cases.append((bad, "date"))
            }
            for (body, field) in cases {
                try await api.expectRefused(.unprocessableContent, detailContains: field) {
                    try await api.send(.post, "/v1/trainings", token: admin, json: body)
                }
            }
            var leap = Self.training
            leap["date"] = "2024-02-29"
            #expect(try await api.send(.post, "/v1/trainings", token: admin, json: leap).status == .created)
            #expect(try await api.send(.get, "/v1/views/trainings", token: try await api.token(.center, .coordinator)).status == .ok)
        }
    }

    @Test("NUL and other control characters are refused in every query parameter and body field, never a 500")
    func controlCharacters() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let auditor = try await api.token(.center, .auditor)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            let queries: [(String, String)] = [
                ("/v1/audit/events?type=%00", auditor), ("/v1/audit/events?category=a%00b", auditor),
                ("/v1/audit/access?actor=%00", auditor), ("/v1/views/municipalities?district=%00", analyst),
                ("/v1/views/municipalities?municipality=x%00", analyst), ("/v1/institutions?sector=%01", n.admin),
                ("/v1/views/silent?months=1%00", analyst),
            ]
            for (path, token) in queries {
                try await api.expectRefused(.unprocessableContent, detailContains: "must not contain") {
                    try await api.send(.get, path, token: token)
                }
            }
            // A path with control characters names nothing: the 404 every such route documents.
            for (path, token) in [
                ("/v1/audit/streams/case-%00", auditor), ("/v1/cases/%C3%BF%05x", auditor), ("/v1/cases/%03%01/events", n.coordinator),
            ] {
                try await api.expectRefused(.notFound, detailContains: "must not contain") {
                    try await api.send(.get, path, token: token)
                }
            }
            var nulInList = Network.report
            nulInList["subject"] = ["ageGroup": "child_14_17", "gender": "female", "vulnerableGroups": ["roma\u{0}"]]
            try await api.expectRefused(.unprocessableContent, detailContains: "subject.vulnerableGroups[0]") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: nulInList)
            }
            try await api.expectRefused(.unprocessableContent, detailContains: "nameLatin") {
                try await api.send(.post, "/v1/institutions", token: n.admin, json: ["nameLatin": "Dom\u{0}", "sector": "health"])
            }
            try await api.expectRefused(.unprocessableContent, detailContains: "U+001B") {
                try await api.send(.post, "/v1/institutions", token: n.admin, json: ["nameLatin": "Dom \u{1B}[31m", "sector": "health"])
            }
            // Lines are fine where people write notes.
            #expect(
                try await api.send(.post, "/v1/institutions", token: n.admin, json: ["nameLatin": "Dom zdravlja\nNiš", "sector": "health"]).status
                    == .created
            )
        }
    }

    @Test("a report's vulnerable groups come from the code list, and its places are bounded")
    func reportBounds() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            var freeText = Network.report
            freeText["subject"] = ["ageGroup": "child_14_17", "gender": "female", "vulnerableGroups": ["lives with her uncle Marko in Kuršumlija"]]
            try await api.expectRefused(.unprocessableContent, detailContains: "is not a vulnerable group") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: freeText)
            }
            var manyPlaces = Network.report
            manyPlaces["locations"] = (0..<676).map { i in ["role": i % 2 == 0 ? "recruitment" : "exploitation", "country": "DE"] }
            try await api.expectRefused(.unprocessableContent, detailContains: "at most") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: manyPlaces)
            }
            var coded = Network.report
            coded["subject"] = ["ageGroup": "child_14_17", "gender": "female", "vulnerableGroups": ["roma", "child_in_care"]]
            #expect(try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: coded).status == .created)
        }
    }

    @Test("a consistency proof for a tree larger than the history is 404, whatever the size asked")
    func consistencySize() async throws {
        try await APIHarness.run { api in
            let auditor = try await api.token(.center, .auditor)
            for second in ["9223372036854775807", "1000000000"] {
                let reply = try await api.send(.get, "/v1/audit/seals/consistency?first=1&second=\(second)", token: auditor)
                #expect(reply.status == .notFound, "\(reply.text)")
            }
        }
    }

    @Test("every POST needs an Idempotency-Key; a reused key with another training is refused and nothing is echoed")
    func idempotencyKeys() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token(.center, .admin)
            try await api.expectRefused(.badRequest, detailContains: "Idempotency-Key") {
                try await api.send(.post, "/v1/trainings", token: admin, json: Self.training, idempotencyKey: "")
            }
            let n = try await Network.make(api)
            try await api.expectRefused(.badRequest, detailContains: "Idempotency-Key") {
                try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: Network.report, idempotencyKey: "")
            }
            let first = try await api.send(.post, "/v1/trainings", token: admin, json: Self.training, idempotencyKey: "training-1")
            #expect(first.status == .created)
            let retry = try await api.send(.post, "/v1/trainings", token: admin, json: Self.training, idempotencyKey: "training-1")
            #expect(retry.status == .ok)
            #expect(retry["participants"] as? Int == 40)
            var other = Self.training
            other["participants"] = 41
            try await api.expectRefused(.unprocessableContent, detailContains: "Idempotency-Key") {
                try await api.send(.post, "/v1/trainings", token: admin, json: other, idempotencyKey: "training-1")
            }
        }
    }

    @Test("concurrent reports under one key with different personal data never make the recorded one unreadable")
    func sameKeyDifferentPersonalData() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            for round in 0..<6 {
                let key = "race-\(round)"
                let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                    for person in ["Ana", "Mila", "Ana"] {
                        var report = Network.report
                        report["personalData"] = ["name": person, "narrative": "round \(round)"]
                        group.addTask { try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: report, idempotencyKey: key) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let accepted = replies.filter { $0.status == .created || $0.status == .ok }
                #expect(!accepted.isEmpty)
                #expect(replies.allSatisfy { $0.status.code < 500 }, "\(replies.map(\.text))")
                // Whichever body won, its data opens.
                let location = try #require(accepted.first?.location)
                let read = try await api.send(.get, location + "/personal-data", token: n.schoolStaff, headers: readReason("checking"))
                #expect(read.status == .ok)
                #expect(read["status"] as? String == "present", "\(read.text)")
            }
        }
    }
}

/// Nothing is cut silently: every list that grows is paged, and walking its pages gives back
/// the whole list once, in order.
@Suite("Paged lists")
struct PagingTests {
    /// Follows `next` from the first page of `path` (with `limit`), collecting `key` of each row.
    func walk(_ api: APIHarness, _ path: String, token: String, limit: Int, rows: String, key: String) async throws -> [String] {
        var seen: [String] = []
        var after: String?
        for _ in 0..<100 {
            let separator = path.contains("?") ? "&" : "?"
            let page = try await api.send(.get, path + "\(separator)limit=\(limit)" + (after.map { "&after=\($0)" } ?? ""), token: token)
            #expect(page.status == .ok, "\(page.text)")
            let items = page[rows] as? [[String: Any]] ?? []
            #expect(items.count <= limit)
            seen += items.compactMap { $0[key] as? String }
            guard let next = page["next"] as? String else { return seen }
            #expect(items.count == limit, "a page before the last is full")
            after = next
        }
        Issue.record("more than 100 pages")
        return seen
    }

    @Test("the case list, the inbox and a reporter's reports walk page by page to exactly the whole list")
    func pagesAddUp() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            for _ in 0..<7 {
                let (path, etag) = try await n.fileReport()
                let sent = try await api.send(
                    .post,
                    path + "/referrals",
                    token: n.schoolStaff,
                    json: [
                        "to": n.socialWork.rawValue.uuidString, "reason": "assessment",
                        "due": ISO8601.string(from: Date().addingTimeInterval(86_400)),
                    ],
                    ifMatch: etag
                )
                #expect(sent.status == .ok || sent.status == .created, "\(sent.text)")
            }
            try await api.eventually("the projections to show the 7 reports") {
                let reports = try await api.send(.get, "/v1/reports/mine?limit=1000", token: n.schoolStaff)["reports"] as? [Any]
                let items = try await api.send(.get, "/v1/inbox?limit=1000", token: n.socialWorker)["items"] as? [Any]
                return reports?.count == 7 && items?.count == 7
            }
            let lists: [(String, String, String, String)] = [
                ("/v1/views/cases", n.coordinator, "rows", "caseId"), ("/v1/inbox", n.socialWorker, "items", "itemId"),
                ("/v1/reports/mine", n.schoolStaff, "reports", "caseId"),
            ]
            for (path, token, rows, key) in lists {
                let whole = try await walk(api, path, token: token, limit: 1000, rows: rows, key: key)
                #expect(whole.count == 7, "\(path)")
                for limit in [1, 2, 3] {
                    #expect(try await walk(api, path, token: token, limit: limit, rows: rows, key: key) == whole, "\(path) limit \(limit)")
                }
            }
            let bad = try await api.send(.get, "/v1/inbox?after=nonsense", token: n.socialWorker)
            #expect(bad.status == .unprocessableContent)
            let tooMany = try await api.send(.get, "/v1/views/cases?limit=5000", token: n.coordinator)
            #expect(tooMany.status == .unprocessableContent)
        }
    }

    @Test("the registry walks page by page through its Link and Spona-Next-Page headers, with names that sort together, to exactly the whole list")
    func institutionsPage() async throws {
        try await APIHarness.run { api in
            let admin = try await api.token(.center, .admin)
            // Equal names: the page boundary must still fall between two of them without repeating one.
            for index in 0..<5 {
                _ = try await api.register(index < 3 ? "Dom zdravlja" : "Škola \(index)", sector: .health, municipality: "nis-medijana", admin: admin)
            }
            try await api.eventually("the registry to list the 5 institutions") {
                try await api.send(.get, "/v1/institutions?municipality=nis-medijana", token: admin).array.count == 5
            }
            let whole = try await api.send(.get, "/v1/institutions?municipality=nis-medijana", token: admin)
            #expect(
                whole.headers[HTTPField.Name("Spona-Next-Page")!] == nil && whole.headers[HTTPField.Name("Link")!] == nil,
                "one page is the whole list"
            )
            for limit in [1, 2, 4] {
                var seen: [String] = []
                var path: String? = "/v1/institutions?municipality=nis-medijana&limit=\(limit)"
                while let next = path, seen.count <= 5 {
                    let page = try await api.send(.get, next, token: admin)
                    #expect(page.status == .ok, "\(page.text)")
                    #expect(page.array.count <= limit, "a page holds at most its limit")
                    seen += page.array.compactMap { $0["id"] as? String }
                    path = page.headers[HTTPField.Name("Link")!].flatMap { link in link.split(separator: ">").first.map { String($0.dropFirst()) } }
                    #expect((path == nil) == (page.headers[HTTPField.Name("Spona-Next-Page")!] == nil))
                }
                #expect(seen == whole.array.compactMap { $0["id"] as? String }, "limit \(limit)")
            }
            try await api.expectRefused(.unprocessableContent, detailContains: "after") {
                try await api.send(.get, "/v1/institutions?after=\(UUID().uuidString)", token: admin)
            }
        }
    }
}

@Suite("CSV cells that open safely in a spreadsheet")
struct CSVCellTests {
    @Test("a cell beginning like a formula is never read as one, and separators are quoted")
    func formulasNeutralised() {
        #expect(ViewTable.csvField("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"")
        #expect(ViewTable.csvField("+381") == "'+381")
        #expect(ViewTable.csvField("-1") == "'-1")
        #expect(ViewTable.csvField("@SUM(A1)") == "'@SUM(A1)")
        #expect(ViewTable.csvField("Novi Sad; Zrenjanin") == "\"Novi Sad; Zrenjanin\"")
        #expect(ViewTable.csvField("<5") == "<5")
        #expect(ViewTable.csvField("2026-11") == "2026-11")
        #expect(ViewTable.csvField("Ниш") == "Ниш")
    }
}
