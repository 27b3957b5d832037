import Foundation
import HTTPTypes
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaRecords
import Testing

@Suite("Regional views")
struct ViewTests {
    /// What an analyst can conclude about a count from its perturbed value (``Disclosure/value``).
    static func possible(_ shown: Int, spread: Int = 2) -> ClosedRange<Int> {
        shown == 0 ? 0...0 : max(1, shown - spread)...(shown + spread)
    }

    @Test("cell-key perturbation over linked cells (places, their district, subsets of reports) never pins a small count", arguments: [3, 5])
    func perturbationIsSafe(threshold: Int) {
        let disclosure = Disclosure(threshold: threshold)
        var random = SplitMix64(seed: UInt64(threshold))
        var small = 0
        for _ in 0..<3_000 {
            // A district of up to three places; each: reports, and children among them, with
            // record keys summed into cell keys.
            let places = (0..<Int.random(in: 1...3, using: &random)).map { _ -> (reports: Int, children: Int, keys: (Int64, Int64)) in
                let reports = Int.random(in: 0...8, using: &random)
                return (
                    reports, Int.random(in: 0...reports, using: &random),
                    (Int64.random(in: 0..<(1 << 32), using: &random), Int64.random(in: 0..<(1 << 32), using: &random))
                )
            }
            // The worst case: the analyst learns every perturbed value exactly (district totals
            // are their sums, so hidden ones can be had by subtraction).
            for place in places {
                let (reports, parts) = disclosure.values(whole: (place.reports, place.keys.0), parts: [(place.children, place.keys.1)])
                let children = parts[0]
                #expect(children <= reports)
                // Every (reports, children) the analyst cannot rule out: each within its own
                // range, children never above reports; a child count shown equal to the reports
                // may have been cut down to them.
                let childRange = children == reports && reports > 0 ? max(1, children - 2)...(reports + 2) : Self.possible(children)
                let pairs = Self.possible(reports).flatMap { r in childRange.filter { $0 <= r }.map { (r, $0) } }
                #expect(pairs.contains { $0 == (place.reports, place.children) }, "the truth is among the possibilities")
                if (1..<threshold).contains(place.reports) {
                    small += 1
                    #expect(Set(pairs.map(\.0)).count > 1, "\(place) shown as \(reports): its reports are pinned")
                }
                if (1..<threshold).contains(place.children) {
                    #expect(Set(pairs.map(\.1)).count > 1, "\(place) shown as \(reports)/\(children): its children are pinned")
                }
                // The same records give the same answer, however often they are asked for.
                #expect(disclosure.value(place.reports, key: place.keys.0) == reports)
            }
        }
        #expect(small > 500)
    }

    @Test("for random histories the views equal a fold of the same events", arguments: [11, 23, 47] as [UInt64])
    func viewsEqualFold(seed: UInt64) async throws {
        try await APIHarness.run { api in
            try await randomHistory(api, seed: seed, cases: 14)
            let all = try await waitForProjections(api, ["case_statistics"])
            let fold = try foldStatistics(all)
            let stored = try await storedStatistics(api)
            // A count taken back to zero (a corrected identification) is no row of the view.
            #expect(stored.municipalities == fold.municipalities.mapValues { $0.filter { $0.value != 0 } }.filter { !$0.value.isEmpty })
            #expect(stored.sectors == fold.sectors)
            #expect(stored.sectorFlows == fold.sectorFlows.filter { $0.value != 0 })
            #expect(stored.sectorFlowsDeclined == fold.sectorFlowsDeclined.filter { $0.value != 0 })
            #expect(stored.placeFlows == fold.placeFlows)
            #expect(!fold.placeFlows.isEmpty)
            let counted = fold.breakdowns.filter { $0.value != 0 }
            #expect(stored.breakdowns == counted)
            #expect(stored.breakdownKeys == fold.breakdownKeys.filter { counted[$0.key] != nil })
            #expect(counted.keys.contains { $0.dimension == .assistance } && counted.keys.contains { $0.dimension == .outcome })
            // Every person counts once by gender and once by age group; every report once.
            let persons = try all.filter { $0.type == "ReportFiled" }.reduce(0) { sum, recorded in
                let event = try CaseEvent(
                    typeName: recorded.type,
                    schemaVersion: recorded.schemaVersion,
                    payload: recorded.payload,
                    decoder: EventCoding.decoder
                )
                guard case .reportFiled(let report) = event else { return sum }
                return sum + report.subjects.count
            }
            #expect(persons > 14, "no report about several people")
            for dimension in [Breakdown.Dimension.gender, .ageGroup] {
                #expect(counted.filter { $0.key.dimension == dimension }.values.reduce(0, +) == persons)
            }
            #expect(fold.municipalities.values.compactMap { $0[.reports] }.reduce(0, +) == 14)
        }
    }

