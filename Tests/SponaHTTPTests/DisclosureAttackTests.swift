import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaRecords
import Testing

@testable import SponaHTTP

/// The analyst who combines everything they may read: every view, every filter, every month's
/// end, one municipality against its district, the training view against the municipality
/// view. On a seeded history of past months, none of it gives back a count from 1 to 4, or
/// times an event inside its month; and all of it is on record.
@Suite("A determined analyst")
struct DisclosureAttackTests {
    /// A history of `cases` reports spread over the twelve months before this one.
    static func history(_ api: APIHarness, cases: Int) async throws -> (from: Date, until: Date) {
        let (institutions, trainings) = try await DemoTests.loadReference(api.db.store)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let thisMonth = calendar.date(from: calendar.dateComponents([.year, .month], from: Date()))!
        let from = calendar.date(byAdding: .month, value: -12, to: thisMonth)!
        let until = thisMonth.addingTimeInterval(-60)
        let history = try DemoHistory(
            geography: shippedGeography,
            institutions: institutions,
            trainings: trainings,
            from: from,
            until: until,
            seed: 18
        )
        _ = try await DemoWriter(service: CaseService(store: api.db.store, geography: shippedGeography, vault: api.vault), history: history, seed: 18)
            .write(cases: cases)
        _ = try await waitForProjections(api, ["case_statistics"])
        return (from, until)
    }

    /// The counts an analyst cannot rule out for a shown cell ("<5": any perturbed value 1–4).
    static func possible(_ shown: String) -> Set<Int> {
        Set(shown.hasPrefix("<") ? 1...ViewTests.possible(4).upperBound : ViewTests.possible(Int(shown)!))
    }

