import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaRecords

/// `/v1/views/…`: the regional figures, in JSON or (with `Accept: text/csv`) CSV. The Center
/// sees every district unsuppressed; an analyst sees only the districts of their token, with
/// small counts hidden (``Disclosure``).
/// Where a view's rows come from: the projections' tables now, or as they stood at a moment.
struct ViewDatabase: Sendable {
    /// "Now" for the view: the present, or the as-of moment (silent months count back from it).
    let now: Date
    /// Whether `now` is a past moment asked for with `?asOf=`.
    var isPast = false
    let run: @Sendable (PostgresQuery) async throws -> PostgresRowSequence

    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence { try await run(query) }
}

struct ViewRoutes {
    let database: PostgresClient
    let store: PostgresEventStore
    let geography: Geography
    let disclosure: Disclosure
    /// The present as analysts' closed periods see it (tests move it on to close this month).
    var analystNow: @Sendable () -> Date = { Date() }
    /// Analysts' filtered and as-of queries, counted per analyst.
    /// Each analyst's filtered or as-of queries in a sliding hour.
    let queryLimit: SlidingWindowLimit

    static let municipalityMetrics: [(column: String, key: String)] = [
        ("reports", "reports"), ("children", "children"), ("high_risk", "highRisk"),
        ("referrals_sent", "referralsSent"), ("identified_victims", "identifiedVictims"), ("reports_by_trained", "reportsByTrained"),
    ]

    /// Who is asking and what they may see.
    struct Audience {
        var districts: [DistrictCode]
        var suppressed: Bool
        /// For analysts, the last month they may see ("2026-11"): months are shown once closed.
        var closedThrough: String?
        /// The months an analyst may see, as a bound for `month <= …` ("9999-99" for the Center).
        var lastMonth: String { closedThrough ?? "9999-99" }
    }

    /// The end of the last whole month at or before `moment`: the latest moment an analyst's
    /// view may show, so that nothing is timed more finely than a month.
    static func lastMonthEnd(_ moment: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let next = moment.addingTimeInterval(0.001)
        let start = calendar.date(from: calendar.dateComponents([.year, .month], from: next)) ?? next
        return start.addingTimeInterval(-0.001)
    }

    func audience(_ context: SponaRequestContext, district: String?, _ db: ViewDatabase) throws -> Audience {
        var audience = try audience(context, district: district)
        if audience.suppressed {
            audience.closedThrough = StatisticsRules.month(Self.lastMonthEnd(db.isPast ? db.now : analystNow()))
        }
        return audience
    }

    func audience(_ context: SponaRequestContext, district: String?) throws -> Audience {
        let caller = try context.requireCaller()
        var districts: [DistrictCode]
        let suppressed: Bool
        switch caller.actor.role {
        case .coordinator where caller.isCenter:
            districts = geography.districts.map(\.code)
            suppressed = false
        case .analyst:
            districts = caller.districts
            suppressed = true
        default:
            throw Problem.forbidden("the views are for analysts (their districts) and the Center")
        }
        if let district {
            let code = DistrictCode(rawValue: district)
            guard geography.district(code) != nil else { throw Problem.invalid("'\(district)' is not a district code; see GET /v1/districts") }
            guard districts.contains(code) else {
                throw Problem.forbidden("your token covers \(districts.map(\.rawValue).sorted().joined(separator: ", ")), not \(district)")
            }
            districts = [code]
        }
        return Audience(districts: districts, suppressed: suppressed)
    }

    func requireCenter(_ context: SponaRequestContext, _ why: String) throws {
        let caller = try context.requireCaller()
        guard caller.actor.role == .coordinator, caller.isCenter else {
            throw Problem.forbidden("\(why); analysts see their districts' views")
        }
    }