    @Test("a view as of a past moment equals the view as it stood then, suppression included")
    func asOf() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            for _ in 0..<2 { _ = try await n.fileReport() }
            try await waitForProjections(api, ["case_statistics", "case_work"])
            let paths = [
                "/v1/views/municipalities", "/v1/views/flows/places", "/v1/views/sectors", "/v1/views/flows/sectors",
                "/v1/views/trainings", "/v1/views/cases", "/v1/views/silent?months=1",
            ]
            var then: [String: String] = [:]
            for path in paths { then[path] = try await api.send(.get, path, token: n.coordinator).text }
            let analystThen = try await api.send(.get, "/v1/views/municipalities", token: analyst).text
            // The moment in whole seconds: past the second the reports were filed in, and a
            // second before anything more is written.
            try await Task.sleep(for: .milliseconds(1100))
            let moment = iso(Date())
            try await Task.sleep(for: .milliseconds(1100))

            for _ in 0..<7 { _ = try await n.fileReport() }
            try await waitForProjections(api, ["case_statistics", "case_work"])
            #expect(try await api.send(.get, "/v1/views/municipalities", token: n.coordinator).text != then["/v1/views/municipalities"])

            for path in paths {
                let separator = path.contains("?") ? "&" : "?"
                let past = try await api.send(.get, path + separator + "asOf=\(moment)", token: n.coordinator)
                #expect(past.status == .ok, "\(path): \(past.text)")
                if path == "/v1/views/cases" {
                    // Its open days and overdue counts run on to the moment asked about.
                    #expect((past["rows"] as? [[String: Any]])?.count == 2, "\(past.text)")
                } else {
                    #expect(past.text == then[path], "\(path)")
                }
            }
            // Analysts see the history only as it stood at a month's end: any moment of this
            // month is the end of the last one, so no two moments time a report inside it.
            let analystPast = try await api.send(.get, "/v1/views/municipalities?asOf=\(moment)", token: analyst)
            #expect(analystPast.status == .ok)
            #expect((analystPast["rows"] as? [[String: Any]])?.isEmpty == true, "\(analystPast.text)")
            #expect(try await api.send(.get, "/v1/views/municipalities?asOf=\(iso(Date()))", token: analyst).text == analystPast.text)
            #expect(analystThen.contains("<5"))

