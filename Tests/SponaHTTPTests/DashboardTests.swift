import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaIdentity
import SponaTestSupport
import Testing

@testable import SponaHTTP

/// A browser as far as the dashboard is concerned: cookies kept, redirects followed by hand
/// (to the identity provider, a real HTTP server, and back).
struct Browser {
    let api: APIHarness
    var cookies: [String: String] = [:]

    var cookieHeader: HTTPFields {
        var fields = HTTPFields()
        if !cookies.isEmpty { fields[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ") }
        return fields
    }

    mutating func keep(_ reply: Reply) {
        for line in reply.headers[values: .setCookie] {
            let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { cookies[pair[0]] = pair[1].isEmpty ? nil : pair[1] }
        }
    }

    mutating func get(_ path: String) async throws -> Reply {
        let reply = try await api.send(.get, path, token: nil, contentType: nil, headers: cookieHeader)
        keep(reply)
        return reply
    }

    mutating func post(_ path: String, form: String) async throws -> Reply {
        let reply = try await api.send(.post, path, token: nil, raw: form, contentType: "application/x-www-form-urlencoded", headers: cookieHeader)
        keep(reply)
        return reply
    }

    /// Signs in through the provider as whoever it signs in next; answers the last reply.
    mutating func signIn(returnTo: String = "/dashboard") async throws -> Reply {
        let start = try await get("/dashboard/sign-in/start?returnTo=\(DashboardRoutes.queryEscape(returnTo))")
        #expect(start.status == .seeOther)
        let atProvider = try #require(start.location)
        #expect(atProvider.contains("code_challenge_method=S256") && atProvider.contains("client_id=spona-web"))
        let back = try await Self.visitProvider(atProvider)
        let components = try #require(URLComponents(string: back))
        return try await get(components.path + "?" + (components.percentEncodedQuery ?? ""))
    }

    /// Follows the provider's page: answers where it sends the browser back to.
    static func visitProvider(_ url: String) async throws -> String {
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            let location = response.headers.first(name: "Location") ?? ""
            try await client.shutdown()
            return location
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

@Suite("The dashboard")
struct DashboardTests {
    static let publicURL = URL(string: "https://spona.test")!

    @Test("an analyst signs in through the provider and sees their district only, small counts as the API shows them")
    func analystSignsIn() async throws {
        try await TestIdentityProvider.run { provider in
            try await APIHarness.run(people: provider, configure: { $0.browserSignIn = provider.browserSignIn(publicURL: Self.publicURL) }) { api in
                _ = try await Network.withSmallCounts(api)
                var browser = Browser(api: api)
                // Not signed in: sent to the sign-in page, which offers the provider and no token field.
                let first = try await browser.get("/dashboard?lang=sr-Latn")
                #expect(first.status == .seeOther)
                let signInPage = try await browser.get(try #require(first.location))
                #expect(signInPage.status == .ok)
                #expect(signInPage.text.contains("/dashboard/sign-in/start") && !signInPage.text.contains("<input type=\"password\""))
                #expect(!signInPage.text.lowercased().contains("token\" name"))

                provider.signInNext(subject: "ana-7", name: "Ana Anić", institution: .center, role: .analyst, districts: ["RS-21"])
                let back = try await browser.signIn(returnTo: "/dashboard?lang=sr-Latn")
                #expect(back.status == .seeOther, "\(back.text)")
                #expect(back.location == "/dashboard?lang=sr-Latn")
                let setCookie = back.headers[values: .setCookie].first { $0.hasPrefix("__Host-spona-session=") } ?? ""
                for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] { #expect(setCookie.contains(attribute), "\(setCookie)") }

                let page = try await browser.get("/dashboard?lang=sr-Latn")
                #expect(page.status == .ok, "\(page.text)")
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.headers[.cacheControl] == "no-store")
                #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
                #expect(page.text.contains("Ana Anić"))
                #expect(page.text.contains("Toplički upravni okrug"))
                #expect(page.text.contains("Blace"))
                // Blace's 2 reports: "<5" as in the API, never 2; no other district anywhere.
                #expect(page.text.contains("&lt;5"))
                let blaceRow = try #require(page.text.components(separatedBy: "<tr>").first { $0.contains(">Blace<") })
                #expect(blaceRow.contains("&lt;5") && !blaceRow.contains(">2<"), "\(blaceRow)")
                for other in ["Nišavski", "Grad Beograd", "Srbija —", "Pčinjski"] { #expect(!page.text.contains(other), "\(other)") }
                // Another district by hand: refused as by the API.
                let elsewhere = try await browser.get("/dashboard?district=RS-20&lang=sr-Latn")
                #expect(elsewhere.status == .forbidden)
                #expect(!elsewhere.text.contains("<table") && !elsewhere.text.contains("Nišavski"), "a refusal shows no figures")
                // Every page of an analyst answers; the Center's sectors are refused.
                for path in ["/dashboard/silent", "/dashboard/trainings", "/dashboard/flows", "/dashboard/municipalities/prokuplje"] {
                    #expect(try await browser.get(path).status == .ok, "\(path)")
                }
                #expect(try await browser.get("/dashboard/sectors").status == .forbidden)
                #expect(try await browser.get("/dashboard/municipalities/nis").status == .forbidden)

                // The script switch changes every name.
                let cyrillic = try await browser.get("/dashboard?lang=sr-Cyrl")
                #expect(cyrillic.text.contains("Топлички управни округ") && cyrillic.text.contains("Блаце"))
                #expect(!cyrillic.text.contains("Toplički") && !cyrillic.text.contains(">Blace<"))
                #expect(cyrillic.text.contains("<html lang=\"sr-Cyrl\">"))
                let english = try await browser.get("/dashboard?lang=en")
                #expect(english.text.contains("Reports by municipality and month"))
                // A chosen period adds its totals, as the API's period view gives them.
                let month = String(ISO8601DateFormatter().string(from: Date()).prefix(7))
                let period = try await browser.get("/dashboard?lang=en&from=2020-01&to=\(month)")
                #expect(period.status == .ok)
                let totals = try #require(period.text.components(separatedBy: "Totals for the chosen period").last)
                #expect(totals.contains(">Blace<") && totals.contains("&lt;5"), "\(totals.prefix(2000))")

                // CSV for Excel: BOM, semicolons, headers in the page's language, a file name.
                let csv = try await browser.get("/dashboard?lang=sr-Latn&format=csv&table=places&separator=semicolon")
                #expect(csv.status == .ok)
                #expect(csv.body.prefix(3) == Data([0xEF, 0xBB, 0xBF]))
                #expect(csv.headers[.contentDisposition] == "attachment; filename=\"spona-places-sr-Latn.csv\"")
                let lines = String(decoding: csv.body.dropFirst(3), as: UTF8.self).split(separator: "\r\n").map(String.init)
                #expect(lines.first?.hasPrefix("Mesto;") == true, "\(lines)")
                #expect(lines.contains { $0.hasPrefix("Blace;") && $0.contains("<5") && !$0.contains(";2") }, "\(lines)")

                // Signing out needs the page's form token; then the cookie opens nothing.
                #expect(try await browser.post("/dashboard/sign-out", form: "form=forged").status == .forbidden)
                #expect(try await browser.get("/dashboard").status == .ok)
                let token = try #require(
                    page.text.components(separatedBy: "name=\"form\" value=\"").dropFirst().first?.prefix { $0 != "\"" }
                )
                let stolen = browser.cookies
                let out = try await browser.post("/dashboard/sign-out", form: "form=\(token)")
                #expect(out.status == .seeOther)
                browser.cookies = stolen
                #expect(try await browser.get("/dashboard").status == .seeOther)
            }
        }
    }

    /// `spona_authentication_failures_total{kind="browser"}` as `/metrics` gives it (0 before any).
    static func browserFailures(_ api: APIHarness) async throws -> Double {
        let text = try await api.send(.get, "/metrics", token: nil).text
        let line = text.split(separator: "\n").first { $0.hasPrefix("spona_authentication_failures_total{kind=\"browser\"}") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
    }

    @Test("a sign-in completes only in the browser that began it, once, and only for staff the network admits")
    func signInIsBoundToTheBrowser() async throws {
        try await TestIdentityProvider.run { provider in
            try await APIHarness.run(people: provider, configure: { $0.browserSignIn = provider.browserSignIn(publicURL: Self.publicURL) }) { api in
                // An attacker begins a sign-in and sends the victim the link back from the provider.
                var attacker = Browser(api: api)
                provider.signInNext(subject: "mallory", name: "Mallory", institution: .center, role: .analyst, districts: ["RS-21"])
                let browserFailures = try await Self.browserFailures(api)
                let start = try await attacker.get("/dashboard/sign-in/start")
                let stateCookie = try #require(attacker.cookies["__Host-spona-sign-in"])
                let back = try await Browser.visitProvider(try #require(start.location))
                let components = try #require(URLComponents(string: back))
                var victim = Browser(api: api)
                let refused = try await victim.get(components.path + "?" + (components.percentEncodedQuery ?? ""))
                #expect(refused.status == .badRequest)
                #expect(victim.cookies.isEmpty)
                // Counted as a refused sign-in, beside refused tokens.
                #expect(try await Self.browserFailures(api) >= browserFailures + 1)
                // In the browser that began it, it signs in, once: the same link again is refused.
                let own = try await attacker.get(components.path + "?" + (components.percentEncodedQuery ?? ""))
                #expect(own.status == .seeOther)
                attacker.cookies["__Host-spona-sign-in"] = stateCookie
                let replay = try await attacker.get(components.path + "?" + (components.percentEncodedQuery ?? ""))
                #expect(replay.status == .badRequest)

                // A reporter is signed in but the dashboard is not theirs.
                let admin = try await api.token(.center, .admin)
                let school = try await api.register("OŠ Test", sector: .education, municipality: "blace", admin: admin)
                provider.signInNext(subject: "rita", name: "Rita", institution: school, role: .reporter)
                var reporter = Browser(api: api)
                #expect(try await reporter.signIn().status == .seeOther)
                #expect(try await reporter.get("/dashboard").status == .forbidden)

                // An institution nobody registered: no session at all.
                provider.signInNext(subject: "x", name: "X", institution: InstitutionID(rawValue: UUID()), role: .analyst, districts: ["RS-21"])
                var stranger = Browser(api: api)
                #expect(try await stranger.signIn().status == .unauthorized)
                #expect(stranger.cookies["__Host-spona-session"] == nil)

                // A sign-in older than the re-check interval goes back through the provider, which
                // vouches again (here: for the same analyst) and the earlier session ends.
                provider.signInNext(subject: "ana-7", name: "Ana Anić", institution: .center, role: .analyst, districts: ["RS-21"])
                var ana = Browser(api: api)
                #expect(try await ana.signIn().status == .seeOther)
                let first = try #require(ana.cookies["__Host-spona-session"])
                var session = try #require(try await BrowserSessions(client: api.db.app, logger: api.db.logger).session(first))
                session.verifiedAt -= 3600
                try await api.db.owner.query(
                    "UPDATE browser_sessions SET data = \(String(decoding: try JSONEncoder().encode(session), as: UTF8.self))::jsonb WHERE kind = 'signed_in'",
                    logger: api.db.logger
                )
                let stale = try await ana.get("/dashboard/silent?lang=en")
                #expect(stale.status == .seeOther)
                #expect(
                    stale.location?.hasPrefix("/dashboard/sign-in/start?lang=en&returnTo=%2Fdashboard%2Fsilent") == true,
                    "\(stale.location ?? "")"
                )
                provider.signInNext(subject: "ana-7", name: "Ana Anić", institution: .center, role: .analyst, districts: ["RS-21"])
                let again = try await ana.signIn(returnTo: "/dashboard/silent?lang=en")
                #expect(again.status == .seeOther && again.location == "/dashboard/silent?lang=en")
                #expect(try await ana.get("/dashboard/silent?lang=en").status == .ok)
                #expect(try await BrowserSessions(client: api.db.app, logger: api.db.logger).session(first) == nil)

                // Never anywhere but the dashboard after signing in.
                #expect(DashboardRoutes.safeReturn("https://evil.example/") == "/dashboard")
                #expect(DashboardRoutes.safeReturn("//evil.example/dashboard") == "/dashboard")
                #expect(DashboardRoutes.safeReturn("/dashboard/silent?lang=en") == "/dashboard/silent?lang=en")
            }
        }
    }

    @Test("without browser sign-in set up, the dashboard explains how to set it up and asks for no token")
    func notConfigured() async throws {
        try await APIHarness.run { api in
            var browser = Browser(api: api)
            let page = try await browser.get("/dashboard/sign-in?lang=en")
            #expect(page.status == .ok)
            #expect(page.text.contains("SPONA_DASHBOARD_URL"))
            #expect(!page.text.contains("<input"))
            #expect(try await browser.get("/dashboard").status == .seeOther)
        }
    }

    @Test("Serbian in Cyrillic is Serbian in Latin letter for letter; numbers and months the Serbian way")
    func language() {
        #expect(DashboardLanguage.cyrillic("Ljubljana, Njegoš, Džervin, đak, Šabac") == "Љубљана, Његош, Џервин, ђак, Шабац")
        #expect(
            DashboardLanguage.cyrillic("Preuzmi CSV (za Excel); postavite SPONA_DASHBOARD_URL")
                == "Преузми CSV (за Excel); поставите SPONA_DASHBOARD_URL"
        )
        #expect(DashboardLanguage.latin.number(1_234_567) == "1.234.567")
        #expect(DashboardLanguage.english.number(1234) == "1,234")
        #expect(DashboardLanguage.cyrillic.month("2026-11") == "новембар 2026.")
        #expect(DashboardLanguage.english.month("2026-03") == "March 2026")
        var table = DashboardTable(id: "t", heading: "h", headers: [.init(text: "Naziv", numeric: false), .init(text: "Prijave", numeric: true)])
        table.rows = [.init(cells: [.text("=HYPERLINK(\"x\")"), .figure(.small(threshold: 5), .latin)])]
        // A hidden count breaks the line and is marked "<5" on the axis; shown values are drawn.
        let line = LineChart(
            title: "t",
            labels: ["01", "02", "03"],
            series: [.init(name: "s", cells: [.count(7), .small(threshold: 5), .count(9)], colour: "#000", dash: "none")]
        ).svg(formatted: String.init)
        #expect(line.components(separatedBy: "<path").count == 3, "two pieces, none through the hidden month")
        #expect(line.contains("02: &lt;5") && line.contains("01: 7") && line.contains("03: 9"))
        var hostile = DashboardTable(id: "t", heading: "h", headers: [])
        hostile.rows = [.init(cells: [.text("<script>alert('x')</script>", header: true, href: "\"><img src=x>")])]
        #expect(
            hostile.bodyHTML()
                == "<tr><th scope=\"row\"><a href=\"&quot;&gt;&lt;img src=x&gt;\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</a></th></tr>\n"
        )
        #expect(table.csv(separator: ";") == "\u{FEFF}Naziv;Prijave\r\n\"'=HYPERLINK(\"\"x\"\")\";<5\r\n")
    }
}

/// The dashboard in a real headless Chromium (Tests/Browser/dashboard.py, Selenium), as the
/// Center and as a district analyst. `make test` installs the browser, its driver, Selenium and
/// axe-core (scripts/browser-tools.sh) and requires this test to run; elsewhere it is skipped
/// when they are missing.
@Suite("The dashboard in a real browser")
struct DashboardBrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var axe: String {
        ProcessInfo.processInfo.environment["SPONA_AXE_JS"] ?? root.appendingPathComponent(".data/tools/axe/axe.min.js").path
    }
    static var toolsPresent: Bool {
        ["/usr/bin/chromium", "/usr/bin/chromedriver", axe].allSatisfy { FileManager.default.fileExists(atPath: $0) }
    }
    static var required: Bool { ProcessInfo.processInfo.environment["SPONA_BROWSER_TESTS"] == "required" }

    @Test(
        "each page loads without console errors or serious accessibility findings, as the Center and as an analyst, who sees only their district",
        .enabled(if: toolsPresent || required)
    )
    func pagesInChromium() async throws {
        #expect(Self.toolsPresent, "chromium, chromedriver and axe-core are needed: run scripts/browser-tools.sh")
        let port = freePort()
        try await TestIdentityProvider.run { provider in
            let publicURL = URL(string: "http://127.0.0.1:\(port)")!
            try await APIHarness.run(people: provider, livePort: port, configure: { $0.browserSignIn = provider.browserSignIn(publicURL: publicURL) })
            {
                api in
                _ = try await Network.withSmallCounts(api)
                let screenshots = Self.root.appendingPathComponent(".build/screenshots").path
                for (role, person) in [
                    ("analyst", (subject: "ana-7", name: "Ana Anić", role: Role.analyst, districts: ["RS-21"])),
                    ("center", (subject: "vesna-1", name: "Vesna Vesić", role: Role.coordinator, districts: [String]())),
                ] {
                    provider.signInNext(
                        subject: person.subject,
                        name: person.name,
                        institution: .center,
                        role: person.role,
                        districts: person.districts
                    )
                    let (status, output) = try await Self.runScript([
                        "--base", publicURL.absoluteString, "--role", role, "--screenshots", screenshots, "--axe", Self.axe,
                    ])
                    #expect(status == 0, "\(role):\n\(output)")
                }
            }
        }
    }

    /// Runs the script, for four minutes at most: a browser that stops answering fails the
    /// test with what the script printed, instead of holding the whole run.
    static func runScript(_ arguments: [String]) async throws -> (Int32, String) {
        let result = try await runProcess(
            "/usr/bin/env",
            ["python3", root.appendingPathComponent("Tests/Browser/dashboard.py").path] + arguments,
            limit: .seconds(240)
        )
        return (result.status, result.output + result.errorOutput)
    }
}