    /// `from`/`to` as "YYYY-MM"; missing ends are open.
    static func period(_ request: Request) throws -> (from: String, to: String) {
        func month(_ name: String, _ fallback: String) throws -> String {
            guard let text = request.uri.queryParameters[Substring(name)].map(String.init) else { return fallback }
            let parts = text.split(separator: "-")
            guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]), let month = Int(parts[1]),
                (1900...9999).contains(year), (1...12).contains(month)
            else { throw Problem.invalid("'\(name)' must be a month like 2026-01, not '\(text)'") }
            return text
        }
        return (try month("from", "0000-00"), try month("to", "9999-99"))
    }

    /// The calendar month `count` months before this one, "2026-05".
    static func month(monthsBefore count: Int, from date: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let then = calendar.date(byAdding: .month, value: -count, to: date) ?? date
        return StatisticsRules.month(then)
    }

    /// The month `count` months after (or before) a month "YYYY-MM".
    static func month(_ month: String, plus count: Int) -> String {
        let parts = month.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2 else { return month }
        let index = parts[0] * 12 + (parts[1] - 1) + count
        return String(format: "%04d-%02d", index / 12, index % 12 + 1)
    }

    /// `?sector=`: one sector, or all of them.
    static func sectors(_ request: Request) throws -> [String] {
        guard let text = request.uri.queryParameters["sector"].map(String.init) else { return Sector.allCases.map(\.rawValue) }
        guard Sector(rawValue: text) != nil else {
            throw Problem.invalid("'\(text)' is not a sector; one of \(Sector.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return [text]
    }

    static func wantsCSV(_ request: Request) -> Bool {
        (request.headers[.accept] ?? "").lowercased().contains("text/csv")
    }

    static func cyrillic(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters["names"].map(String.init) {
        case nil, "latin": return false
        case "cyrillic": return true
        case let other?: throw Problem.invalid("'names' is latin or cyrillic, not '\(other)'")
        }
    }

    /// Municipality × month with district roll-ups (and national ones for the Center). With
    /// `only`, the rows of that municipality and its district's totals — suppressed exactly as
    /// in the district's whole table, so that comparing the two reveals nothing.
    ///
    /// With `wholePeriod`, one row per place for the whole of `from`…`to` instead of one per
    /// month: each count summed over the months with its cell key (keys add, so the total is
    /// perturbed as one cell of the same records would be), then shown like any cell. A total
    /// is thus shown whenever it is large enough, even when every month of it is "<5"; and with
    /// the months shown it gives back no small count, since every figure it could be set
    /// against is perturbed on its own key.
    func municipalities(
        _ request: Request,
        _ context: SponaRequestContext,
        only: String?,
        wholePeriod: Bool = false,
        _ db: ViewDatabase
    ) async throws -> ViewTable {
        var district = request.uri.queryParameters["district"].map(String.init)
        var single: MunicipalityCode?
        if let only {
            guard let place = geography.municipality(MunicipalityCode(rawValue: only)) else {
                throw Problem.invalid("'\(only)' is not a municipality code; see GET /v1/municipalities")
            }
            if let district, district != place.district.rawValue {
                throw Problem.invalid("\(only) is in \(place.district.rawValue), not in \(district)")
            }
            district = place.district.rawValue
            single = place.code
        }
        let audience = try audience(context, district: district, db)
        let (from, to) = try Self.period(request)
        if wholePeriod, from == "0000-00" || to == "9999-99" {
            throw Problem.invalid("a period total needs 'from' and 'to' (months like 2026-01)")
        }
        if wholePeriod, from > to { throw Problem.invalid("'from' (\(from)) is after 'to' (\(to))") }
        let cyrillic = try Self.cyrillic(request)
        let codes = audience.districts.flatMap { geography.municipalities(in: $0) }.map(\.code.rawValue)
        /// One place's figures in a month: each metric's count and cell key.
        struct Figures {
            var values: [Int]
            var keys: [Int64]
        }
        // month (or the period) → district → municipality → figures
        var figures: [String: [DistrictCode: [(MunicipalityCode, Figures)]]] = [:]
        // An analyst's period ends with the last closed month.
        let periodLabel = "\(from)/\(min(to, audience.lastMonth))"
        for row in try await CaseStatisticsProjection.municipalityMonths(codes, from: from, to: to, through: audience.lastMonth, read: db.run) {
            let municipality = MunicipalityCode(rawValue: row.municipality)
            guard let district = geography.municipality(municipality)?.district else { continue }
            let label = wholePeriod ? periodLabel : row.month
            var places = figures[label, default: [:]][district, default: []]
            if wholePeriod, let index = places.firstIndex(where: { $0.0 == municipality }) {
                // Counts add; keys add modulo 2^32, as the projection adds them within a month.
                for metric in row.counts.indices {
                    places[index].1.values[metric] += row.counts[metric]
                    places[index].1.keys[metric] = (places[index].1.keys[metric] + row.keys[metric]) % 4_294_967_296
                }
            } else {
                places.append((municipality, Figures(values: row.counts, keys: row.keys)))
            }
            figures[label, default: [:]][district] = places
        }

        /// What an analyst may learn of a place's figures: each count perturbed by its cell key,
        /// the subsets of reports never above it. The Center's are the counts themselves.
        func perturbed(_ figures: Figures) -> [Int] {
            guard audience.suppressed else { return figures.values }
            // reports, then children, high risk, reports by trained staff (subsets of reports);
            // referrals and identifications count other records.
            let (reports, subsets) = disclosure.values(
                whole: (figures.values[0], figures.keys[0]),
                parts: [1, 2, 5].map { (figures.values[$0], figures.keys[$0]) }
            )
            return [
                reports, subsets[0], subsets[1], disclosure.value(figures.values[3], key: figures.keys[3]),
                disclosure.value(figures.values[4], key: figures.keys[4]), subsets[2],
            ]
        }
        func shown(_ values: [Int]) -> [ViewTable.Value] {
            values.map { .cell(audience.suppressed ? disclosure.cell($0) : .count($0)) }
        }

        var table = ViewTable(columns: [wholePeriod ? "period" : "month", "district", "municipality", "name"] + Self.municipalityMetrics.map(\.key))
        for month in figures.keys.sorted() {
            var national = [Int](repeating: 0, count: Self.municipalityMetrics.count)
            for district in figures[month]!.keys.sorted() {
                let places = figures[month]!.compactMap { $0.key == district ? $0.value : nil }.first!
                // A district's total is the sum of what is shown of its places.
                // What is shown of each place, worked out once: its row, its city's, its district's.
                let shownOf = Dictionary(places.map { ($0.0, perturbed($0.1)) }, uniquingKeysWith: { first, _ in first })
                var total = [Int](repeating: 0, count: Self.municipalityMetrics.count)
                for place in places {
                    let values = shownOf[place.0]!
                    for index in total.indices { total[index] += values[index] }
                    if single == nil || single == place.0 {
                        let name = geography.municipality(place.0).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? place.0.rawValue
                        table.add(
                            kind: "municipality",
                            [.text(month), .text(district.rawValue), .text(place.0.rawValue), .text(name)] + shown(values)
                        )
                    }
                }
                // Cities with city municipalities: a row adding up the city and its parts.
                for city in Set(
                    places.compactMap { geography.municipality($0.0)?.parent } + places.map(\.0).filter { geography.municipality($0)?.kind == .city }
                ).sorted()
                where single == nil || geography.cityAndParts(city).contains(single!) {
                    let parts = Set(geography.cityAndParts(city))
                    guard parts.count > 1 else { continue }
                    var sum = [Int](repeating: 0, count: Self.municipalityMetrics.count)
                    for place in places where parts.contains(place.0) {
                        for (index, value) in shownOf[place.0]!.enumerated() { sum[index] += value }
                    }
                    let name = geography.municipality(city).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? city.rawValue
                    table.add(kind: "city", [.text(month), .text(district.rawValue), .text(city.rawValue), .text(name)] + shown(sum))
                }
                for index in national.indices { national[index] += total[index] }
                let districtName = geography.district(district).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? district.rawValue
                table.add(kind: "district", [.text(month), .text(district.rawValue), .text(""), .text(districtName)] + shown(total))
            }
            if !audience.suppressed, single == nil {
                table.add(kind: "national", [.text(month), .text(""), .text(""), .text(cyrillic ? "Србија" : "Srbija")] + shown(national))
            }
        }
        table.suppressionThreshold = audience.suppressed ? disclosure.threshold : nil
        return table
    }

    /// An analyst's question is on record before it is answered (who, which view, which
    /// filters, when: `GET /v1/audit/access?actor=`), and questions with filters or a moment are
    /// limited in number per analyst: combining many is how small counts are attacked.
    func recordAnalystQuery(_ request: Request, _ context: SponaRequestContext) async throws {
        guard let caller = try? context.requireCaller(), caller.actor.role == .analyst else { return }
        let filters = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) }, uniquingKeysWith: { first, _ in first })
        if filters.keys.contains(where: { $0 != "names" }), let wait = await queryLimit.admit(caller.actor.id) {
            throw Problem.rateLimited(
                "Too many filtered queries",
                "an analyst may ask \(queryLimit.most) filtered or as-of view queries an hour; try again in \(wait) s",
                retryAfter: wait
            )
        }
        try await ReadTrail(store: store).record(.init(view: request.uri.path, filters: filters), caller: caller, requestID: context.requestIDText)
    }

    /// Runs a view's queries on the current tables, or — with `?asOf=` — on the projections
    /// replayed up to that moment (``PointInTime``).
    func at(
        _ request: Request,
        _ context: SponaRequestContext,
        _ projections: [any Projection],
        _ body: @escaping @Sendable (ViewDatabase) async throws -> ViewTable
    ) async throws -> ViewTable {
        try await requireLive(projections.map(\.name), database: database, logger: context.logger)
        try await recordAnalystQuery(request, context)
        guard let text = request.uri.queryParameters["asOf"].map(String.init) else {
            let database = self.database
            let logger = context.logger
            return try await body(ViewDatabase(now: Date()) { try await database.query($0, logger: logger) })
        }
        guard case .time(var moment)? = AuditService.Moment(parsing: text) else {
            throw Problem.invalid("'asOf' is a time like 2026-03-01T12:00:00Z, or a date (the end of that day, UTC), not '\(text)'")
        }
        // A replay costs; only those who may see views start one.
        let caller = try context.requireCaller()
        guard caller.actor.role == .analyst || (caller.actor.role == .coordinator && caller.isCenter) else {
            throw Problem.forbidden("the views are for analysts (their districts) and the Center")
        }
        // Analysts see the history only as it stood at a month's end: no pair of moments
        // times an event more finely than its month.
        if caller.actor.role == .analyst { moment = Self.lastMonthEnd(moment) }
        let logger = context.logger
        // A replay reads the history up to the moment: a few at a time per process, so that
        // past views never crowd out the present ones.
        guard await Self.replays.enter() else {
            throw Problem(
                .serviceUnavailable,
                type: "urn:spona:problem:busy",
                title: "Busy",
                detail: "other views as of past moments are being replayed; try again in a moment",
                headers: [.retryAfter: "5"]
            )
        }
        do {
            let table = try await PointInTime.withViews(projections, at: moment, client: database, store: store, logger: logger) { connection in
                try await body(ViewDatabase(now: moment, isPast: true) { try await connection.query($0, logger: logger) })
            }
            await Self.replays.leave()
            return table
        } catch {
            await Self.replays.leave()
            throw error
        }
    }

    static let replays = ReplayLimit(most: 2)

    /// How many as-of replays may run at once in this process.
    actor ReplayLimit {
        let most: Int
        private var running = 0
        init(most: Int) { self.most = most }
        func enter() -> Bool {
            guard running < most else { return false }
            running += 1
            return true
        }
        func leave() { running -= 1 }
    }

    /// Serves every view under `/v1/views/`: JSON, or CSV when asked for.
    func register(on group: RouterGroup<SponaRequestContext>) {
        for (path, build) in tables() {
            group.get(RouterPath(path)) { request, context in
                try await build(request, context).response(csv: Self.wantsCSV(request))
            }
        }
    }

    /// A view's table as the caller may see it, built from a request's query.
    typealias Build = @Sendable (Request, SponaRequestContext) async throws -> ViewTable

    /// Every view by its path under `/v1`: the API serves them, and the dashboard renders the
    /// same tables, so that a page never shows what the API would not.
    func tables() -> [String: Build] {
        var views: [String: Build] = [:]
        views["views/municipalities"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                try await municipalities(request, context, only: request.uri.queryParameters["municipality"].map(String.init), db)
            }
        }
        views["views/municipalities/:municipality"] = { request, context in
            let only = try context.parameters.require("municipality")
            return try await at(request, context, [CaseStatisticsProjection()]) { db in try await municipalities(request, context, only: only, db) }
        }

        views["views/periods"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                try await municipalities(
                    request,
                    context,
                    only: request.uri.queryParameters["municipality"].map(String.init),
                    wholePeriod: true,
                    db
                )
            }
        }
        views["views/breakdowns"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in try await breakdown(request, context, db) }
        }
        views["views/trainings/list"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                let audience = try audience(context, district: request.uri.queryParameters["district"].map(String.init), db)
                let cyrillic = try Self.cyrillic(request)
                // The trainings held in or for the caller's districts: a training is a public
                // event, so its date, host and participants are shown as they were recorded.
                let places = Set(audience.districts.flatMap { geography.municipalities(in: $0) }.map(\.code.rawValue))
                func name(_ code: String) -> String {
                    geography.municipality(MunicipalityCode(rawValue: code)).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? code
                }
                var table = ViewTable(columns: ["heldOn", "district", "host", "hostName", "participants", "places"])
                for training in try await CaseStatisticsProjection.trainings(read: db.run).sorted(by: { ($0.heldOn, $0.host) > ($1.heldOn, $1.host) })
                where places.contains(training.host) || training.municipalities.contains(where: places.contains) {
                    let district = geography.municipality(MunicipalityCode(rawValue: training.host))?.district.rawValue ?? ""
                    table.add(
                        kind: "training",
                        [
                            .text(training.heldOn), .text(district), .text(training.host), .text(name(training.host)),
                            .cell(.count(training.participants)), .text(training.municipalities.map(name).joined(separator: "; ")),
                        ]
                    )
                }
                return table
            }
        }
        views["views/referrals/waiting"] = { request, context in
            try await at(request, context, [CaseWorkProjection(), InstitutionsProjection(geography: geography)]) { db in
                try requireCenter(context, "where referrals wait is national, by sector")
                var table = ViewTable(columns: ["fromSector", "toSector", "open", "overdue"])
                for row in try await CaseWorkProjection.waitingReferrals(now: db.now, read: db.run) {
                    table.add(kind: "flow", [.text(row.fromSector), .text(row.toSector), .cell(.count(row.open)), .cell(.count(row.overdue))])
                }
                return table
            }
        }
        views["views/silent"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                let audience = try audience(context, district: request.uri.queryParameters["district"].map(String.init), db)
                let monthsText = request.uri.queryParameters["months"].map(String.init) ?? "6"
                guard let months = Int(monthsText), (1...120).contains(months) else {
                    throw Problem.invalid("'months' is a whole number from 1 to 120, not '\(monthsText)'")
                }
                let cyrillic = try Self.cyrillic(request)
                // Analysts count whole months back from the last closed one; the Center from now.
                let since = Self.month(
                    monthsBefore: months - 1,
                    from: audience.suppressed ? Self.lastMonthEnd(db.isPast ? db.now : analystNow()) : db.now
                )
                let places = audience.districts.flatMap { geography.municipalities(in: $0) }
                let last = try await CaseStatisticsProjection.lastReportMonths(places.map(\.code.rawValue), through: audience.lastMonth, read: db.run)
                var table = ViewTable(columns: ["district", "municipality", "name", "lastReport"])
                for place in places.sorted(by: { ($0.district.rawValue, $0.code.rawValue) < ($1.district.rawValue, $1.code.rawValue) }) {
                    let latest = last[place.code.rawValue]
                    guard latest.map({ $0 < since }) ?? true else { continue }
                    // When a small place last reported could point at one report: the Center's to know.
                    let shown = audience.suppressed ? "" : (latest ?? "never")
                    table.add(
                        kind: "silent",
                        [
                            .text(place.district.rawValue), .text(place.code.rawValue),
                            .text(cyrillic ? place.nameCyrillic : place.nameLatin), .text(shown),
                        ]
                    )
                }
                table.suppressionThreshold = audience.suppressed ? disclosure.threshold : nil
                return table
            }
        }

        views["views/trainings"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                let audience = try audience(context, district: request.uri.queryParameters["district"].map(String.init), db)
                let cyrillic = try Self.cyrillic(request)
                let last = audience.lastMonth
                let places = Set(audience.districts.flatMap { geography.municipalities(in: $0) }.map(\.code.rawValue))
                // Per municipality that hosted a training or sent staff to one: its trainings, the
                // participants of those it hosted, and its reports in the 12 months before the
                // first of them and in the 12 months from it on.
                // Each training reaches its host and the places it names; a city named reaches
                // its city municipalities too (a training "for Belgrade" covers all 17).
                var reach: [String: (trainings: Set<UUID>, participants: Int, first: String)] = [:]
                for training in try await CaseStatisticsProjection.trainings(read: db.run) {
                    let (id, host, participants, named) = (training.id, training.host, training.participants, training.municipalities)
                    let month = String(training.heldOn.prefix(7))
                    var covered = Set(geography.cityAndParts(MunicipalityCode(rawValue: host)).map(\.rawValue))
                    for code in named { covered.formUnion(geography.cityAndParts(MunicipalityCode(rawValue: code)).map(\.rawValue)) }
                    for code in covered {
                        var entry = reach[code] ?? ([], 0, month)
                        entry.trainings.insert(id)
                        if code == host { entry.participants += Int(participants) }
                        entry.first = min(entry.first, month)
                        reach[code] = entry
                    }
                }
                let trained = reach.filter { places.contains($0.key) }.sorted { $0.key < $1.key }
                    .map { (code: $0.key, trainings: $0.value.trainings.count, participants: $0.value.participants, first: $0.value.first) }
                // Their reports month by month: the windows below add up what the municipality
                // view shows of each month (for analysts, its perturbed values), so that the two
                // views agree and neither tells more than the other.
                // A city's row adds up the city and its city municipalities.
                let counted = Set(trained.flatMap { geography.cityAndParts(MunicipalityCode(rawValue: $0.code)).map(\.rawValue) })
                var byPlace: [String: [(month: String, reports: Int, trained: Int)]] = [:]
                for row in try await CaseStatisticsProjection.reportMonths(Array(counted), through: last, read: db.run) {
                    let shown =
                        audience.suppressed
                        ? disclosure.values(whole: (row.reports, row.reportsKey), parts: [(row.byTrained, row.byTrainedKey)])
                        : (whole: row.reports, parts: [row.byTrained])
                    byPlace[row.municipality, default: []].append((row.month, shown.whole, shown.parts[0]))
                }
                var table = ViewTable(columns: [
                    "district", "municipality", "name", "trainings", "participants", "firstTraining",
                    "reportsBefore", "reportsAfter", "reportsByTrained",
                ])
                func cell(_ n: Int) -> ViewTable.Value { .cell(audience.suppressed ? disclosure.cell(n) : .count(n)) }
                for place in trained {
                    guard let municipality = geography.municipality(MunicipalityCode(rawValue: place.code)) else { continue }
                    let rows = geography.cityAndParts(MunicipalityCode(rawValue: place.code)).flatMap { byPlace[$0.rawValue] ?? [] }
                    let (yearBefore, yearAfter) = (Self.month(place.first, plus: -12), Self.month(place.first, plus: 12))
                    let before = rows.filter { $0.month >= yearBefore && $0.month < place.first }.map(\.reports).reduce(0, +)
                    let after = rows.filter { $0.month >= place.first && $0.month < yearAfter }.map(\.reports).reduce(0, +)
                    let byTrained = rows.map(\.trained).reduce(0, +)
                    table.add(
                        kind: "municipality",
                        [
                            .text(municipality.district.rawValue), .text(place.code),
                            .text(cyrillic ? municipality.nameCyrillic : municipality.nameLatin),
                            .cell(.count(place.trainings)), .cell(.count(place.participants)), .text(place.first),
                            cell(before), cell(after), cell(byTrained),
                        ]
                    )
                }
                table.suppressionThreshold = audience.suppressed ? disclosure.threshold : nil
                return table
            }
        }

        views["views/flows/sectors"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                try requireCenter(context, "sector flows are national")
                let (from, to) = try Self.period(request)
                let sectors = try Self.sectors(request)
                // A flow is shown when either end is the sector asked for.
                var table = ViewTable(columns: ["month", "fromSector", "toSector", "referrals", "declined"])
                for flow in try await CaseStatisticsProjection.sectorFlows(from: from, to: to, sectors: sectors, read: db.run) {
                    table.add(
                        kind: "flow",
                        [.text(flow.month), .text(flow.from), .text(flow.to), .cell(.count(flow.referrals)), .cell(.count(flow.declined))]
                    )
                }
                return table
            }
        }

        views["views/flows/places"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                let audience = try audience(context, district: request.uri.queryParameters["district"].map(String.init), db)
                let (from, to) = try Self.period(request)
                let cyrillic = try Self.cyrillic(request)
                let places = audience.districts.flatMap { geography.municipalities(in: $0) }.map(\.code.rawValue)
                // A flow is shown when either end is in the caller's districts.
                let flows = try await CaseStatisticsProjection.placeFlows(
                    from: from,
                    to: to,
                    through: audience.lastMonth,
                    places: places,
                    read: db.run
                )
                func name(_ place: String) -> String {
                    if place.hasPrefix("country:") { return String(place.dropFirst(8)) }
                    return geography.municipality(MunicipalityCode(rawValue: place)).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? place
                }
                var table = ViewTable(columns: ["month", "from", "fromName", "to", "toName", "cases"])
                for flow in flows {
                    let (fromPlace, toPlace, month) = (flow.from, flow.to, flow.month)
                    let cell: Disclosure.Cell = audience.suppressed ? disclosure.perturbed(flow.cases, key: flow.key) : .count(flow.cases)
                    table.add(
                        kind: "flow",
                        [.text(month), .text(fromPlace), .text(name(fromPlace)), .text(toPlace), .text(name(toPlace)), .cell(cell)]
                    )
                }
                table.suppressionThreshold = audience.suppressed ? disclosure.threshold : nil
                return table
            }
        }

        views["views/cases"] = { request, context in
            try await at(request, context, [CaseWorkProjection()]) { db in
                try requireCenter(context, "the case list is the Center's coordinators'")
                let status = request.uri.queryParameters["status"].map(String.init)
                if let status, !["reported", "acknowledged", "triaged", "closed"].contains(status) {
                    throw Problem.invalid("'status' is reported, acknowledged, triaged or closed, not '\(status)'")
                }
                let district = request.uri.queryParameters["district"].map(String.init)
                var codes: [String]? = nil
                if let district {
                    guard geography.district(DistrictCode(rawValue: district)) != nil else {
                        throw Problem.invalid("'\(district)' is not a district code; see GET /v1/districts")
                    }
                    codes = geography.municipalities(in: DistrictCode(rawValue: district)).map(\.code.rawValue)
                }
                let now = db.now
                let page = try PageRequest(request)
                let after = try page.after.map { try KeysetCursor(parsing: $0, numbers: 2) } ?? .start(2)
                // Keyset paging in the list's order (open before closed, the most urgent first,
                // then by filing): a page never repeats or skips a case, however many are filed.
                var table = ViewTable(columns: [
                    "caseId", "municipality", "district", "filedAt", "status", "riskLevel", "urgency",
                    "referralsSent", "identification", "openItems", "overdueItems",
                ])
                var keyset = page.keyset
                for row in try await CaseWorkProjection.caseList(
                    status: status,
                    municipalities: codes,
                    now: now,
                    after: (after.numbers[0], after.numbers[1], after.id),
                    limit: page.limit + 1,
                    read: db.run
                ) {
                    guard keyset.take(KeysetCursor(row.key, row.caseID)) else { break }
                    let districtCode = geography.municipality(MunicipalityCode(rawValue: row.municipality))?.district.rawValue ?? ""
                    table.add(
                        kind: "case",
                        [
                            .text(row.caseID.uuidString.lowercased()), .text(row.municipality), .text(districtCode),
                            .text(ISO8601.string(from: row.filedAt)), .text(row.status), .text(row.riskLevel), .text(row.urgency),
                            .cell(.count(row.referralsSent)), .text(row.identification ?? ""),
                            .cell(.count(row.openItems)), .cell(.count(row.overdueItems)),
                        ]
                    )
                }
                table.next = keyset.next
                return table
            }
        }

        views["views/outcomes"] = { request, context in
            try await at(request, context, [CaseWorkProjection()]) { db in
                let caller = try context.requireCaller()
                guard caller.actor.role == .coordinator, caller.isCenter else {
                    throw Problem.forbidden("national outcome figures are the Center's (analysts see their districts' views)")
                }
                let (from, to) = try Self.period(request)
                let metrics = [
                    "reports", "identified", "identifiedChildren", "identifiedAdults", "identifiedFemale", "identifiedMale", "atRiskPrevention",
                    "notAVictim", "assisted", "assistedChildren", "assistedAdults", "assistedFemale", "assistedMale",
                ]
                var table = ViewTable(columns: ["month"] + metrics)
                for row in try await CaseWorkProjection.outcomes(from: from, to: to, read: db.run) {
                    let counts = [
                        row.reports, row.identified, row.identifiedChildren, row.identifiedAdults, row.identifiedFemale, row.identifiedMale,
                        row.atRiskPrevention, row.notAVictim, row.assisted, row.assistedChildren, row.assistedAdults, row.assistedFemale,
                        row.assistedMale,
                    ]
                    table.add(kind: "national", [.text(row.month)] + counts.map { .cell(.count($0)) })
                }
                return table
            }
        }
        views["views/institutions"] = { request, context in
            try await at(request, context, [CaseWorkProjection(), InstitutionsProjection(geography: geography)]) { db in
                let caller = try context.requireCaller()
                guard caller.actor.role == .coordinator, caller.isCenter else {
                    throw Problem.forbidden("reports by institution name single institutions; they are the Center's")
                }
                let (from, to) = try Self.period(request)
                let cyrillic = try Self.cyrillic(request)
                var table = ViewTable(columns: ["month", "institution", "name", "sector", "municipality", "reports"])
                for row in try await CaseWorkProjection.reportsByInstitution(from: from, to: to, read: db.run) {
                    let name = (cyrillic ? row.nameCyrillic ?? row.nameLatin : row.nameLatin) ?? row.institution.uuidString.lowercased()
                    table.add(
                        kind: "institution",
                        [
                            .text(row.month), .text(row.institution.uuidString.lowercased()), .text(name), .text(row.sector ?? ""),
                            .text(row.municipality ?? ""), .cell(.count(row.reports)),
                        ]
                    )
                }
                return table
            }
        }
        views["views/institutions/periods"] = { request, context in
            try await at(request, context, [CaseWorkProjection(), InstitutionsProjection(geography: geography)]) { db in
                let district = request.uri.queryParameters["district"].map(String.init)
                let audience = try audience(context, district: district, db)
                let (from, to) = try Self.period(request)
                guard from != "0000-00", to != "9999-99" else {
                    throw Problem.invalid("reports by institution are for a period: give 'from' and 'to' (months like 2026-01)")
                }
                guard from <= to else { throw Problem.invalid("'from' (\(from)) is after 'to' (\(to))") }
                let cyrillic = try Self.cyrillic(request)
                // Analysts see the institutions of their districts; the Center every one, national
                // bodies too, unless it asks for a district.
                let places =
                    audience.suppressed || district != nil
                    ? audience.districts.flatMap { geography.municipalities(in: $0) }.map(\.code.rawValue) : nil
                var table = ViewTable(columns: ["period", "institution", "name", "sector", "municipality", "reports"])
                let period = "\(from)/\(min(to, audience.lastMonth))"
                let rows = try await CaseWorkProjection.reportsByInstitution(
                    from: from,
                    to: to,
                    through: audience.lastMonth,
                    municipalities: places,
                    read: db.run
                )
                for row in rows {
                    let name = (cyrillic ? row.nameCyrillic ?? row.nameLatin : row.nameLatin) ?? row.institution.uuidString.lowercased()
                    // Each institution's period count perturbed as one cell, as every count analysts see.
                    let reports: Disclosure.Cell = audience.suppressed ? disclosure.perturbed(row.reports, key: row.key) : .count(row.reports)
                    table.add(
                        kind: "institution",
                        [
                            .text(period), .text(row.institution.uuidString.lowercased()), .text(name), .text(row.sector ?? ""),
                            .text(row.municipality ?? ""), .cell(reports),
                        ]
                    )
                }
                table.suppressionThreshold = audience.suppressed ? disclosure.threshold : nil
                return table
            }
        }
        views["views/waits"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                // Exact times of a few cases would time a person's report: the Center's alone;
                // analysts read the same waits in classes (`/v1/views/breakdowns`).
                try requireCenter(context, "exact waiting times are the Center's")
                let (from, to) = try Self.period(request)
                guard from != "0000-00", to != "9999-99" else {
                    throw Problem.invalid("waits are for a period: give 'from' and 'to' (months like 2026-01)")
                }
                guard from <= to else { throw Problem.invalid("'from' (\(from)) is after 'to' (\(to))") }
                let cyrillic = try Self.cyrillic(request)
                let places = geography.districts.flatMap { geography.municipalities(in: $0.code) }.map { ($0.code.rawValue, $0.district.rawValue) }
                func hours(_ seconds: Double) -> String { String(format: "%.1f", seconds / 3600) }
                var table = ViewTable(columns: ["wait", "district", "municipality", "name", "count", "medianHours", "p90Hours"])
                for row in try await CaseStatisticsProjection.waits(from: from, to: to, districtOf: places, read: db.run) {
                    let name: String
                    if let municipality = row.municipality {
                        name =
                            geography.municipality(MunicipalityCode(rawValue: municipality)).map { cyrillic ? $0.nameCyrillic : $0.nameLatin }
                            ?? municipality
                    } else if let district = row.district {
                        name = geography.district(DistrictCode(rawValue: district)).map { cyrillic ? $0.nameCyrillic : $0.nameLatin } ?? district
                    } else {
                        name = cyrillic ? "Србија" : "Srbija"
                    }
                    table.add(
                        kind: row.municipality != nil ? "municipality" : row.district != nil ? "district" : "national",
                        [
                            .text(row.kind), .text(row.district ?? ""), .text(row.municipality ?? ""), .text(name), .cell(.count(row.count)),
                            .text(hours(row.median)), .text(hours(row.p90)),
                        ]
                    )
                }
                return table
            }
        }
        views["views/sectors"] = { request, context in
            try await at(request, context, [CaseStatisticsProjection()]) { db in
                let caller = try context.requireCaller()
                guard caller.actor.role == .coordinator, caller.isCenter else {
                    throw Problem.forbidden("sector figures are national; they are the Center's (analysts see their districts' views)")
                }
                let (from, to) = try Self.period(request)
                let sectors = try Self.sectors(request)
                var table = ViewTable(columns: ["month", "sector", "name", "reports", "referralsSent", "referralsReceived"])
                for row in try await CaseStatisticsProjection.sectorMonths(from: from, to: to, sectors: sectors, read: db.run) {
                    let name = Sector(rawValue: row.sector)?.nameLatin ?? row.sector
                    table.add(
                        kind: "sector",
                        [.text(row.month), .text(row.sector), .text(name)]
                            + [row.reports, row.referralsSent, row.referralsReceived].map { .cell(.count($0)) }
                    )
                }
                return table
            }
        }
        return views
    }
}