            #expect(try await api.send(.get, "/v1/views/municipalities?asOf=yesterday", token: analyst).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/views/municipalities?asOf=2026-01-01", token: n.schoolStaff).status == .forbidden)
            // Before anything happened, the views are empty.
            let before = try await api.send(.get, "/v1/views/municipalities?asOf=2020-01-01", token: n.coordinator)
            #expect((before["rows"] as? [[String: Any]])?.isEmpty == true)
        }
    }

    @Test("outcomes: identified victims and persons assisted by age group and gender, each case once by its latest identification")
    func outcomes() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            /// Files a report about one subject and carries it as far as `outcome` and assistance.
            func journey(_ ageGroup: String, _ gender: String, outcome: String?, assisted: Bool) async throws -> (String, String) {
                var report = Network.report
                report["subject"] = ["ageGroup": ageGroup, "gender": gender]
                let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: report)
                let path = try #require(filed.location)
                var etag = try #require(filed.etag)
                func step(_ suffix: String, _ json: [String: Any]) async throws {
                    let reply = try await api.send(.post, path + suffix, token: n.coordinator, json: json, ifMatch: etag)
                    #expect(reply.status.code < 300, "\(suffix): \(reply.text)")
                    etag = reply.etag ?? etag
                }
                try await step("/acknowledge", [:])
                if let outcome { try await step("/identification", ["outcome": outcome]) }
                if assisted { try await step("/assistance", ["kind": "counselling"]) }
                return (path, etag)
            }
            _ = try await journey("child_14_17", "female", outcome: "identified_victim", assisted: true)
            _ = try await journey("child_0_13", "male", outcome: "identified_victim", assisted: true)
            _ = try await journey("adult_26_plus", "female", outcome: "identified_victim", assisted: false)
            _ = try await journey("adult_18_25", "female", outcome: "at_risk_prevention", assisted: true)
            _ = try await journey("adult_18_25", "male", outcome: nil, assisted: false)
            // Identified, then corrected: counted once, as what it is now.
            let (corrected, etag) = try await journey("adult_26_plus", "male", outcome: "identified_victim", assisted: false)
            let correction = try await api.send(
                .post,
                corrected + "/identification",
                token: n.coordinator,
                json: ["outcome": "not_a_victim"],
                ifMatch: etag
            )
            #expect(correction.status.code < 300, "\(correction.text)")
            try await waitForProjections(api, ["case_work"])

            let month = String(iso(Date()).prefix(7))
            let view = try await api.send(.get, "/v1/views/outcomes?from=\(month)&to=\(month)", token: n.coordinator)
            #expect(view.status == .ok, "\(view.text)")
            let row = try #require((view["rows"] as? [[String: Any]])?.first, "\(view.text)")
            let expected: [String: Int] = [
                "reports": 6, "identified": 3, "identifiedChildren": 2, "identifiedAdults": 1, "identifiedFemale": 2, "identifiedMale": 1,
                "atRiskPrevention": 1, "notAVictim": 1, "assisted": 3, "assistedChildren": 2, "assistedAdults": 1, "assistedFemale": 2,
                "assistedMale": 1,
            ]
            for (metric, value) in expected { #expect(row[metric] as? Int == value, "\(metric): \(view.text)") }
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            #expect(try await api.send(.get, "/v1/views/outcomes", token: analyst).status == .forbidden)
        }
    }

    @Test(
        "reports by reporting institution: the Center sees each institution's reports month by month, in either script and as CSV; analysts are refused"
    )
    func reportsByInstitution() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            for (token, count) in [(n.schoolStaff, 3), (n.officer, 1)] {
                for _ in 0..<count {
                    #expect(try await api.send(.post, "/v1/cases", token: token, json: Network.report).status == .created)
                }
            }
            try await waitForProjections(api, ["case_work", "institutions"])
            let month = String(iso(Date()).prefix(7))
            let view = try await api.send(.get, "/v1/views/institutions?from=\(month)&to=\(month)", token: n.coordinator)
            #expect(view.status == .ok, "\(view.text)")
            let rows = view["rows"] as? [[String: Any]] ?? []
            let byInstitution = Dictionary(rows.map { ($0["institution"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
            #expect(byInstitution[n.school.rawValue.uuidString.lowercased()]?["reports"] as? Int == 3, "\(view.text)")
            #expect(byInstitution[n.police.rawValue.uuidString.lowercased()]?["reports"] as? Int == 1)
            #expect(byInstitution[n.school.rawValue.uuidString.lowercased()]?["sector"] as? String == "education")
            #expect(rows.first?["institution"] as? String == n.school.rawValue.uuidString.lowercased(), "the most reports first")
            #expect(rows.count == 2)

            // As of a moment: the same figures from a replay of the history up to then.
            let now = iso(Date().addingTimeInterval(1)).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let replayed = try await api.send(.get, "/v1/views/institutions?from=\(month)&to=\(month)&asOf=\(now)", token: n.coordinator)
            #expect(replayed.status == .ok, "\(replayed.text)")
            let replayedRows = replayed["rows"] as? [[String: Any]] ?? []
            #expect(replayedRows.map { $0["reports"] as? Int } == rows.map { $0["reports"] as? Int }, "\(replayed.text)")
            let earlier = try await api.send(.get, "/v1/views/institutions?from=2020-01&to=2020-12", token: n.coordinator)
            #expect((earlier["rows"] as? [[String: Any]])?.isEmpty == true)
            let csv = try await api.send(.get, "/v1/views/institutions", token: n.coordinator, headers: [.accept: "text/csv"])
            #expect(csv.status == .ok && csv.text.contains("Policijska uprava Prokuplje"), "\(csv.text.prefix(300))")

            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            #expect(try await api.send(.get, "/v1/views/institutions", token: analyst).status == .forbidden)
            #expect(try await api.send(.get, "/v1/views/institutions", token: n.schoolStaff).status == .forbidden)
        }
    }

    @Test("silent municipalities and the impact of trainings")
    func silentAndTrainings() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let blaceSchool = try await api.register("OŠ Blace", sector: .education, municipality: "blace", admin: n.admin)
            let blace = try await api.token(blaceSchool, .reporter)
            for (token, municipality, count) in [(blace, "blace", 2), (n.schoolStaff, "prokuplje", 6)] {
                for _ in 0..<count {
                    var report = Network.report
                    report["municipality"] = municipality
                    #expect(try await api.send(.post, "/v1/cases", token: token, json: report).status == .created)
                }
            }
            let today = String(iso(Date()).prefix(10))
            let training = try await api.send(
                .post,
                "/v1/trainings",
                token: n.admin,
                json: [
                    "date": today, "host": "prokuplje", "participants": 50, "women": 28, "men": 22,
                    "participantsBySector": ["social_protection": 17, "education": 12], "municipalities": ["prokuplje", "blace"],
                ]
            )
            #expect(training.status == .created, "\(training.text)")
            try await waitForProjections(api, ["case_statistics"])

            let impact = try await api.send(.get, "/v1/views/trainings?district=RS-21", token: n.coordinator)
            #expect(impact.status == .ok, "\(impact.text)")
            let rows = Dictionary(
                (impact["rows"] as? [[String: Any]] ?? []).map { ($0["municipality"] as? String ?? "", $0) },
                uniquingKeysWith: { a, _ in a }
            )
            #expect(rows["prokuplje"]?["trainings"] as? Int == 1)
            #expect(rows["prokuplje"]?["participants"] as? Int == 50)
            #expect(rows["prokuplje"]?["reportsAfter"] as? Int == 6)
            #expect(rows["prokuplje"]?["reportsBefore"] as? Int == 0)
            #expect(rows["prokuplje"]?["reportsByTrained"] as? Int == 6)
            #expect(rows["blace"]?["trainings"] as? Int == 1)
            #expect(rows["blace"]?["reportsAfter"] as? Int == 2)
            #expect(rows["kursumlija"] == nil)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            let hidden = try await api.send(.get, "/v1/views/trainings", token: analyst)
            let blaceRow = (hidden["rows"] as? [[String: Any]] ?? []).first { $0["municipality"] as? String == "blace" }
            #expect(blaceRow?["reportsAfter"] as? String == "<5")

            // The list of trainings: the analyst of Toplica sees this one (held there), with its
            // date, host and places, Niš's analyst does not.
            let list = try await api.send(.get, "/v1/views/trainings/list?names=cyrillic", token: analyst)
            #expect(list.status == .ok, "\(list.text)")
            let held = (list["rows"] as? [[String: Any]] ?? []).first
            #expect(held?["heldOn"] as? String == today && held?["host"] as? String == "prokuplje")
            #expect(held?["hostName"] as? String == "Прокупље" && held?["places"] as? String == "Прокупље; Блаце")
            #expect(held?["participants"] as? Int == 50)
            let nis = try await api.token(.center, .analyst, districts: ["RS-20"])
            #expect((try await api.send(.get, "/v1/views/trainings/list", token: nis)["rows"] as? [[String: Any]] ?? []).isEmpty)
            #expect(try await api.send(.get, "/v1/views/trainings/list", token: n.schoolStaff).status == .forbidden)

            let silent = try await api.send(.get, "/v1/views/silent?months=1&district=RS-21", token: n.coordinator)
            let quiet = (silent["rows"] as? [[String: Any]] ?? [])
            #expect(Set(quiet.compactMap { $0["municipality"] as? String }) == ["kursumlija", "zitoradja"])
            #expect(quiet.allSatisfy { $0["lastReport"] as? String == "never" })
            let analystSilent = try await api.send(.get, "/v1/views/silent?months=1", token: analyst)
            #expect((analystSilent["rows"] as? [[String: Any]] ?? []).allSatisfy { $0["lastReport"] == nil })
            #expect(try await api.send(.get, "/v1/views/silent?months=0", token: analyst).status == .unprocessableContent)
        }
    }

    @Test(
        "period totals: each month of Blace is <5, its half-year is shown, perturbed on the summed keys; the same records give the same figure either way"
    )
    func periodTotals() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            // Six months of 2025 in which Blace had 2 reports each (and Prokuplje 7), as the
            // statistics projection would have written them, with keys summed as it sums them.
            var keys: [Int64] = []
            for month in 1...6 {
                let key = Int64(month) * 1_234_567_891 % 4_294_967_296
                keys.append(key)
                try await api.db.owner.query(
                    """
                    INSERT INTO view_municipality_month (municipality, month, reports, children, high_risk, referrals_sent,
                        identified_victims, reports_by_trained, reports_key, children_key, high_risk_key, referrals_sent_key,
                        identified_victims_key, reports_by_trained_key)
                    VALUES ('blace', \(String(format: "2025-%02d", month)), 2, 1, 0, 0, 0, 0, \(key), \(key), 0, 0, 0, 0),
                           ('prokuplje', \(String(format: "2025-%02d", month)), 7, 0, 0, 0, 0, 0, \(key + 1), 0, 0, 0, 0, 0)
                    """,
                    logger: api.db.logger
                )
            }
            let monthly = try await api.send(.get, "/v1/views/municipalities?district=RS-21&from=2025-01&to=2025-06", token: analyst)
            let blaceMonths = (monthly["rows"] as? [[String: Any]] ?? []).filter { $0["municipality"] as? String == "blace" }
            #expect(blaceMonths.count == 6 && blaceMonths.allSatisfy { $0["reports"] as? String == "<5" }, "\(monthly.text)")

            let period = try await api.send(.get, "/v1/views/periods?district=RS-21&from=2025-01&to=2025-06", token: analyst)
            #expect(period.status == .ok, "\(period.text)")
            let rows = period["rows"] as? [[String: Any]] ?? []
            let blace = try #require(rows.first { $0["municipality"] as? String == "blace" })
            #expect(blace["period"] as? String == "2025-01/2025-06")
            let summedKey = keys.reduce(0) { ($0 + $1) % 4_294_967_296 }
            let disclosure = Disclosure(threshold: 5)
            #expect(blace["reports"] as? Int == disclosure.value(12, key: summedKey), "\(blace)")
            #expect((10...14).contains(blace["reports"] as? Int ?? 0))
            // Children (6) are a part of reports: never shown above them.
            #expect((blace["children"] as? Int ?? 0) <= (blace["reports"] as? Int ?? 0))
            // The district's total is the sum of what is shown of its places, as in the monthly view.
            let prokuplje = try #require(rows.first { $0["municipality"] as? String == "prokuplje" }?["reports"] as? Int)
            let district = try #require(rows.first { $0["kind"] as? String == "district" }?["reports"] as? Int)
            #expect(district == prokuplje + (blace["reports"] as? Int ?? 0))
            #expect(!rows.contains { $0["kind"] as? String == "national" })

            // One month as a period: the same records, the same key, the same figure as the monthly cell.
            let one = try await api.send(.get, "/v1/views/periods?district=RS-21&from=2025-03&to=2025-03", token: analyst)
            var monthCell: Int?
            for row in monthly["rows"] as? [[String: Any]] ?? [] {
                if row["municipality"] as? String == "prokuplje", row["month"] as? String == "2025-03" { monthCell = row["reports"] as? Int }
            }
            var periodCell: Int?
            for row in one["rows"] as? [[String: Any]] ?? [] where row["municipality"] as? String == "prokuplje" {
                periodCell = row["reports"] as? Int
            }
            #expect(periodCell != nil && periodCell == monthCell, "\(one.text)")

            // The Center sees the exact totals; a period needs both ends; other districts refused.
            let center = try await api.send(.get, "/v1/views/periods?from=2025-01&to=2025-06", token: n.coordinator)
            let centerRows = center["rows"] as? [[String: Any]] ?? []
            #expect(centerRows.first { $0["municipality"] as? String == "blace" }?["reports"] as? Int == 12)
            #expect(centerRows.first { $0["kind"] as? String == "national" }?["reports"] as? Int == 54)
            #expect(try await api.send(.get, "/v1/views/periods?from=2025-01", token: analyst).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/views/periods?from=2025-06&to=2025-01", token: analyst).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/views/periods?district=RS-20&from=2025-01&to=2025-06", token: analyst).status == .forbidden)
        }
    }

    @Test(
        "reports by institution over a period: an analyst sees the institutions of their district, each count perturbed on its cell key, small ones as <5; the Center the exact counts"
    )
    func institutionPeriods() async throws {
        try await APIHarness.run { api in
            let n = try await Network.withSmallCounts(api)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            let month = StatisticsRules.month(Date())
            // The cell key of the Prokuplje school's 7 reports, as the statistics would sum it.
            var key: Int64 = 0
            for event in try await api.db.store.readAll(after: .start, limit: 10_000) where event.type == "ReportFiled" {
                let decoded = try CaseEvent(
                    typeName: event.type,
                    schemaVersion: event.schemaVersion,
                    payload: event.payload,
                    decoder: EventCoding.decoder
                )
                if case .reportFiled(let report) = decoded, report.reportingInstitution == n.school {
                    key = (key + StatisticsRules.recordKey(report.caseID.rawValue)) % StatisticsRules.keyModulus
                }
            }
            let path = "/v1/views/institutions/periods?from=\(month)&to=\(month)"
            try await api.eventually("the school's 7 reports in the Center's view") {
                let view = try await api.send(.get, path, token: n.coordinator)
                return (view["rows"] as? [[String: Any]] ?? []).contains {
                    $0["institution"] as? String == n.school.rawValue.uuidString.lowercased() && $0["reports"] as? Int == 7
                }
            }
            let center = try await api.send(.get, path, token: n.coordinator)
            #expect((center["rows"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == "OŠ Blace" && $0["reports"] as? Int == 2 })

            let view = try await api.send(.get, path, token: analyst)
            #expect(view.status == .ok, "\(view.text)")
            #expect(view["suppressionThreshold"] as? Int == 5)
            let rows = view["rows"] as? [[String: Any]] ?? []
            let school = try #require(rows.first { $0["institution"] as? String == n.school.rawValue.uuidString.lowercased() })
            let expected = Disclosure(threshold: 5).perturbed(7, key: key)
            #expect("\(school["reports"] ?? "")" == expected.description, "\(school)")
            #expect(rows.first { $0["name"] as? String == "OŠ Blace" }?["reports"] as? String == "<5")
            #expect(rows.allSatisfy { ["prokuplje", "blace"].contains($0["municipality"] as? String ?? "") }, "only Toplica's institutions")

            #expect(try await api.send(.get, "/v1/views/institutions/periods?from=\(month)", token: analyst).status == .unprocessableContent)
            #expect(try await api.send(.get, path + "&district=RS-20", token: analyst).status == .forbidden)
            #expect(try await api.send(.get, path, token: n.schoolStaff).status == .forbidden)
        }
    }

    @Test("an analyst sees a municipality with 2 reports as <5, the others perturbed, and the district total does not give it back")
    func suppression() async throws {
        try await APIHarness.run { api in
            let n = try await Network.withSmallCounts(api)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])

            let view = try await api.send(.get, "/v1/views/municipalities?district=RS-21", token: analyst)
            #expect(view.status == .ok, "\(view.text)")
            #expect(view["suppressionThreshold"] as? Int == 5)
            let rows = view["rows"] as? [[String: Any]] ?? []
            let byPlace = Dictionary(rows.compactMap { row in (row["municipality"] as? String).map { ($0, row) } }, uniquingKeysWith: { a, _ in a })
            #expect(byPlace["blace"]?["reports"] as? String == "<5")
            // Prokuplje's 7 is shown perturbed (5 to 9), and the district's total is the sum of
            // what is shown of its places: 9 − (Prokuplje's shown value) is Blace's perturbed
            // value, never its count.
            let prokuplje = try #require(byPlace["prokuplje"]?["reports"] as? Int, "\(view.text)")
            #expect((5...9).contains(prokuplje))
            let total = try #require(rows.first { $0["kind"] as? String == "district" }?["reports"] as? Int)
            #expect(total > prokuplje && total <= prokuplje + 4)
            #expect(!rows.contains { $0["kind"] as? String == "national" })
            // Asked again, or for the one municipality, the same records give the same answer.
            #expect(try await api.send(.get, "/v1/views/municipalities?district=RS-21", token: analyst).text == view.text)

            // One municipality alone is suppressed as in its district's table: asking for Prokuplje
            // alone does not show its 7 beside the district's 9.
            for path in ["/v1/views/municipalities/prokuplje", "/v1/views/municipalities?municipality=prokuplje"] {
                let single = try await api.send(.get, path, token: analyst)
                #expect(single.status == .ok, "\(single.text)")
                let singleRows = single["rows"] as? [[String: Any]] ?? []
                #expect(singleRows.filter { $0["kind"] as? String == "municipality" }.map { $0["municipality"] as? String } == ["prokuplje"])
                #expect(singleRows.first { $0["municipality"] as? String == "prokuplje" }?["reports"] as? Int == prokuplje)
                #expect(singleRows.first { $0["kind"] as? String == "district" }?["reports"] as? Int == total)
            }
            #expect(try await api.send(.get, "/v1/views/municipalities/nis", token: analyst).status == .forbidden)
            #expect(try await api.send(.get, "/v1/views/municipalities/atlantis", token: analyst).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/views/sectors?sector=astrology", token: n.coordinator).status == .unprocessableContent)
            let education = try await api.send(.get, "/v1/views/sectors?sector=education", token: n.coordinator)
            #expect((education["rows"] as? [[String: Any]] ?? []).allSatisfy { $0["sector"] as? String == "education" })
            #expect(!(education["rows"] as? [[String: Any]] ?? []).isEmpty)

            // The Center sees the figures themselves.
            let center = try await api.send(.get, "/v1/views/municipalities?district=RS-21", token: n.coordinator)
            let exact = (center["rows"] as? [[String: Any]] ?? []).filter { $0["municipality"] as? String == "blace" }
            #expect(exact.first?["reports"] as? Int == 2)

            // CSV, with names in Cyrillic on request.
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(analyst)"
            headers[.accept] = "text/csv"
            let csv = try await api.client.execute(uri: "/v1/views/municipalities?district=RS-21&names=cyrillic", method: .get, headers: headers) {
                response in
                (response.status, response.headers[.contentType], String(buffer: response.body))
            }
            #expect(csv.0 == .ok)
            #expect(csv.1 == "text/csv; charset=utf-8")
            let lines = csv.2.split(separator: "\r\n").map(String.init)
            #expect(lines.first == "kind,month,district,municipality,name,reports,children,highRisk,referralsSent,identifiedVictims,reportsByTrained")
            #expect(lines.contains { $0.contains(",blace,Блаце,<5,") })
            #expect(lines.contains { $0.hasPrefix("district,") && $0.contains(",Топлички управни округ,\(total),") })

            // Only the analyst's districts, only analysts and the Center.
            #expect(try await api.send(.get, "/v1/views/municipalities?district=RS-20", token: analyst).status == .forbidden)
            #expect(try await api.send(.get, "/v1/views/municipalities", token: n.schoolStaff).status == .forbidden)
            #expect(try await api.send(.get, "/v1/views/municipalities?from=2026-13", token: analyst).status == .unprocessableContent)
            #expect(try await api.send(.get, "/v1/views/sectors", token: analyst).status == .forbidden)
            #expect(try await api.send(.get, "/v1/views/flows/sectors", token: analyst).status == .forbidden)
            #expect(try await api.send(.get, "/v1/views/cases", token: analyst).status == .forbidden)

            // Place flows: every report of this test goes from Prokuplje to Germany.
            let flows = try await api.send(.get, "/v1/views/flows/places", token: analyst)
            let flow = (flows["rows"] as? [[String: Any]] ?? []).first { $0["from"] as? String == "prokuplje" && $0["to"] as? String == "country:DE" }
            #expect((7...11).contains(flow?["cases"] as? Int ?? 0), "9 cases, perturbed")
            #expect(flow?["toName"] as? String == "DE")

            // The coordinators' case list: every case, open ones first.
            let list = try await api.send(.get, "/v1/views/cases?district=RS-21", token: n.coordinator)
            #expect((list["rows"] as? [[String: Any]] ?? []).count == 9)
            #expect(try await api.send(.get, "/v1/views/cases?status=lost", token: n.coordinator).status == .unprocessableContent)
            let sectors = try await api.send(.get, "/v1/views/sectors", token: n.coordinator)
            #expect((sectors["rows"] as? [[String: Any]] ?? []).contains { $0["sector"] as? String == "education" && $0["reports"] as? Int == 9 })
        }
    }
}