    @Test("every view, filter and month's end combined: no small count recovered exactly, no event timed inside its month, every query on record")
    func attacks() async throws {
        let cases = ProcessInfo.processInfo.environment["SPONA_ATTACK_CASES"].flatMap(Int.init) ?? 120
        try await APIHarness.run(configure: { $0.analystNow = { Date() } }) { api in
            let (from, until) = try await Self.history(api, cases: cases)
            let districts = shippedGeography.districts.map(\.code.rawValue)
            let analyst = try await api.token(.center, .analyst, districts: districts)
            let coordinator = try await api.token(.center, .coordinator)

            // The truth, as the Center sees it.
            let truth = try await api.send(.get, "/v1/views/municipalities", token: coordinator)
            var exact: [String: [String: Int]] = [:]  // "place|month" → metric → count
            for row in truth["rows"] as? [[String: Any]] ?? [] where row["kind"] as? String == "municipality" {
                let key = "\(row["municipality"]!)|\(row["month"]!)"
                exact[key] = Dictionary(uniqueKeysWithValues: ViewRoutes.municipalityMetrics.map(\.key).map { ($0, row[$0] as? Int ?? 0) })
            }
            #expect(!exact.isEmpty)

            // Everything the analyst can ask: the live view, the view at every month's end, each
            // district alone, a few municipalities alone.
            var answers: [[String: Any]] = []
            var asked = 0
            func ask(_ path: String) async throws -> Reply {
                asked += 1
                let reply = try await api.send(.get, path, token: analyst)
                #expect(reply.status == .ok, "\(path): \(reply.text.prefix(300))")
                return reply
            }
            answers += (try await ask("/v1/views/municipalities"))["rows"] as? [[String: Any]] ?? []
            var monthEnd = until
            var moments: [String] = []
            for _ in 0..<3 {
                moments.append(iso(monthEnd))
                monthEnd = ViewRoutes.lastMonthEnd(monthEnd.addingTimeInterval(-86_400 * 20))
            }
            for moment in moments {
                answers += (try await ask("/v1/views/municipalities?asOf=\(moment)"))["rows"] as? [[String: Any]] ?? []
            }
            for district in Set(
                exact.keys.compactMap {
                    shippedGeography.municipality(MunicipalityCode(rawValue: String($0.split(separator: "|")[0])))?.district.rawValue
                }
            ).sorted().prefix(4) {
                answers += (try await ask("/v1/views/municipalities?district=\(district)"))["rows"] as? [[String: Any]] ?? []
            }
            for place in Set(exact.keys.map { String($0.split(separator: "|")[0]) }).sorted().prefix(4) {
                answers += (try await ask("/v1/views/municipalities/\(place)"))["rows"] as? [[String: Any]] ?? []
            }
            let trainings = (try await ask("/v1/views/trainings"))["rows"] as? [[String: Any]] ?? []

            // 1. The same cell always shows the same figures, whichever way it is asked for.
            var shown: [String: [String: String]] = [:]
            var districtTotals: [String: [String: String]] = [:]
            // A city's row adds up its city municipalities, which are its district's places too.
            var cities: Set<String> = []
            for row in answers {
                let metrics = Dictionary(uniqueKeysWithValues: ViewRoutes.municipalityMetrics.map(\.key).map { ($0, "\(row[$0] ?? 0)") })
                // A city's row adds up its city municipalities (a training may cover the city).
                if row["kind"] as? String == "municipality" || row["kind"] as? String == "city" {
                    let key = "\(row["municipality"]!)|\(row["month"]!)"
                    if let before = shown[key] { #expect(before == metrics, "\(key) answered differently") }
                    shown[key] = metrics
                    if row["kind"] as? String == "city" { cities.insert(key) }
                } else if row["kind"] as? String == "district" {
                    let key = "\(row["district"]!)|\(row["month"]!)"
                    if let before = districtTotals[key] { #expect(before == metrics, "district \(key) answered differently") }
                    districtTotals[key] = metrics
                }
            }

            // 2. What the analyst can conclude of each small count, with every constraint they
            // know: each cell's own range, subsets of reports never above reports, a district's
            // total the sum of its places' shown values (which gives away a lone hidden
            // perturbed value, not the count).
            var small = 0
            var recovered = 0
            var narrowed = 0
            for (key, counts) in exact {
                guard let cell = shown[key] else { continue }
                let parts = key.split(separator: "|").map(String.init)
                let place = MunicipalityCode(rawValue: parts[0])
                let district = shippedGeography.municipality(place)!.district.rawValue
                let siblings = shown.filter {
                    !cities.contains($0.key) && $0.key.hasSuffix("|\(parts[1])")
                        && shippedGeography.municipality(MunicipalityCode(rawValue: String($0.key.split(separator: "|")[0])))?.district.rawValue
                            == district
                }
                for metric in ViewRoutes.municipalityMetrics.map(\.key) where (1...4).contains(counts[metric] ?? 0) {
                    small += 1
                    var candidates = Self.possible(cell[metric]!)
                    // A lone hidden cell in its district: its perturbed value is the total minus the others.
                    let hidden = siblings.filter { $0.value[metric]!.hasPrefix("<") }
                    if hidden.count == 1, cell[metric]!.hasPrefix("<"), let total = districtTotals["\(district)|\(parts[1])"]?[metric],
                        let sum = Int(total)
                    {
                        let others = siblings.filter { $0.key != key }.compactMap { Int($0.value[metric]!) }.reduce(0, +)
                        let perturbed = sum - others
                        candidates = candidates.intersection(
                            perturbed == 0 ? [0] : perturbed + 2 < 1 ? [] : Set(max(1, perturbed - 2)...(perturbed + 2))
                        )
                    }
                    // Subsets of reports are at most the reports (children are persons: a report
                    // about siblings counts each of them).
                    if metric != "reports", ["highRisk", "reportsByTrained"].contains(metric) {
                        let reports = Self.possible(cell["reports"]!)
                        candidates = candidates.filter { $0 <= reports.max()! }
                    }
                    #expect(candidates.contains(counts[metric]!), "\(key) \(metric): the truth is ruled out — the attacker's model is wrong")
                    if candidates.count == 1 { recovered += 1 } else if candidates.count < 5 { narrowed += 1 }
                    #expect(candidates.count > 1, "\(key) \(metric) = \(counts[metric]!) recovered from \(cell[metric]!)")
                }
            }
            print(
                "disclosure attack on \(cases) cases: \(small) small counts (1–4); recovered exactly \(recovered), narrowed \(narrowed); \(asked) queries"
            )
            #expect(small > 10)

            // 3. The training view adds up what the municipality view shows: it tells nothing more.
            for row in trainings {
                guard let place = row["municipality"] as? String, let first = row["firstTraining"] as? String,
                    let after = row["reportsAfter"] as? Int
                else { continue }
                let window = shown.filter {
                    $0.key.hasPrefix("\(place)|") && String($0.key.split(separator: "|")[1]) >= first
                        && String($0.key.split(separator: "|")[1]) < ViewRoutes.month(first, plus: 12)
                }
                // Reports after a training show up in its place's rows (a city's training in the
                // city's row): an empty window would make the sum below say nothing.
                #expect(!window.isEmpty || after == 0, "\(place): \(after) reports after its training, and no row")
                if window.values.allSatisfy({ Int($0["reports"]!) != nil }) {
                    #expect(window.values.compactMap { Int($0["reports"]!) }.reduce(0, +) == after, "\(place)")
                }
            }

            // 4. Time: two moments inside one month give the same answer (no bisection), and this
            // month, still open, is never shown.
            let midMonth = iso(until.addingTimeInterval(-86_400 * 10))
            let early = try await ask("/v1/views/municipalities?asOf=\(midMonth)")
            let late = try await ask("/v1/views/municipalities?asOf=\(iso(until.addingTimeInterval(-3_600)))")
            #expect(early.text == late.text)
            let thisMonth = StatisticsRules.month(Date())
            _ = try await api.send(.post, "/v1/cases", token: coordinator, json: Network.report)
            try await api.eventually("the Center to see this month's report") {
                (try await api.send(.get, "/v1/views/municipalities?from=\(thisMonth)", token: coordinator)["rows"] as? [Any])?.isEmpty == false
            }
            let live = try await ask("/v1/views/municipalities?from=\(thisMonth)")
            #expect((live["rows"] as? [Any])?.isEmpty == true, "an open month is not shown to analysts: \(live.text.prefix(300))")
            #expect(from < until)

            // 5. Every one of those questions is on record for auditors, with its filters.
            let auditor = try await api.token(.center, .auditor)
            let stream = try await api.db.store.readStream(ReadTrail.viewQueries)
            #expect(stream.count == asked)
            let actor = try EventCoding.decoder.decode(CommandMetadata.self, from: try #require(stream.first).metadata).actor
            // The audit reads in the gap-safe order, up to the read horizon: another test's open
            // transaction on this cluster may hold the newest record back for a moment.
            var trail = try await api.send(.get, "/v1/audit/access?actor=\(actor)", token: auditor)
            var records: [[String: Any]] = []
            let deadline = ContinuousClock.now + .seconds(30)
            repeat {
                trail = try await api.send(.get, "/v1/audit/access?actor=\(actor)", token: auditor)
                records = (trail["records"] as? [[String: Any]] ?? []).filter { $0["read"] as? String == "view" }
                if records.count >= asked { break }
                try await Task.sleep(for: .milliseconds(200))
            } while ContinuousClock.now < deadline
            #expect(records.count == asked, "\(trail.text.prefix(300))")
            #expect(records.contains { ($0["detail"] as? [String: String])?["asOf"] == midMonth })
        }
    }

    @Test("filtered and as-of queries are limited per analyst and hour; plain ones and other analysts go on")
    func rateLimit() async throws {
        try await APIHarness.run(configure: { $0.analystQueriesPerHour = 3 }) { api in
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            for _ in 0..<3 {
                #expect(try await api.send(.get, "/v1/views/municipalities?district=RS-21", token: analyst).status == .ok)
            }
            try await api.expectRefused(.tooManyRequests, detailContains: "3 filtered") {
                try await api.send(.get, "/v1/views/municipalities?asOf=2026-01-31", token: analyst)
            }
            let limited = try await api.send(.get, "/v1/views/trainings?district=RS-21", token: analyst)
            #expect(limited.headers[.retryAfter].flatMap(Int.init).map { $0 > 0 && $0 <= 3600 } == true)
            #expect(try await api.send(.get, "/v1/views/municipalities", token: analyst).status == .ok)
            let other = try await api.token(.center, .analyst, districts: ["RS-21"])
            #expect(try await api.send(.get, "/v1/views/municipalities?district=RS-21", token: other).status == .ok)
        }
    }
}
