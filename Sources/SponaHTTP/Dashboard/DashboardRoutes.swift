import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaIdentity
import SponaProjections

/// `/dashboard`: the regional views as pages, for district analysts and the Center.
///
/// Every figure on a page comes from the API's own view tables (``ViewRoutes/tables()``),
/// built for the signed-in person exactly as for their API calls: the same districts, the
/// same suppression, the same read trail and query limits. A page only arranges and labels
/// them; it never adds up what the API shows separately, because a sum of shown cells can give
/// back a hidden one.
struct DashboardRoutes {
    let views: [String: ViewRoutes.Build]
    let geography: Geography
    let sessions: BrowserSessions
    let tokens: AccessTokens
    let identityProvider: IdentityProvider?
    let signIn: BrowserSignIn?
    /// How long a sign-in is taken on trust before the browser is sent back through the
    /// provider (silently while the provider's own session lives): a person disabled at the
    /// provider loses the dashboard within this time.
    var recheck: Duration = .seconds(600)

    static let pageHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-store",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        // No script at all; styles are the page's own; forms post only here.
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ]

    /// The session cookie: `__Host-` and Secure when the dashboard is served over https (its
    /// public address says), so that no other site or subdomain can set or read it; HttpOnly,
    /// SameSite=Lax (the provider's redirect back is a top-level GET).
    var secure: Bool { signIn?.settings.publicURL.scheme?.lowercased() == "https" }
    var sessionCookie: String { secure ? "__Host-spona-session" : "spona-session" }
    var signInCookie: String { secure ? "__Host-spona-sign-in" : "spona-sign-in" }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/; HttpOnly; SameSite=Lax; Max-Age=\(maxAge)\(secure ? "; Secure" : "")"
    }

    // MARK: Pages

    enum PageKind: String, CaseIterable {
        case overview = ""
        case municipality = "municipalities"
        case silent, trainings, flows, sectors, breakdowns, institutions
    }

    func register(on router: Router<SponaRequestContext>) {
        let group = router.group("dashboard")
        group.get { request, context in try await page(.overview, request, context) }
        group.get("municipalities/:municipality") { request, context in try await page(.municipality, request, context) }
        group.get("silent") { request, context in try await page(.silent, request, context) }
        group.get("trainings") { request, context in try await page(.trainings, request, context) }
        group.get("flows") { request, context in try await page(.flows, request, context) }
        group.get("sectors") { request, context in try await page(.sectors, request, context) }
        group.get("breakdowns") { request, context in try await page(.breakdowns, request, context) }
        group.get("institutions") { request, context in try await page(.institutions, request, context) }
        group.get("sign-in") { request, context in signInPage(request, message: nil) }
        group.get("sign-in/start") { request, context in try await startSignIn(request, context) }
        group.get("signed-in") { request, context in try await finishSignIn(request, context) }
        group.post("sign-out") { request, context in try await signOut(request, context) }
    }

    func language(_ request: Request) -> DashboardLanguage {
        DashboardLanguage.of(query: request.uri.queryParameters["lang"].map(String.init), cookie: request.cookies["spona-lang"]?.value)
    }

    /// The signed-in person's session and caller, if the cookie opens one.
    func signedIn(_ request: Request) async throws -> (BrowserSessions.Session, String, Caller)? {
        guard let token = request.cookies[sessionCookie]?.value, let session = try await sessions.session(token) else { return nil }
        // The institution is checked on every page, as for every API call: one deactivated
        // since the sign-in stops its staff at once.
        let found = try await tokens.admitPerson(
            id: session.personID,
            name: session.name,
            institution: session.institution,
            role: session.role,
            districts: session.districts
        )
        let caller = Caller(actor: found.actor, isCenter: found.actor.role == .coordinator && found.isCenter, districts: found.districts)
        return (session, token, caller)
    }

    func page(_ kind: PageKind, _ request: Request, _ context: SponaRequestContext) async throws -> Response {
        let language = language(request)
        let found: (BrowserSessions.Session, String, Caller)?
        do {
            found = try await signedIn(request)
        } catch is AccessTokens.Refusal {
            found = nil
        }
        guard let (session, _, caller) = found else {
            let back = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return Response(
                status: .seeOther,
                headers: [.location: "/dashboard/sign-in?lang=\(language.rawValue)&returnTo=\(Self.queryEscape(back))", .cacheControl: "no-store"]
            )
        }
        if signIn != nil, Date().timeIntervalSince1970 - session.verifiedAt > Double(recheck.components.seconds) {
            let back = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
            return Response(
                status: .seeOther,
                headers: [
                    .location: "/dashboard/sign-in/start?lang=\(language.rawValue)&returnTo=\(Self.queryEscape(back))", .cacheControl: "no-store",
                ]
            )
        }
        var context = context
        context.caller = caller
        var model = frame(request, language, path: kind, session: session, caller: caller)
        do {
            guard caller.actor.role == .analyst || caller.isCenter else {
                throw Problem.forbidden("the dashboard is for district analysts and the Center's coordinators")
            }
            let tables = try await self.tables(kind, request, context, language, caller, &model)
            if let format = request.uri.queryParameters["format"], format == "csv" {
                let id = request.uri.queryParameters["table"].map(String.init) ?? tables.first?.id ?? ""
                guard let table = tables.first(where: { $0.id == id }) else { throw Problem.invalid("no table '\(id)' on this page") }
                let separator: Character = request.uri.queryParameters["separator"] == "semicolon" ? ";" : ","
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "text/csv; charset=utf-8", .cacheControl: "no-store",
                        .contentDisposition: "attachment; filename=\"spona-\(id)-\(language.rawValue).csv\"",
                        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                    ],
                    body: .init(byteBuffer: ByteBuffer(string: table.csv(separator: separator)))
                )
            }
            model.blocks = tables.map { table in
                PageModel.Block(
                    id: table.id,
                    heading: table.heading,
                    chart: table.chart,
                    headers: table.headers,
                    body: table.bodyHTML(),
                    isEmpty: table.rows.isEmpty,
                    emptyText: language.say(.nothing),
                    csvComma: csvLink(request, table.id, language, semicolon: false),
                    csvSemicolon: csvLink(request, table.id, language, semicolon: true),
                    csvCommaLabel: language.say(.downloadCSV),
                    csvSemicolonLabel: language.say(.downloadCSVSemicolon)
                )
            }
            return DashboardTemplates.render(model, extraHeaders: languageCookie(request, language))
        } catch {
            let problem = Problem.from(error) ?? (DatabaseOutage.matches(error) ? Problem.databaseUnavailable : nil)
            guard let problem else { throw error }
            model.hasFilters = false
            model.heading = language.say(.errorTitle)
            model.message = problem.detail ?? problem.title
            model.isError = true
            return DashboardTemplates.render(model, status: problem.status, extraHeaders: problem.headers)
        }
    }

    /// Remembers a language chosen with `?lang=` (not personal, not a session).
    func languageCookie(_ request: Request, _ language: DashboardLanguage) -> HTTPFields {
        guard request.uri.queryParameters["lang"] != nil else { return [:] }
        return [.setCookie: "spona-lang=\(language.rawValue); Path=/dashboard; SameSite=Lax; Max-Age=31536000"]
    }

    func csvLink(_ request: Request, _ id: String, _ language: DashboardLanguage, semicolon: Bool) -> String {
        var items = request.uri.queryParameters.filter { Self.filters.contains(String($0.key)) }
            .map { (String($0.key), String($0.value)) }.sorted { $0.0 < $1.0 }
        items += [("lang", language.rawValue), ("format", "csv"), ("table", id)]
        if semicolon { items.append(("separator", "semicolon")) }
        return request.uri.path + "?" + items.map { "\(Self.queryEscape($0.0))=\(Self.queryEscape($0.1))" }.joined(separator: "&")
    }

    /// The filters a page understands and passes on (to its links, its CSV, another language).
    static let filters: Set<String> = ["district", "from", "to", "months", "dimension"]

    static func queryEscape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    /// The header, navigation and language switch of every page.
    func frame(
        _ request: Request,
        _ language: DashboardLanguage,
        path kind: PageKind?,
        session: BrowserSessions.Session?,
        caller: Caller?
    )
        -> PageModel
    {
        var model = PageModel(
            lang: language.rawValue,
            title: language.say(.dashboard),
            heading: language.say(.dashboard),
            path: request.uri.path,
            skip: language.say(.skip),
            languageLabel: language.say(.language),
            languages: DashboardLanguage.allCases.map { other in
                // Only the filters a page understands go on (and a return path only when it is
                // the dashboard's own): a link never carries whatever else a URL was given.
                var items = request.uri.queryParameters.filter { Self.filters.contains(String($0.key)) }
                    .map { (String($0.key), String($0.value)) }.sorted { $0.0 < $1.0 }
                if let back = request.uri.queryParameters["returnTo"] { items.append(("returnTo", Self.safeReturn(String(back)))) }
                items.append(("lang", other.rawValue))
                return PageModel.Link(
                    href: request.uri.path + "?" + items.map { "\(Self.queryEscape($0.0))=\(Self.queryEscape($0.1))" }.joined(separator: "&"),
                    label: other.ownName,
                    current: other == language,
                    code: other.rawValue
                )
            }
        )
        if let session, let caller {
            model.signedIn = true
            model.person = session.name ?? session.personID
            model.signedInAs = language.say(.signedInAs)
            model.signOut = language.say(.signOut)
            model.formToken = session.formToken
            var pages: [(PageKind, Phrase)] = [
                (.overview, .overview), (.breakdowns, .breakdowns), (.institutions, .institutions), (.silent, .silent),
                (.trainings, .trainings), (.flows, .flows),
            ]
            if caller.isCenter { pages.append((.sectors, .sectors)) }
            model.nav = pages.map { page, phrase in
                PageModel.Link(
                    href: "/dashboard" + (page == .overview ? "" : "/" + page.rawValue) + "?lang=\(language.rawValue)",
                    label: language.say(phrase),
                    current: page == kind
                )
            }
        }
        return model
    }

    // MARK: The pages' tables

    /// Runs one of the API's views for the signed-in person.
    func view(_ path: String, _ query: [String: String], _ context: SponaRequestContext, _ language: DashboardLanguage) async throws -> ViewTable {
        var items = query.sorted { $0.key < $1.key }.map { "\(Self.queryEscape($0.key))=\(Self.queryEscape($0.value))" }
        items.append("names=\(language.cyrillicNames ? "cyrillic" : "latin")")
        let head = HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/v1/\(path)?" + items.joined(separator: "&"))
        guard let build = views[path] else { throw Problem(.internalServerError, detail: "the dashboard asked for an unknown view") }
        return try await build(Request(head: head, body: .init(buffer: ByteBuffer())), context)
    }

    /// The query parameters a page passes on to its views (only those it understands).
    func passed(_ request: Request, _ names: [String]) -> [String: String] {
        var query: [String: String] = [:]
        for name in names {
            if let value = request.uri.queryParameters[Substring(name)], !value.isEmpty { query[name] = String(value) }
        }
        return query
    }

    static let metrics: [(key: String, phrase: Phrase)] = [
        ("reports", .reports), ("children", .children), ("highRisk", .highRisk), ("referralsSent", .referralsSent),
        ("identifiedVictims", .identifiedVictims), ("reportsByTrained", .reportsByTrained),
    ]

    func tables(
        _ kind: PageKind,
        _ request: Request,
        _ context: SponaRequestContext,
        _ language: DashboardLanguage,
        _ caller: Caller,
        _ model: inout PageModel
    ) async throws -> [DashboardTable] {
        let say = language.say
        func value(_ table: ViewTable, _ row: (kind: String, values: [ViewTable.Value]), _ column: String) -> ViewTable.Value? {
            table.columns.firstIndex(of: column).map { row.values[$0] }
        }
        func text(_ table: ViewTable, _ row: (kind: String, values: [ViewTable.Value]), _ column: String) -> String {
            if case .text(let text)? = value(table, row, column) { return text }
            return ""
        }
        func cell(_ table: ViewTable, _ row: (kind: String, values: [ViewTable.Value]), _ column: String) -> Disclosure.Cell {
            if case .cell(let cell)? = value(table, row, column) { return cell }
            return .count(0)
        }
        func figureCell(_ table: ViewTable, _ row: (kind: String, values: [ViewTable.Value]), _ column: String) -> DashboardTable.Cell {
            .figure(cell(table, row, column), language)
        }
        /// A place's (or the nation's) rows of the municipality view, month by month, with the
        /// reports as bars: the overview's and the municipality page's first table.
        func monthByMonth(_ table: ViewTable, _ rows: [(kind: String, values: [ViewTable.Value])]) -> DashboardTable {
            var months = DashboardTable(
                id: "months",
                heading: say(.figuresByMonth),
                headers: [.init(text: say(.month), numeric: false)] + Self.metrics.map { .init(text: say($0.phrase), numeric: true) }
            )
            for row in rows {
                months.rows.append(
                    .init(
                        cells: [.text(language.month(text(table, row, "month")), header: true)] + Self.metrics.map { figureCell(table, row, $0.key) }
                    )
                )
            }
            months.chart = BarChart(
                title: say(.reportsByMonth),
                bars: rows.map { .init(label: language.shortMonth(text(table, $0, "month")), cell: cell(table, $0, "reports")) }
            ).svg(formatted: language.number)
            return months
        }
        func noteSuppression(_ table: ViewTable) {
            if let threshold = table.suppressionThreshold {
                model.suppressionNote = String(format: say(.suppression), threshold, threshold - 1)
            }
        }
        /// The last twelve months up to this one where the request chose no period (and
        /// `through` too, where the view needs an end), shown in the page's period fields.
        func lastYearUnlessChosen(_ query: inout [String: String], through: Bool) {
            if query["from"] == nil {
                query["from"] = ViewRoutes.month(monthsBefore: 11)
                model.periodChoice?.from = query["from"]!
            }
            if through, query["to"] == nil {
                query["to"] = ViewRoutes.month(monthsBefore: 0)
                model.periodChoice?.to = query["to"]!
            }
        }
        func districtFilter(period: Bool) {
            model.hasFilters = true
            model.districtLabel = say(.district)
            model.fromLabel = say(.from)
            model.toLabel = say(.to)
            model.showLabel = say(.show)
            let chosen = request.uri.queryParameters["district"].map(String.init) ?? ""
            let mine = caller.isCenter ? geography.districts.map(\.code) : caller.districts
            var options = [PageModel.Option(value: "", label: caller.isCenter ? say(.allDistricts) : say(.yourDistricts), selected: chosen.isEmpty)]
            for code in mine {
                let name = geography.district(code).map { language.cyrillicNames ? $0.nameCyrillic : $0.nameLatin } ?? code.rawValue
                options.append(.init(value: code.rawValue, label: name, selected: chosen == code.rawValue))
            }
            model.districtChoice = .init(options: options)
            if period {
                model.periodChoice = .init(
                    from: request.uri.queryParameters["from"].map(String.init) ?? "",
                    to: request.uri.queryParameters["to"].map(String.init) ?? ""
                )
            }
        }
        func placeLink(_ code: String) -> String { "/dashboard/municipalities/\(Self.queryEscape(code))?lang=\(language.rawValue)" }

        switch kind {
        case .overview:
            model.heading = say(.overview)
            districtFilter(period: true)
            let table = try await view("views/municipalities", passed(request, ["district", "from", "to"]), context, language)
            noteSuppression(table)
            let district = request.uri.queryParameters["district"].map(String.init)
            // The scope's own rows: the nation for the Center, else the chosen (or first) district.
            let scope = district ?? (caller.isCenter ? nil : caller.districts.first?.rawValue)
            let scopeRows = table.rows.filter { row in
                scope == nil ? row.kind == "national" : row.kind == "district" && text(table, row, "district") == scope
            }
            if let scope, let place = geography.district(DistrictCode(rawValue: scope)) {
                model.heading = say(.overview) + " — " + (language.cyrillicNames ? place.nameCyrillic : place.nameLatin)
            } else {
                model.heading = say(.overview) + " — " + say(.national)
            }
            let months = monthByMonth(table, scopeRows)
            // Reports by place and month, each cell as the view shows it: districts for the
            // nation, municipalities and cities for a district.
            let placeKinds: Set<String> = scope == nil ? ["district"] : ["municipality", "city"]
            let placeRows = table.rows.filter { placeKinds.contains($0.kind) && (scope == nil || text(table, $0, "district") == scope) }
            let shownMonths = Array(Set(placeRows.map { text(table, $0, "month") }).sorted().suffix(12))
            var pivot = DashboardTable(
                id: "places",
                heading: say(.reportsByPlace),
                headers: [.init(text: say(.place), numeric: false)] + shownMonths.map { .init(text: language.shortMonth($0), numeric: true) }
            )
            var byPlace: [String: (name: String, kind: String, cells: [String: Disclosure.Cell])] = [:]
            for row in placeRows where shownMonths.contains(text(table, row, "month")) {
                let key = scope == nil ? text(table, row, "district") : text(table, row, "municipality")
                var entry = byPlace[key] ?? (text(table, row, "name"), row.kind, [:])
                entry.cells[text(table, row, "month")] = cell(table, row, "reports")
                byPlace[key] = entry
            }
            for (code, entry) in byPlace.sorted(by: { $0.value.name < $1.value.name }) {
                let header: DashboardTable.Cell =
                    scope == nil
                    ? .text(entry.name, header: true, href: "/dashboard?district=\(Self.queryEscape(code))&lang=\(language.rawValue)")
                    : .text(entry.name, header: true, href: placeLink(code))
                pivot.rows.append(.init(cells: [header] + shownMonths.map { .figure(entry.cells[$0] ?? .count(0), language) }))
            }
            /// The districts' period totals (the API's period view) as a table, drawn as a map.
            func districtMap(_ periodTable: ViewTable, heading: String) -> DashboardTable {
                var districts = DashboardTable(
                    id: "district-map",
                    heading: heading,
                    headers: [.init(text: say(.district), numeric: false), .init(text: say(.reports), numeric: true)]
                )
                let rows = periodTable.rows.filter { $0.kind == "district" }
                var shown: [String: Disclosure.Cell] = [:]
                for row in rows {
                    shown[text(periodTable, row, "district")] = cell(periodTable, row, "reports")
                    districts.rows.append(
                        .init(cells: [.text(text(periodTable, row, "name"), header: true), figureCell(periodTable, row, "reports")])
                    )
                }
                let mine = Set(caller.isCenter ? geography.districts.map(\.code) : caller.districts)
                districts.chart = DistrictMap(
                    title: heading,
                    note: say(.mapNote),
                    tiles: geography.districts.map { district in
                        DistrictMap.Tile(
                            district: district.code,
                            name: language.cyrillicNames ? district.nameCyrillic : district.nameLatin,
                            cell: mine.contains(district.code) ? shown[district.code.rawValue] ?? .count(0) : nil
                        )
                    }
                ).svg(formatted: language.number)
                return districts
            }
            guard request.uri.queryParameters["from"] != nil, request.uri.queryParameters["to"] != nil else {
                guard scope == nil else { return [months, pivot] }
                // The nation: where reports came from in the last twelve months, on a map.
                let lastYear = try await view(
                    "views/periods",
                    ["from": ViewRoutes.month(monthsBefore: 11), "to": ViewRoutes.month(monthsBefore: 0)],
                    context,
                    language
                )
                return [months, pivot, districtMap(lastYear, heading: say(.reportsByDistrictLastYear))]
            }
            // With a period chosen, its totals per place as the API's period view gives them
            // (shown whenever large enough, even when each month is "<5").
            let periodTable = try await view("views/periods", passed(request, ["district", "from", "to"]), context, language)
            var totals = DashboardTable(
                id: "period",
                heading: say(.periodTotals),
                headers: [.init(text: say(.place), numeric: false)] + Self.metrics.map { .init(text: say($0.phrase), numeric: true) }
            )
            let totalKinds: Set<String> = scope == nil ? ["district", "national"] : ["municipality", "city", "district"]
            for row in periodTable.rows where totalKinds.contains(row.kind) && (scope == nil || text(periodTable, row, "district") == scope) {
                totals.rows.append(
                    .init(cells: [.text(text(periodTable, row, "name"), header: true)] + Self.metrics.map { figureCell(periodTable, row, $0.key) })
                )
            }
            return scope == nil ? [months, pivot, totals, districtMap(periodTable, heading: say(.reportsByDistrict))] : [months, pivot, totals]

        case .municipality:
            let code = try context.parameters.require("municipality")
            guard let place = geography.municipality(MunicipalityCode(rawValue: code)) else {
                throw Problem(.notFound, title: "Not found", detail: "'\(code)' is not a municipality code")
            }
            let name = language.cyrillicNames ? place.nameCyrillic : place.nameLatin
            model.heading = name
            var query = passed(request, ["from", "to"])
            query["municipality"] = code
            let table = try await view("views/municipalities", query, context, language)
            noteSuppression(table)
            // The place's own row, or its city's row (the city and its city municipalities).
            let rows = table.rows.filter { ($0.kind == "municipality" || $0.kind == "city") && text(table, $0, "municipality") == code }
            let ownKind = rows.contains { $0.kind == "city" } ? "city" : "municipality"
            let own = rows.filter { $0.kind == ownKind }
            let months = monthByMonth(table, own)
            // The same months' referrals and identifications as lines, in a table of their own.
            var trend = DashboardTable(
                id: "trend",
                heading: say(.referralsAndVictims),
                headers: [
                    .init(text: say(.month), numeric: false), .init(text: say(.referralsSent), numeric: true),
                    .init(text: say(.identifiedVictims), numeric: true),
                ]
            )
            for row in own {
                trend.rows.append(
                    .init(cells: [
                        .text(language.month(text(table, row, "month")), header: true), figureCell(table, row, "referralsSent"),
                        figureCell(table, row, "identifiedVictims"),
                    ])
                )
            }
            trend.chart = LineChart(
                title: say(.referralsAndVictims),
                labels: own.map { language.shortMonth(text(table, $0, "month")) },
                series: [
                    .init(name: say(.referralsSent), cells: own.map { cell(table, $0, "referralsSent") }, colour: "#0b5cad", dash: "none"),
                    .init(name: say(.identifiedVictims), cells: own.map { cell(table, $0, "identifiedVictims") }, colour: "#a4262c", dash: "6 3"),
                ]
            ).svg(formatted: language.number)
            return [months, trend]

        case .silent:
            model.heading = say(.silent)
            districtFilter(period: false)
            let months = Int(request.uri.queryParameters["months"] ?? "6") ?? 6
            var query = passed(request, ["district"])
            query["months"] = String(months)
            let table = try await view("views/silent", query, context, language)
            model.intro = String(format: say(.silentIntro), months)
            var silent = DashboardTable(
                id: "silent",
                heading: say(.silent),
                headers: [
                    .init(text: say(.name), numeric: false), .init(text: say(.district), numeric: false),
                    .init(text: say(.lastReport), numeric: false),
                ]
            )
            for row in table.rows {
                let district =
                    geography.district(DistrictCode(rawValue: text(table, row, "district")))
                    .map { language.cyrillicNames ? $0.nameCyrillic : $0.nameLatin } ?? ""
                let last = text(table, row, "lastReport")
                silent.rows.append(
                    .init(cells: [
                        .text(text(table, row, "name"), header: true, href: placeLink(text(table, row, "municipality"))), .text(district),
                        .text(last.isEmpty ? say(.hidden) : last == "never" ? say(.never) : language.month(last)),
                    ])
                )
            }
            return [silent]

        case .trainings:
            model.heading = say(.trainingImpact)
            districtFilter(period: false)
            let table = try await view("views/trainings", passed(request, ["district"]), context, language)
            noteSuppression(table)
            var impact = DashboardTable(
                id: "training-impact",
                heading: say(.trainingImpact),
                headers: [
                    .init(text: say(.name), numeric: false), .init(text: say(.trainingsCount), numeric: true),
                    .init(text: say(.participants), numeric: true), .init(text: say(.firstTraining), numeric: false),
                    .init(text: say(.reportsBefore), numeric: true), .init(text: say(.reportsAfter), numeric: true),
                    .init(text: say(.reportsByTrained), numeric: true),
                ]
            )
            for row in table.rows {
                impact.rows.append(
                    .init(cells: [
                        .text(text(table, row, "name"), header: true, href: placeLink(text(table, row, "municipality"))),
                        figureCell(table, row, "trainings"), figureCell(table, row, "participants"),
                        .text(language.month(text(table, row, "firstTraining"))), figureCell(table, row, "reportsBefore"),
                        figureCell(table, row, "reportsAfter"), figureCell(table, row, "reportsByTrained"),
                    ])
                )
            }
            let list = try await view("views/trainings/list", passed(request, ["district"]), context, language)
            var trainings = DashboardTable(
                id: "trainings",
                heading: say(.trainingList),
                headers: [
                    .init(text: say(.heldOn), numeric: false), .init(text: say(.host), numeric: false),
                    .init(text: say(.participants), numeric: true), .init(text: say(.forPlaces), numeric: false),
                ]
            )
            for row in list.rows {
                trainings.rows.append(
                    .init(cells: [
                        .text(language.date(text(list, row, "heldOn")), header: true), .text(text(list, row, "hostName")),
                        figureCell(list, row, "participants"), .text(text(list, row, "places")),
                    ])
                )
            }
            return [impact, trainings]

        case .flows:
            model.heading = say(.flows)
            districtFilter(period: true)
            // A year unless asked otherwise: every flow of the whole history is a page nobody
            // reads (and the slowest there is).
            var query = passed(request, ["district", "from", "to"])
            lastYearUnlessChosen(&query, through: false)
            let table = try await view("views/flows/places", query, context, language)
            noteSuppression(table)
            var flows = DashboardTable(
                id: "place-flows",
                heading: say(.placeFlows),
                headers: [
                    .init(text: say(.month), numeric: false), .init(text: say(.fromPlace), numeric: false),
                    .init(text: say(.toPlace), numeric: false), .init(text: say(.cases), numeric: true),
                ]
            )
            for row in table.rows {
                flows.rows.append(
                    .init(cells: [
                        .text(language.month(text(table, row, "month")), header: true), .text(text(table, row, "fromName")),
                        .text(text(table, row, "toName")), figureCell(table, row, "cases"),
                    ])
                )
            }
            return [flows]

        case .breakdowns:
            model.heading = say(.breakdowns)
            districtFilter(period: true)
            let dimension = request.uri.queryParameters["dimension"].flatMap { Breakdown.Dimension(rawValue: String($0)) } ?? .gender
            model.dimensionLabel = say(.breakdownBy)
            model.dimensionChoice = .init(
                options: Breakdown.Dimension.allCases.map {
                    .init(value: $0.rawValue, label: language.name(dimension: $0), selected: $0 == dimension)
                }
            )
            // A year up to this month unless asked otherwise: what an annual report cites.
            var query = passed(request, ["district", "from", "to"])
            query["dimension"] = dimension.rawValue
            lastYearUnlessChosen(&query, through: true)
            let table = try await view("views/breakdowns", query, context, language)
            noteSuppression(table)
            let values = dimension.values
            var breakdown = DashboardTable(
                id: "breakdown-" + dimension.rawValue,
                heading: language.name(dimension: dimension),
                headers: [.init(text: say(.place), numeric: false)]
                    + values.map { .init(text: language.name(value: $0, of: dimension), numeric: true) }
            )
            for row in table.rows {
                let name = text(table, row, "name")
                let code = text(table, row, "municipality")
                let header: DashboardTable.Cell =
                    row.kind == "municipality" ? .text(name, header: true, href: placeLink(code)) : .text(name, header: true)
                breakdown.rows.append(.init(cells: [header] + values.map { figureCell(table, row, $0) }))
            }
            // The widest total the person sees, value by value: the nation, else their first district.
            if let total = table.rows.first(where: { $0.kind == "national" }) ?? table.rows.first(where: { $0.kind == "district" }) {
                breakdown.chart = BarChart(
                    title: language.name(dimension: dimension) + " — " + text(table, total, "name"),
                    bars: values.map { .init(label: language.name(value: $0, of: dimension), cell: cell(table, total, $0)) }
                ).svg(formatted: language.number)
            }
            return [breakdown]

        case .institutions:
            model.heading = say(.institutions)
            districtFilter(period: true)
            // A year up to this month unless asked otherwise.
            var query = passed(request, ["district", "from", "to"])
            lastYearUnlessChosen(&query, through: true)
            let table = try await view("views/institutions/periods", query, context, language)
            noteSuppression(table)
            var institutions = DashboardTable(
                id: "institutions",
                heading: say(.reportsByInstitution),
                headers: [
                    .init(text: say(.name), numeric: false), .init(text: say(.sector), numeric: false),
                    .init(text: say(.place), numeric: false), .init(text: say(.reports), numeric: true),
                ]
            )
            for row in table.rows {
                let code = text(table, row, "municipality")
                let place =
                    geography.municipality(MunicipalityCode(rawValue: code)).map { language.cyrillicNames ? $0.nameCyrillic : $0.nameLatin } ?? ""
                institutions.rows.append(
                    .init(cells: [
                        .text(text(table, row, "name"), header: true),
                        .text(Sector(rawValue: text(table, row, "sector")).map { language.name($0) } ?? ""),
                        code.isEmpty ? .text("") : .text(place, href: placeLink(code)), figureCell(table, row, "reports"),
                    ])
                )
            }
            return [institutions]

        case .sectors:
            model.heading = say(.sectors)
            let table = try await view("views/sectors", passed(request, ["from", "to"]), context, language)
            var sectors = DashboardTable(
                id: "sectors",
                heading: say(.sectorFigures),
                headers: [
                    .init(text: say(.month), numeric: false), .init(text: say(.sector), numeric: false),
                    .init(text: say(.reports), numeric: true), .init(text: say(.referralsSent), numeric: true),
                    .init(text: say(.referralsReceived), numeric: true),
                ]
            )
            func sectorName(_ code: String) -> String { Sector(rawValue: code).map { language.name($0) } ?? code }
            for row in table.rows {
                sectors.rows.append(
                    .init(cells: [
                        .text(language.month(text(table, row, "month")), header: true), .text(sectorName(text(table, row, "sector"))),
                        figureCell(table, row, "reports"), figureCell(table, row, "referralsSent"), figureCell(table, row, "referralsReceived"),
                    ])
                )
            }
            let flowTable = try await view("views/flows/sectors", passed(request, ["from", "to"]), context, language)
            var flows = DashboardTable(
                id: "sector-flows",
                heading: say(.sectorFlows),
                headers: [
                    .init(text: say(.month), numeric: false), .init(text: say(.fromSector), numeric: false),
                    .init(text: say(.toSector), numeric: false), .init(text: say(.referrals), numeric: true),
                    .init(text: say(.declinedReferrals), numeric: true),
                ]
            )
            for row in flowTable.rows {
                flows.rows.append(
                    .init(cells: [
                        .text(language.month(text(flowTable, row, "month")), header: true), .text(sectorName(text(flowTable, row, "fromSector"))),
                        .text(sectorName(text(flowTable, row, "toSector"))), figureCell(flowTable, row, "referrals"),
                        figureCell(flowTable, row, "declined"),
                    ])
                )
            }
            let waitingTable = try await view("views/referrals/waiting", [:], context, language)
            var waiting = DashboardTable(
                id: "waiting",
                heading: say(.waitingReferrals),
                headers: [
                    .init(text: say(.fromSector), numeric: false), .init(text: say(.toSector), numeric: false),
                    .init(text: say(.openReferrals), numeric: true), .init(text: say(.overdueReferrals), numeric: true),
                ]
            )
            for row in waitingTable.rows {
                waiting.rows.append(
                    .init(cells: [
                        .text(sectorName(text(waitingTable, row, "fromSector")), header: true),
                        .text(sectorName(text(waitingTable, row, "toSector"))), figureCell(waitingTable, row, "open"),
                        figureCell(waitingTable, row, "overdue"),
                    ])
                )
            }
            return [waiting, sectors, flows]
        }
    }

    // MARK: Signing in and out

    func signInPage(_ request: Request, message: String?, status: HTTPResponse.Status = .ok) -> Response {
        let language = language(request)
        var model = frame(request, language, path: nil, session: nil, caller: nil)
        guard signIn != nil, identityProvider != nil else {
            model.heading = language.say(.notConfiguredTitle)
            model.message = language.say(.notConfiguredText)
            return DashboardTemplates.render(model, status: message == nil ? .ok : status)
        }
        model.heading = language.say(.signInTitle)
        model.intro = language.say(.signInText)
        if let message {
            model.message = message
            model.isError = status != .ok
        } else if request.uri.queryParameters["signedOut"] != nil {
            model.message = language.say(.signedOut)
        }
        let back = Self.safeReturn(request.uri.queryParameters["returnTo"].map(String.init))
        model.signInURL = "/dashboard/sign-in/start?lang=\(language.rawValue)&returnTo=\(Self.queryEscape(back))"
        model.signInLabel = language.say(.signInWith)
        return DashboardTemplates.render(model, status: status, extraHeaders: languageCookie(request, language))
    }

    /// Only a path of the dashboard itself: a sign-in never sends a browser to another site.
    static func safeReturn(_ path: String?) -> String {
        guard let path, path.hasPrefix("/dashboard"), !path.hasPrefix("//"), !path.contains("\\"),
            !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return "/dashboard" }
        return path
    }

    func startSignIn(_ request: Request, _ context: SponaRequestContext) async throws -> Response {
        guard let signIn else { return signInPage(request, message: nil) }
        let language = language(request)
        let state = BrowserSessions.randomToken()
        let verifier = BrowserSessions.randomToken()
        try await sessions.begin(
            state: state,
            .init(verifier: verifier, returnTo: Self.safeReturn(request.uri.queryParameters["returnTo"].map(String.init)))
        )
        let target = signIn.authorizationRedirect(state: state, verifier: verifier, language: language.rawValue)
        return Response(
            status: .seeOther,
            headers: [.location: target.absoluteString, .setCookie: cookie(signInCookie, state, maxAge: 600), .cacheControl: "no-store"]
        )
    }

    func finishSignIn(_ request: Request, _ context: SponaRequestContext) async throws -> Response {
        guard let signIn, let identityProvider else { return signInPage(request, message: nil) }
        let language = language(request)
        let query = request.uri.queryParameters
        if let error = query["error"] {
            let word = error.allSatisfy { $0.isLetter || $0 == "_" } ? String(error) : "error"
            AuthenticationMiddleware.countFailure(kind: "browser")
            return signInPage(request, message: BrowserSignIn.Failure.providerRefused(word).description, status: .unauthorized)
        }
        // The state must be the one this browser was given (its cookie) and still pending:
        // a link from someone else cannot sign this browser in as them.
        guard let state = query["state"].map(String.init), let code = query["code"].map(String.init), !code.isEmpty,
            request.cookies[signInCookie]?.value == state, let pending = try await sessions.finish(state: state)
        else {
            AuthenticationMiddleware.countFailure(kind: "browser")
            return signInPage(request, message: "this sign-in is not this browser's, or it has expired; sign in again", status: .badRequest)
        }
        let person: SignedInPerson
        do {
            let accessToken = try await signIn.exchange(code: code, verifier: pending.verifier)
            person = try await identityProvider.signIn(accessToken)
        } catch let failure as BrowserSignIn.Failure {
            AuthenticationMiddleware.countFailure(kind: "browser")
            return signInPage(request, message: failure.description, status: .unauthorized)
        } catch let refusal as SignInRefusal {
            AuthenticationMiddleware.countFailure(kind: "browser")
            return signInPage(request, message: refusal.description, status: .unauthorized)
        }
        do {
            _ = try await tokens.admitPerson(
                id: person.actorID,
                name: person.name,
                institution: person.institution,
                role: person.role,
                districts: person.districts
            )
        } catch let refusal as AccessTokens.Refusal {
            AuthenticationMiddleware.countFailure(kind: "browser")
            return signInPage(request, message: refusal.description, status: .unauthorized)
        }
        // A sign-in again (the re-check) replaces the browser's earlier session.
        if let earlier = request.cookies[sessionCookie]?.value { try await sessions.close(earlier) }
        let token = try await sessions.open(
            .init(
                personID: person.actorID,
                name: person.name,
                institution: person.institution,
                role: person.role,
                districts: person.districts,
                formToken: BrowserSessions.randomToken()
            )
        )
        var headers: HTTPFields = [
            .location: pending.returnTo.contains("lang=")
                ? pending.returnTo : pending.returnTo + (pending.returnTo.contains("?") ? "&" : "?") + "lang=\(language.rawValue)",
            .cacheControl: "no-store",
        ]
        headers.append(.init(name: .setCookie, value: cookie(sessionCookie, token, maxAge: Int(sessions.lifetime.components.seconds))))
        headers.append(.init(name: .setCookie, value: cookie(signInCookie, "", maxAge: 0)))
        return Response(status: .seeOther, headers: headers)
    }

    func signOut(_ request: Request, _ context: SponaRequestContext) async throws -> Response {
        let language = language(request)
        let body = try await request.body.collect(upTo: 4096)
        let form = String(buffer: body).split(separator: "&").reduce(into: [String: String]()) { fields, pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        // Only the page's own form may sign out (its token is the session's, never in a cookie).
        if let (session, token, _) = try? await signedIn(request), form["form"] == session.formToken {
            try await sessions.close(token)
        } else if request.cookies[sessionCookie] != nil {
            return signInPage(request, message: "the sign-out did not come from this dashboard's page", status: .forbidden)
        }
        var headers: HTTPFields = [.location: "/dashboard/sign-in?signedOut=1&lang=\(language.rawValue)", .cacheControl: "no-store"]
        headers.append(.init(name: .setCookie, value: cookie(sessionCookie, "", maxAge: 0)))
        return Response(status: .seeOther, headers: headers)
    }
}