/// Files `cases` reports from several institutions in two districts, with random referrals and
/// identifications, through the API (so through the domain's rules).
@discardableResult
func randomHistory(_ api: APIHarness, seed: UInt64, cases: Int) async throws -> Network {
    var random = SplitMix64(seed: seed)
    let n = try await Network.make(api)
    let nisPolice = try await api.register("PU Niš", sector: .police, municipality: "nis", admin: n.admin)
    let reporters = [n.schoolStaff, n.socialWorker, n.doctor, try await api.token(nisPolice, .reporter)]
    let receivers = [n.socialWork, n.police, n.health, nisPolice]
    let places = ["prokuplje", "blace", "kursumlija", "zitoradja", "nis", "nis-medijana", "aleksinac"]
    let ages = ["child_0_13", "child_14_17", "adult_18_25", "adult_26_plus", "unknown"]
    let indicators = ["VR-01", "VR-03", "VR-05", "EX-04", "EX-05"]
    for _ in 0..<cases {
        var report = Network.report
        report["municipality"] = places.randomElement(using: &random)!
        report["subject"] = [
            "ageGroup": ages.randomElement(using: &random)!, "gender": ["female", "male", "unknown"].randomElement(using: &random)!,
        ]
        report["exploitation"] = ["sexual", "labour", "begging"].filter { _ in Bool.random(using: &random) }
        report["indicators"] = indicators.filter { _ in Bool.random(using: &random) }
        let recruitment = places.randomElement(using: &random)!
        let exploitation = (places + ["country:DE", "country:AT"]).randomElement(using: &random)!
        report["locations"] = [
            ["role": "recruitment", "municipality": recruitment],
            exploitation.hasPrefix("country:")
                ? ["role": "exploitation", "country": String(exploitation.dropFirst(8))]
                : ["role": "exploitation", "municipality": exploitation],
        ]
        report["reporterTrained"] = Bool.random(using: &random)
        // Now and then a report about several people (siblings, workers found together).
        if Int.random(in: 0..<3, using: &random) == 0 {
            report["otherSubjects"] = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                [
                    "ageGroup": ages.randomElement(using: &random)!, "gender": ["female", "male", "unknown"].randomElement(using: &random)!,
                ]
            }
        }
        let filed = try await api.send(.post, "/v1/cases", token: reporters.randomElement(using: &random)!, json: report)
        #expect(filed.status == .created, "\(filed.text)")
        guard let path = filed.location, var etag = filed.etag else { continue }
        let people = (filed["subjects"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        /// One person of the case now and then, else everyone (no `subject`).
        func someone(_ json: [String: Any]) -> [String: Any] {
            guard people.count > 1, Bool.random(using: &random) else { return json }
            return json.merging(["subject": people.randomElement(using: &random)!]) { $1 }
        }
        if Bool.random(using: &random) {
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let to = receivers.randomElement(using: &random)!
                let reply = try await api.send(
                    .post,
                    path + "/referrals",
                    token: n.coordinator,
                    json: ["to": to.rawValue.uuidString, "reason": "check", "due": iso(Date().addingTimeInterval(86_400))],
                    ifMatch: etag
                )
                #expect(reply.status == .created, "\(reply.text)")
                etag = reply.etag ?? etag
                // Now and then sent by mistake, and corrected.
                if Int.random(in: 0..<4, using: &random) == 0, let referral = reply.location {
                    let corrected = try await api.send(
                        .post,
                        referral + "/entered-in-error",
                        token: n.coordinator,
                        json: ["reason": "sent by mistake"],
                        ifMatch: etag
                    )
                    #expect(corrected.status == .ok, "\(corrected.text)")
                    etag = corrected.etag ?? etag
                }
            }
        }
        if Int.random(in: 0..<3, using: &random) == 0 {
            // Sometimes concluded again: the same outcome, or a correction.
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let outcome = ["identified_victim", "at_risk_prevention", "not_a_victim"].randomElement(using: &random)!
                let reply = try await api.send(
                    .post,
                    path + "/identification",
                    token: n.coordinator,
                    json: someone(["outcome": outcome]),
                    ifMatch: etag
                )
                #expect(reply.status == .ok, "\(reply.text)")
                etag = reply.etag ?? etag
            }
        }
        if Bool.random(using: &random) {
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let kind = ["shelter", "health", "legal"].randomElement(using: &random)!
                let reply = try await api.send(
                    .post,
                    path + "/assistance",
                    token: n.coordinator,
                    json: someone(["kind": kind, "provider": n.socialWork.rawValue.uuidString]),
                    ifMatch: etag
                )
                #expect(reply.status == .ok, "\(reply.text)")
                etag = reply.etag ?? etag
            }
        }
    }

    return n
}