/// A view's rows, written as JSON objects or as CSV (a header row, UTF-8, RFC 4180 quoting).
struct ViewTable: Sendable {
    enum Value: Encodable, Sendable {
        case text(String)
        case cell(Disclosure.Cell)

        func encode(to encoder: any Encoder) throws {
            switch self {
            case .text(let text):
                var container = encoder.singleValueContainer()
                try container.encode(text)
            case .cell(let cell): try cell.encode(to: encoder)
            }
        }

        var csv: String {
            switch self {
            case .text(let text): text
            case .cell(let cell): cell.description
            }
        }
    }

    let columns: [String]
    private(set) var rows: [(kind: String, values: [Value])] = []

    /// The cursor of the next page (`?after=`), when the list goes on.
    var next: String?
    /// The threshold below which counts are hidden, when they are (analysts' views).
    var suppressionThreshold: Int?

    init(columns: [String]) { self.columns = columns }

    mutating func add(kind: String, _ values: [Value]) { rows.append((kind, values)) }

    struct Row: Encodable {
        var kind: String
        var values: [(String, Value)]
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(kind, forKey: Key(stringValue: "kind"))
            for (name, value) in values {
                if case .text(let text) = value, text.isEmpty { continue }
                try container.encode(value, forKey: Key(stringValue: name))
            }
        }
    }

    struct Body: Encodable {
        /// The threshold below which counts are hidden, when they are.
        var suppressionThreshold: Int?
        var rows: [Row]
        /// Present when there is more: pass it as `?after=` for the next page.
        var next: String?
    }

    /// One CSV cell, safe to open in a spreadsheet: quoted when it holds a separator, a quote
    /// or a line break, and never read as a formula (OWASP's advice: a cell that begins with
    /// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe).
    /// `separator` is the file's (the dashboard's downloads offer `;` for Excel in a Serbian
    /// locale); a cell holding either separator is quoted.
    static func csvField(_ field: String, separator: Character = ",") -> String {
        var field = field
        if let first = field.first, "=+-@\t\r".contains(first) { field = "'" + field }
        return field.contains(where: { $0 == separator || $0 == "," || $0 == ";" || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }

    func response(csv: Bool) throws -> Response {
        if csv {
            let quote: (String) -> String = { Self.csvField($0, separator: ",") }
            var text = (["kind"] + columns).joined(separator: ",") + "\r\n"
            for row in rows {
                text += ([row.kind] + row.values.map(\.csv)).map(quote).joined(separator: ",") + "\r\n"
            }
            var headers: HTTPFields = [.contentType: "text/csv; charset=utf-8"]
            if let next { headers[HTTPField.Name("Spona-Next-Page")!] = next }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let body = Body(
            suppressionThreshold: suppressionThreshold,
            rows: rows.map { Row(kind: $0.kind, values: Array(zip(columns, $0.values))) },
            next: next
        )
        var response = try JSONResponse.make(body, status: .ok)
        if let next { response.headers[HTTPField.Name("Spona-Next-Page")!] = next }
        return response
    }
}

/// `?limit=` (1 to 1000, default 500) and `?after=` of a paged list: nothing is ever cut
/// silently; a page that is not the last says where the next one starts.
struct PageRequest {
    static let maxLimit = 1000
    var limit: Int
    var after: String?

    init(_ request: Request, defaultLimit: Int = 500) throws {
        let query = request.uri.queryParameters
        limit = defaultLimit
        if let text = query["limit"] {
            guard let value = Int(text), (1...Self.maxLimit).contains(value) else {
                throw Problem.invalid("'limit' is a whole number from 1 to \(Self.maxLimit), not '\(text)'")
            }
            limit = value
        }
        after = query["after"].map(String.init)
    }

    /// Counts the page's rows as they are read.
    var keyset: KeysetPage { KeysetPage(limit: limit) }
}

/// A page's rows as they are read, the query having asked for one more than the page: the row
/// past the page is refused, and `next` then says where the next page starts.
struct KeysetPage {
    let limit: Int
    private(set) var next: String?
    private var taken = 0
    private var last: KeysetCursor?

    init(limit: Int) { self.limit = limit }

    /// True for a row of this page (its sort key is `key`); false for the one after it.
    mutating func take(_ key: KeysetCursor) -> Bool {
        guard taken < limit else {
            next = last?.description
            return false
        }
        taken += 1
        last = key
        return true
    }
}

/// Where a page of a keyset-paged list ends: the sort key of its last row (whole numbers,
/// then the row's id), written `n1_n2_…_uuid`. A page that starts after it never repeats or
/// skips a row, however many are added meanwhile.
struct KeysetCursor: CustomStringConvertible {
    var numbers: [Int64]
    var id: UUID

    init(_ numbers: [Int64], _ id: UUID) {
        self.numbers = numbers
        self.id = id
    }

    /// Before every row: the smallest key of `count` numbers.
    static func start(_ count: Int) -> KeysetCursor {
        KeysetCursor(Array(repeating: .min, count: count), UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)))
    }

    init(parsing text: String, numbers count: Int) throws {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        let numbers = parts.dropLast().compactMap { Int64($0) }
        guard parts.count == count + 1, numbers.count == count, let id = parts.last.flatMap({ UUID(uuidString: String($0)) }) else {
            throw Problem.invalid("'after' must be the 'next' value of a previous page")
        }
        self.init(numbers, id)
    }

    var description: String { (numbers.map(String.init) + [id.uuidString.lowercased()]).joined(separator: "_") }
}
