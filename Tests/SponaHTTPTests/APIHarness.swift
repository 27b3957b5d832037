import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaTestSupport
import Testing

@testable import SponaHTTP

/// The reference data the project ships, read once for all tests.
let shippedGeography: Geography = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try! ReferenceData.geography(in: root.appendingPathComponent("Reference"))
}()

/// A reply as a client sees it: status, headers and the JSON body.
struct Reply: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: Data

    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: body)) as? [[String: Any]] ?? [] }
    var text: String { String(decoding: body, as: UTF8.self) }
    var etag: String? { headers[.eTag] }
    var location: String? { headers[.location] }
    subscript(key: String) -> Any? { json[key] }
}

/// The server's router on a fresh database, with the Center registered and its projections
/// running, and helpers to act as staff of the institutions of a small network.
struct APIHarness: Sendable {
    /// The key the test servers sign seals with.
    static let sealKey = Curve25519.Signing.PrivateKey()

    let db: TestDatabase
    let client: any TestClientProtocol
    let dependencies: Dependencies
    /// This test's subject key store and master key.
    let vault: PersonalDataVault
    /// When set, ``token(_:_:districts:expiresAt:)`` signs people in through it (JWTs), as a
    /// network with an identity provider does; else it issues service tokens.
    var people: TestIdentityProvider? = nil

    /// Runs `body` against a fresh database and the whole router, with a master key and a key
    /// folder of its own. With `logs`, the server logs at trace level into it.
    static func run(
        logs: LogCapture? = nil,
        people: TestIdentityProvider? = nil,
        livePort: Int? = nil,
        configure: @Sendable (inout Dependencies) -> Void = { _ in },
        _ body: @Sendable @escaping (APIHarness) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh(pollInterval: .milliseconds(50)) { db in
            try await run(on: db, logs: logs, people: people, livePort: livePort, configure: configure, body)
        }
    }