/// Waits until every event is below the read horizon (the projections' own short transactions
/// hold it back for a moment), then until each of `projections` has applied the last one.
@discardableResult
func waitForProjections(_ api: APIHarness, _ projections: [String]) async throws -> [RecordedEvent] {
    #expect(try await api.db.waitUntilReadable())
    let all = try await api.db.store.readAll(after: .start, limit: 100_000)
    let head = try #require(all.last).cursor
    for name in projections {
        try await api.eventually("\(name) at the head") {
            let rows = try await api.db.admin.query(
                "SELECT transaction_id, position FROM projection_checkpoints WHERE projection = \(name)",
                logger: api.db.logger
            )
            for try await (transaction, position) in rows.decode((Int64, Int64).self) {
                return UInt64(transaction) == head.transactionID && position == head.position
            }
            return false
        }
    }
    return all
}

/// The regional statistics as a fold of `events` in memory.
func foldStatistics(_ events: [RecordedEvent]) throws -> StatisticsFold {
    var fold = StatisticsFold()
    for event in events {
        if let id = Streams.caseID(of: event.streamID) {
            fold.apply(
                case: id,
                try CaseEvent(typeName: event.type, schemaVersion: event.schemaVersion, payload: event.payload, decoder: EventCoding.decoder),
                at: EventCoding.occurredAt(of: event)
            )
        } else if let id = Streams.institutionID(of: event.streamID) {
            fold.apply(
                institution: id,
                try InstitutionEvent(typeName: event.type, schemaVersion: event.schemaVersion, payload: event.payload, decoder: EventCoding.decoder)
            )
        }
    }
    return fold
}

