import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import Testing

@testable import SponaHTTP

/// The property the fuzzer checks from outside, kept as a test: whatever value stands at
/// whatever field of whatever route, the server answers (never 5xx), a refusal is a problem
/// document and records nothing, and what it accepted can be read back by every view.
///
/// Values are drawn from a seeded generator, so a failure names the seed that reproduces it
/// (`SPONA_FUZZ_SEED=… ` runs that seed again; `SPONA_FUZZ_ROUNDS` draws more per field).
@Suite("Fuzzing every field")
struct FuzzTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["SPONA_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
    static let rounds = ProcessInfo.processInfo.environment["SPONA_FUZZ_ROUNDS"].flatMap(Int.init) ?? 4

    @Test(
        "random numbers, Unicode, nulls and shapes at every field of every write route: never a 5xx, nothing recorded on refusal, every view still answers"
    )
    func everyFieldOfEveryRoute() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let admin = n.admin
            var random = SeededRandom(seed: Self.seed)
            let (casePath, _) = try await n.fileReport()
            /// The case's version now, sent as If-Match so that a step is judged on its body.
            func version() async throws -> String? { try await api.send(.get, casePath, token: n.coordinator).etag }
            let due = iso(Date().addingTimeInterval(86_400))
            let referral = try await api.send(
                .post,
                casePath + "/referrals",
                token: n.coordinator,
                json: [
                    "to": n.socialWork.rawValue.uuidString, "reason": "assessment", "due": due,
                ],
                ifMatch: try await version()
            )
            let referralPath = try #require(referral.location, "\(referral.text)")
            let conference = try await api.send(
                .post,
                casePath + "/conferences",
                token: n.coordinator,
                json: [
                    "at": due, "invited": [n.police.rawValue.uuidString],
                ],
                ifMatch: try await version()
            )
            let conferencePath = try #require(conference.location, "\(conference.text)")

            let routes: [(path: String, token: String, body: [String: Any])] = [
                ("/v1/cases", n.schoolStaff, Network.report.merging(["personalData": ["fullName": "Ana", "narrative": "…"]]) { a, _ in a }),
                ("/v1/institutions", admin, ["nameLatin": "Dom zdravlja", "sector": "health", "municipality": "prokuplje"]),
                (
                    "/v1/trainings", admin,
                    [
                        "date": "2026-03-10", "host": "zrenjanin", "participants": 40, "women": 30, "men": 10,
                        "participantsBySector": ["health": 10], "municipalities": ["zrenjanin"],
                    ]
                ),
                (casePath + "/triage", n.coordinator, ["confirmedRisk": "high", "caseManager": "coordinator-7", "note": "n"]),
                (
                    casePath + "/referrals", n.coordinator,
                    [
                        "to": n.police.rawValue.uuidString, "reason": "r", "requestedServices": ["assessment"],
                        "urgency": "urgent", "due": due,
                    ]
                ),
                (referralPath + "/decline", n.socialWorker, ["reason": "r"]),
                (referralPath + "/complete", n.socialWorker, ["outcome": "o"]),
                (
                    conferencePath + "/decisions", n.coordinator,
                    [
                        "type": "shelter_placement", "responsible": n.socialWork.rawValue.uuidString,
                        "due": due, "note": "n",
                    ]
                ),
                (conferencePath + "/held", n.coordinator, ["attended": [n.police.rawValue.uuidString]]),
                (casePath + "/identification", n.coordinator, ["outcome": "identified_victim", "note": "n"]),
                (casePath + "/assistance", n.coordinator, ["kind": "shelter", "provider": n.socialWork.rawValue.uuidString, "note": "n"]),
                (casePath + "/erase-personal-data", admin, ["legalBasis": "GDPR Art. 17", "reference": "r-1"]),
            ]
            var sent = 0
            for route in routes {
                // The body every draw starts from is a valid one: refusals below are the draw's doing.
                let control = try await api.send(
                    .post,
                    route.path,
                    token: route.token,
                    raw: Self.serialise(route.body),
                    ifMatch: route.path.hasPrefix(casePath) ? try await version() : nil
                )
                #expect(control.status.code < 300 || control.status == .conflict, "\(route.path): \(control.text)")
                // Bodies of the wrong shape altogether.
                let valid = Self.serialise(route.body)
                let shapes = [
                    "", "[]", "null", "\"x\"", "{", String(valid.dropLast()), valid + valid, "{\"a\":1,\"a\":2}",
                    String(repeating: "[", count: 100_000), String(repeating: "{\"a\":", count: 50_000),
                ]
                for raw in shapes {
                    let before = try await api.db.eventCount()
                    let reply = try await api.send(.post, route.path, token: route.token, raw: raw)
                    #expect((400..<500).contains(reply.status.code), "POST \(route.path) with \(raw.prefix(60)) → \(reply.status.code)")
                    #expect(try await api.db.eventCount() == before)
                }
                // A byte-order mark before valid JSON may be ignored (RFC 8259 §8.1), never a 5xx.
                #expect(try await api.send(.post, route.path, token: route.token, raw: "\u{FEFF}" + valid).status.code < 500)
                for (path, _) in Self.leaves(of: route.body) {
                    for _ in 0..<Self.rounds {
                        let value = random.jsonValue()
                        let body = Self.replacing(path, in: route.body, with: value)
                        let raw = Self.serialise(body)
                        let ifMatch = route.path.hasPrefix(casePath) ? try await version() : nil
                        let before = try await api.db.eventCount()
                        let reply = try await api.send(.post, route.path, token: route.token, raw: raw, ifMatch: ifMatch)
                        sent += 1
                        let what = "seed \(Self.seed): POST \(route.path) with \(path.joined(separator: ".")) = \(String(raw.prefix(300)))"
                        #expect(reply.status.code < 500, "\(what) → \(reply.status.code) \(reply.text.prefix(300))")
                        if reply.status.code >= 400 {
                            #expect(reply.headers[.contentType] == "application/problem+json", "\(what)")
                            #expect(try await api.db.eventCount() == before, "\(what): refused, but an event was written")
                        }
                    }
                }
            }

            // Query parameters of the read routes take the same draws.
            let auditor = try await api.token(.center, .auditor)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            let queries: [(String, [String], String)] = [
                ("/v1/views/municipalities", ["district", "municipality", "asOf", "from", "to", "limit", "after"], analyst),
                ("/v1/views/silent", ["months", "asOf"], analyst),
                ("/v1/views/trainings", ["asOf", "district"], analyst),
                ("/v1/views/trainings/list", ["asOf", "district", "names"], analyst),
                ("/v1/views/periods", ["district", "municipality", "from", "to"], analyst),
                ("/v1/views/breakdowns?from=2025-01&to=2025-12", ["dimension", "district", "asOf", "names"], analyst),
                ("/v1/views/breakdowns?dimension=referrals", ["from", "to"], n.coordinator),
                ("/v1/views/institutions/periods?from=2025-01&to=2025-12", ["district", "asOf", "names"], analyst),
                ("/v1/views/institutions/periods?to=2025-12", ["from"], n.coordinator),
                ("/v1/views/flows/sectors", ["from", "to", "sector"], n.coordinator),
                ("/v1/views/waits?from=2025-01", ["to", "asOf", "names"], n.coordinator),
                ("/v1/views/cases", ["limit", "after", "status"], n.coordinator),
                ("/v1/inbox", ["limit", "after"], n.socialWorker),
                ("/v1/audit/events", ["type", "category", "after", "limit"], auditor),
                ("/v1/audit/access", ["actor", "case", "after", "limit"], auditor),
                ("/v1/audit/seals/consistency", ["first", "second"], auditor),
                ("/v1/institutions", ["sector", "municipality", "limit", "after"], admin),
            ]
            for (path, parameters, token) in queries {
                for parameter in parameters {
                    for _ in 0..<Self.rounds {
                        let value = random.queryValue()
                        let reply = try await api.send(.get, "\(path)\(path.contains("?") ? "&" : "?")\(parameter)=\(value)", token: token)
                        sent += 1
                        #expect(
                            reply.status.code < 500,
                            "seed \(Self.seed): GET \(path) \(parameter)=\(value) → \(reply.status.code) \(reply.text.prefix(300))"
                        )
                    }
                }
            }

            // The dashboard's pages take the same draws in every query parameter they read, as a
            // signed-in analyst: an HTML page or a refusal, never a 5xx.
            let session = try await BrowserSessions(client: api.db.app, logger: api.db.logger).open(
                .init(
                    personID: "person:fuzz",
                    name: "Fuzz",
                    institution: .center,
                    role: .analyst,
                    districts: [DistrictCode(rawValue: "RS-21")],
                    formToken: "form"
                )
            )
            var cookie = HTTPFields()
            cookie[.cookie] = "spona-session=\(session)"
            for page in [
                "/dashboard", "/dashboard/silent", "/dashboard/trainings", "/dashboard/flows", "/dashboard/municipalities/blace",
                "/dashboard/breakdowns", "/dashboard/institutions",
            ] {
                for parameter in ["district", "from", "to", "lang", "format", "table", "separator", "months", "dimension"] {
                    for _ in 0..<Self.rounds {
                        let value = random.queryValue()
                        let reply = try await api.send(.get, "\(page)?\(parameter)=\(value)", token: nil, contentType: nil, headers: cookie)
                        sent += 1
                        #expect(reply.status.code < 500, "seed \(Self.seed): GET \(page)?\(parameter)=\(value) → \(reply.status.code)")
                    }
                }
            }
            for value in ["https://evil.example/", "//evil.example", "/dashboard\r\nSet-Cookie:x=1", "javascript:alert(1)"] {
                let reply = try await api.send(.get, "/dashboard/sign-in?returnTo=\(DashboardRoutes.queryEscape(value))", token: nil)
                #expect(reply.status.code < 500)
                #expect(!reply.text.contains("evil.example") && !reply.text.contains("javascript:"), "\(value)")
            }

            // Whatever was accepted, every reader folds: no projection stopped, every view answers.
            try await api.eventually("every projection caught up with what the fuzzer left") {
                let status = try await api.send(.get, "/readyz", token: nil)
                return status.status == .ok && status["status"] as? String == "ready"
            }
            for view in [
                "/v1/views/municipalities", "/v1/views/trainings", "/v1/views/silent", "/v1/views/sectors", "/v1/views/flows/sectors",
                "/v1/views/flows/places", "/v1/views/cases",
            ] {
                let reply = try await api.send(.get, view, token: n.coordinator)
                #expect(reply.status == .ok, "seed \(Self.seed): \(view) → \(reply.text.prefix(300))")
            }
            #expect(sent >= Self.rounds * 90)
        }
    }

    /// Every path to a value in a JSON body, objects and arrays included (a whole list can be
    /// swapped for a number as well as one of its items).
    static func leaves(of value: Any, at path: [String] = []) -> [([String], Any)] {
        var found: [([String], Any)] = path.isEmpty ? [] : [(path, value)]
        if let object = value as? [String: Any] {
            for key in object.keys.sorted() { found += leaves(of: object[key]!, at: path + [key]) }
        } else if let array = value as? [Any] {
            for (index, item) in array.enumerated() { found += leaves(of: item, at: path + [String(index)]) }
        }
        return found
    }

    static func replacing(_ path: [String], in value: Any, with replacement: Any) -> Any {
        guard let head = path.first else { return replacement }
        let rest = Array(path.dropFirst())
        if var object = value as? [String: Any] {
            object[head] = replacing(rest, in: object[head] as Any, with: replacement)
            return object
        }
        if var array = value as? [Any], let index = Int(head), array.indices.contains(index) {
            array[index] = replacing(rest, in: array[index], with: replacement)
            return array
        }
        return value
    }

    /// JSON as a client could write it, including numbers no Swift type holds (`1e400`),
    /// which `JSONSerialization` cannot write: they travel as a marker and are put in after.
    static func serialise(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])) ?? Data("{}".utf8)
        var text = String(decoding: data, as: UTF8.self)
        for (marker, literal) in SeededRandom.literals { text = text.replacingOccurrences(of: "\"\(marker)\"", with: literal) }
        return text
    }
}