    /// Runs `body` against `db` as it is (a restored one, say), as a server starting on it does.
    static func run(
        on db: TestDatabase,
        logs: LogCapture? = nil,
        people: TestIdentityProvider? = nil,
        livePort: Int? = nil,
        configure: @Sendable (inout Dependencies) -> Void = { _ in },
        _ body: @Sendable @escaping (APIHarness) async throws -> Void
    ) async throws {
        do {
            let keyDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: keyDirectory) }
            let vault = PersonalDataVault(
                keys: MasterKeyring(current: try MasterKey(base64: MasterKey.generate())),
                store: try SubjectKeyStore(directory: keyDirectory)
            )
            let logger = logs?.logger ?? db.logger
            var configured = Dependencies(database: db.app, store: db.store, geography: shippedGeography, logger: logger, vault: vault)
            configured.sealKey = sealKey
            // A test that holds the horizon holds every other test's readers too: it is named sooner.
            configured.horizonNamedAfter = .milliseconds(500)
            // Analysts see closed months only; the tests' reports are filed now, so for them
            // this month has closed (the disclosure tests put the clock back).
            configured.analystNow = { Date().addingTimeInterval(40 * 86_400) }
            // Tests send many refused tokens from one (unknown) address and read much personal
            // data; the limits' own tests set them low.
            configured.failedSignInsPerMinute = 1_000_000
            configured.personalDataReadsPerHour = 1_000_000
            if let people { configured.identityProvider = people.provider(geography: shippedGeography, logger: logger) }
            configure(&configured)
            let dependencies = configured
            try await RegistryService(store: db.store, geography: shippedGeography).ensureCenter(requestID: "test")
            // As a server does when it starts: readiness waits for the read models to reach this.
            try await dependencies.startupHead.record(db.store)
            let app = Application(
                router: buildRouter(dependencies),
                services: [dependencies.tokenCache] + projectionRunners(dependencies),
                logger: logger
            )
            // With a port, the same router also served on it for real (a browser's test needs an
            // address known before the server starts: the identity provider sends it back there).
            if let livePort {
                let live = Application(
                    router: buildRouter(dependencies),
                    configuration: .init(address: .hostname("127.0.0.1", port: livePort)),
                    logger: logger
                )
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await live.runService() }
                    defer { group.cancelAll() }
                    try await app.test(.router) { client in
                        try await body(APIHarness(db: db, client: client, dependencies: dependencies, vault: vault, people: people))
                    }
                }
                return
            }
            try await app.test(.router) { client in
                try await body(APIHarness(db: db, client: client, dependencies: dependencies, vault: vault, people: people))
            }
        }
    }

    /// A bearer token for a person of `institution` acting as `role` (issued as `spona tokens issue` does).
    /// With ``people``, a person's access token from the test's identity provider instead.
    func token(_ institution: InstitutionID, _ role: Role, districts: [String] = [], expiresAt: Date? = nil) async throws -> String {
        if let people {
            return try people.token(
                subject: "staff-\(UUID().uuidString.prefix(8))",
                institution: institution,
                role: role,
                districts: districts,
                // Expired beyond the clock leeway a server allows the provider.
                expiresAt: expiresAt.map { $0 < Date() ? $0 - 120 : $0 } ?? Date().addingTimeInterval(300)
            )
        }
        let expiry = expiresAt ?? Date().addingTimeInterval(30 * 86_400)
        // A token that has already expired was issued a while before.
        return try await AccessTokens(client: db.owner, logger: db.logger)
            .issue(institution: institution, role: role, districts: districts, label: "test", expiresAt: expiry, now: min(Date(), expiry - 60))
            .token
    }

    /// Sends a request. `json` is serialised; `raw` is sent as it is.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String?,
        json: [String: Any]? = nil,
        raw: String? = nil,
        ifMatch: String? = nil,
        idempotencyKey: String? = nil,
        contentType: String? = "application/json",
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let ifMatch { headers[.ifMatch] = ifMatch }
        // Every POST carries a key, as the API requires; a test of a missing key sends "".
        if method == .post, idempotencyKey != "" { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey ?? UUID().uuidString }
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        } else if let raw {
            body = ByteBuffer(string: raw)
        }
        if body != nil, let contentType { headers[.contentType] = contentType }
        let reply = try await client.execute(uri: path, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
        // Every answer of every test keeps the contract the OpenAPI document states.
        for problem in ContractCheck.shared.problems(
            method: method.rawValue,
            path: path,
            status: Int(reply.status.code),
            contentType: reply.headers[.contentType],
            body: reply.body
        ) {
            Issue.record("contract: \(problem)")
        }
        return reply
    }

    /// Registers an institution through the API as `admin`; answers its id.
    func register(_ name: String, sector: Sector, municipality: String?, admin: String) async throws -> InstitutionID {
        var json: [String: Any] = ["nameLatin": name, "sector": sector.rawValue]
        if let municipality { json["municipality"] = municipality }
        let reply = try await send(.post, "/v1/institutions", token: admin, json: json)
        #expect(reply.status == .created, "registering \(name): \(reply.text)")
        return InstitutionID(rawValue: UUID(uuidString: reply["id"] as? String ?? "")!)
    }

    /// Waits until `condition` holds (projections catch up asynchronously), up to 30 seconds:
    /// a ceiling for a machine busy with the other suites, met in milliseconds when it is not.
    func eventually(_ what: String, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(what)")
    }
}

/// A small referral network in the Toplica district, as in the source reports' journeys.
struct Network: Sendable {
    let api: APIHarness
    let admin: String
    let school: InstitutionID, socialWork: InstitutionID, police: InstitutionID, health: InstitutionID
    let schoolStaff: String, socialWorker: String, officer: String, doctor: String, coordinator: String