/// The regional statistics as the projection's tables hold them.
func storedStatistics(_ api: APIHarness) async throws -> StatisticsFold {
    var stored = StatisticsFold()
    let rows = try await api.db.admin.query(
        "SELECT municipality, month, reports, children, high_risk, referrals_sent, identified_victims, reports_by_trained FROM view_municipality_month",
        logger: api.db.logger
    )
    for try await (municipality, month, reports, children, highRisk, referrals, identified, trained) in rows.decode(
        (String, String, Int64, Int64, Int64, Int64, Int64, Int64).self
    ) {
        let key = StatisticsRules.MunicipalityKey(municipality: MunicipalityCode(rawValue: municipality), month: month)
        for (metric, value) in zip(StatisticsRules.MunicipalityMetric.allCases, [reports, children, highRisk, referrals, identified, trained])
        where value != 0 {
            stored.municipalities[key, default: [:]][metric] = Int(value)
        }
    }
    let sectorRows = try await api.db.admin.query(
        "SELECT sector, month, reports, referrals_sent, referrals_received FROM view_sector_month",
        logger: api.db.logger
    )
    for try await (sector, month, reports, sent, received) in sectorRows.decode((String, String, Int64, Int64, Int64).self) {
        let key = StatisticsRules.SectorKey(sector: Sector(rawValue: sector)!, month: month)
        for (metric, value) in zip(StatisticsRules.SectorMetric.allCases, [reports, sent, received]) where value != 0 {
            stored.sectors[key, default: [:]][metric] = Int(value)
        }
    }
    let flowRows = try await api.db.admin.query(
        "SELECT from_sector, to_sector, month, referrals, declined FROM view_sector_flows",
        logger: api.db.logger
    )
    for try await (from, to, month, referrals, declined) in flowRows.decode((String, String, String, Int64, Int64).self) {
        let key = StatisticsRules.SectorFlowKey(from: Sector(rawValue: from)!, to: Sector(rawValue: to)!, month: month)
        if referrals != 0 { stored.sectorFlows[key] = Int(referrals) }
        if declined != 0 { stored.sectorFlowsDeclined[key] = Int(declined) }
    }
    let breakdownRows = try await api.db.admin.query(
        "SELECT municipality, month, dimension, value, count, count_key FROM view_breakdown_month WHERE count <> 0",
        logger: api.db.logger
    )
    for try await (municipality, month, dimension, value, count, key) in breakdownRows.decode((String, String, String, String, Int64, Int64).self) {
        let cell = Breakdown.Key(
            municipality: MunicipalityCode(rawValue: municipality),
            month: month,
            dimension: Breakdown.Dimension(rawValue: dimension)!,
            value: value
        )
        stored.breakdowns[cell] = Int(count)
        stored.breakdownKeys[cell] = key
    }
    let placeRows = try await api.db.admin.query("SELECT from_place, to_place, month, cases FROM view_place_flows", logger: api.db.logger)
    for try await (from, to, month, cases) in placeRows.decode((String, String, String, Int64).self) {
        stored.placeFlows[StatisticsRules.PlaceFlowKey(from: from, to: to, month: month)] = Int(cases)
    }
    return stored
}