/// The fuzzer's draws, from the project's SplitMix64: the same on every machine, so a seed
/// reproduces a run.
struct SeededRandom: RandomNumberGenerator {
    var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }

    static let literals: [(String, String)] = [
        ("§1e400", "1e400"), ("§-1e400", "-1e400"), ("§huge", "123456789012345678901234567890"), ("§frac", "0.000000000000000000001"),
        ("§-0", "-0"), ("§exp", "1E+9"),
    ]

    static let integers: [Int] = [
        0, -1, 1, Int(Int32.max), Int(Int32.max) + 1, Int(Int32.min) - 1, Int.max, Int.min, 1_000_000_000, 1_000_000_001, -1_000_000_001,
        10_000, 10_001, 9_007_199_254_740_993,
    ]

    /// Characters a hostile client likes: NUL and the other controls, C1, non-characters, the
    /// byte-order mark, bidirectional overrides, combining marks, astral code points, Cyrillic.
    static let scalarRanges: [ClosedRange<UInt32>] = [
        0x00...0x1F, 0x20...0x7E, 0x7F...0x9F, 0x300...0x36F, 0x400...0x4FF, 0x202A...0x202E, 0xFEFF...0xFEFF, 0xFFF9...0xFFFF,
        0x1F600...0x1F64F, 0x10FFFE...0x10FFFF, 0xE000...0xE0FF,
    ]

    mutating func string(maxLength: Int = 40) -> String {
        if Int.random(in: 0..<20, using: &self) == 0 { return String(repeating: "ž", count: 20_001) }
        if Int.random(in: 0..<10, using: &self) == 0 { return "" }
        var text = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 1...maxLength, using: &self) {
            let range = Self.scalarRanges.randomElement(using: &self)!
            if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &self)) { text.append(scalar) }
        }
        return String(text)
    }

    mutating func jsonValue(depth: Int = 0) -> Any {
        switch Int.random(in: 0..<12, using: &self) {
        case 0, 1: return Self.integers.randomElement(using: &self)!
        case 2: return Int.random(in: Int.min...Int.max, using: &self)
        case 3: return Self.literals.randomElement(using: &self)!.0
        case 4: return [1e308, -1e-308, 0.5, -2.5, 1.0e9 + 0.5].randomElement(using: &self)!
        case 5, 6, 7: return string()
        case 8: return NSNull()
        case 9: return Bool.random(using: &self)
        case 10: return depth > 1 ? [] : (0..<Int.random(in: 0...3, using: &self)).map { _ in jsonValue(depth: depth + 1) }
        default: return depth > 1 ? [:] : [string(maxLength: 8): jsonValue(depth: depth + 1)]
        }
    }

    /// A query value, percent-encoded as a client would send it (or not, for the broken ones).
    mutating func queryValue() -> String {
        switch Int.random(in: 0..<6, using: &self) {
        case 0: return String(Self.integers.randomElement(using: &self)!)
        case 1: return ["%00", "%FF%FE", "%", "%zz", "a%0Ab", "..%2F..%2Fetc", "%E2%80%AE"].randomElement(using: &self)!
        case 2: return "2026-02-30T25:61:00Z"
        default: return string(maxLength: 20).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
        }
    }
}