    static func make(_ api: APIHarness) async throws -> Network {
        let admin = try await api.token(.center, .admin)
        let school = try await api.register("OŠ „Ratko Pavlović Ćićko“", sector: .education, municipality: "prokuplje", admin: admin)
        let socialWork = try await api.register(
            "Centar za socijalni rad Prokuplje",
            sector: .socialProtection,
            municipality: "prokuplje",
            admin: admin
        )
        let police = try await api.register("Policijska uprava Prokuplje", sector: .police, municipality: "prokuplje", admin: admin)
        let health = try await api.register("Dom zdravlja Prokuplje", sector: .health, municipality: "prokuplje", admin: admin)
        return Network(
            api: api,
            admin: admin,
            school: school,
            socialWork: socialWork,
            police: police,
            health: health,
            schoolStaff: try await api.token(school, .reporter),
            socialWorker: try await api.token(socialWork, .reporter),
            officer: try await api.token(police, .reporter),
            doctor: try await api.token(health, .reporter),
            coordinator: try await api.token(.center, .coordinator)
        )
    }

    /// Two reports in Blace (Toplica, RS-21) and seven in Prokuplje, through the API; answers once the
    /// Center's view counts all nine: the small count the disclosure tests look for.
    static func withSmallCounts(_ api: APIHarness) async throws -> Network {
        let n = try await make(api)
        let blaceSchool = try await api.register("OŠ Blace", sector: .education, municipality: "blace", admin: n.admin)
        let blace = try await api.token(blaceSchool, .reporter)
        for (token, municipality, count) in [(blace, "blace", 2), (n.schoolStaff, "prokuplje", 7)] {
            for _ in 0..<count {
                var report = Network.report
                report["municipality"] = municipality
                #expect(try await api.send(.post, "/v1/cases", token: token, json: report).status == .created)
            }
        }
        try await api.eventually("9 reports in the Center's view") {
            let view = try await api.send(.get, "/v1/views/municipalities", token: n.coordinator)
            return (view["rows"] as? [[String: Any]] ?? []).contains { $0["kind"] as? String == "national" && $0["reports"] as? Int == 9 }
        }
        return n
    }

    /// The report of the journey: a girl of 15 at risk, recruited online for Germany.
    static var report: [String: Any] {
        [
            "municipality": "prokuplje",
            "channel": "app",
            "subject": ["ageGroup": "child_14_17", "gender": "female", "citizenship": "RS"],
            "locations": [
                ["role": "residence", "municipality": "prokuplje"],
                ["role": "recruitment", "municipality": "prokuplje"],
                ["role": "exploitation", "country": "DE"],
            ],
            "exploitation": ["sexual"],
            "indicators": ["VR-05", "VR-01", "VR-03", "EX-04", "EX-05"],
            "urgency": "urgent",
            "reporterTrained": true,
        ]
    }

    /// Files the report as the school; answers the case's path and ETag.
    func fileReport(key: String? = nil) async throws -> (path: String, etag: String) {
        let reply = try await api.send(.post, "/v1/cases", token: schoolStaff, json: Self.report, idempotencyKey: key)
        #expect(reply.status == .created, "filing: \(reply.text)")
        return (try #require(reply.location), try #require(reply.etag))
    }
}

/// Collects every log line (message and metadata) of a server, to check what it never says.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var text: String { lock.withLock { lines.joined(separator: "\n") } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }

    var logger: Logger {
        var logger = Logger(label: "spona.test.captured") { _ in CapturingHandler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct CapturingHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            let error = event.error.map { " error=\(String(reflecting: $0))" } ?? ""
            capture.append("\(event.level) \(event.message) \(all.map { "\($0)=\($1)" }.sorted().joined(separator: " "))\(error)")
        }
    }
}

/// Dates as the API writes them.
func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

extension APIHarness {
    /// Sends `request`, checks its status, problem type and detail, and that no event was written.
    func expectRefused(
        _ status: HTTPResponse.Status,
        detailContains: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ request: () async throws -> Reply
    ) async throws {
        let before = try await db.eventCount()
        let reply = try await request()
        #expect(reply.status == status, "\(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        #expect(reply["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
        #expect((reply["title"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        if let detailContains {
            #expect((reply["detail"] as? String ?? "").contains(detailContains), "\(reply.text)", sourceLocation: sourceLocation)
        }
        #expect(try await db.eventCount() == before, "an event was written", sourceLocation: sourceLocation)
    }
}
