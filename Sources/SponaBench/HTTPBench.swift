import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaHTTP

/// The API as clients use it: the real router and server on a local port, its projections
/// running, and HTTP clients filing reports and sending referrals with tokens, If-Match and
/// Idempotency-Key, as staff's applications do.
struct HTTPBench {
    let app: PostgresClient
    let owner: PostgresClient
    let geography: Geography
    let logger: Logger
    let clients: Int
    let seconds: Double

    struct Result {
        var health: Measurement
        var authenticated: Measurement
        var report: Measurement
        var referral: Measurement
    }

    enum Failure: Error, CustomStringConvertible {
        case status(String, UInt, String)
        var description: String {
            switch self {
            case let .status(what, code, body): "\(what) answered \(code): \(body)"
            }
        }
    }

    func run() async throws -> Result {
        let store = PostgresEventStore(client: app, logger: logger)
        let dependencies = Dependencies(database: app, store: store, geography: geography, logger: logger)
        let registry = RegistryService(store: store, geography: geography)
        try await registry.ensureCenter(requestID: "bench")
        let admin = Actor(id: "bench", institution: .center, role: .admin)
        func register(_ name: String, _ sector: Sector) async throws -> InstitutionID {
            let id = InstitutionID()
            try await registry.handle(
                .register(.init(id: id, nameLatin: name, sector: sector, municipality: MunicipalityCode(rawValue: "prokuplje"))),
                on: id,
                actor: admin,
                requestID: "bench",
                idempotencyKey: nil
            )
            return id
        }
        let school = try await register("OŠ Prokuplje (bench)", .education)
        let socialWork = try await register("CSR Prokuplje (bench)", .socialProtection)
        let tokens = AccessTokens(client: owner, logger: logger)
        let reporter = try await tokens.issue(
            institution: school,
            role: .reporter,
            districts: [],
            label: "bench",
            expiresAt: Date().addingTimeInterval(86_400)
        ).token
        let coordinator = try await tokens.issue(
            institution: .center,
            role: .coordinator,
            districts: [],
            label: "bench",
            expiresAt: Date().addingTimeInterval(86_400)
        ).token

        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let server = Application(
            router: buildRouter(dependencies),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "spona-bench"),
            services: [store] + projectionRunners(dependencies),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients * 2)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let result = try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    try await server.runService(gracefulShutdownSignals: [])
                    return nil
                }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next() else { throw CancellationError() }
                let base = "http://127.0.0.1:\(port)"
                let client = Client(http: http, base: base)

                // Warm up: the pool, the prepared statements, the caches.
                _ = try await measure(writers: clients, duration: .seconds(1)) { _, _ in
                    _ = try await client.post("/v1/cases", token: reporter, body: Self.report, expect: 201)
                }
                // The floor under every request: HTTP alone, then HTTP and the token lookup.
                let health = try await measure(writers: clients, duration: .seconds(seconds / 2)) { _, _ in
                    try await client.get("/healthz", token: reporter)
                }
                let authenticated = try await measure(writers: clients, duration: .seconds(seconds / 2)) { _, _ in
                    try await client.get("/v1/districts", token: reporter)
                }
                let reports = try await measure(writers: clients, duration: .seconds(seconds)) { _, _ in
                    _ = try await client.post("/v1/cases", token: reporter, body: Self.report, idempotencyKey: UUID().uuidString, expect: 201)
                }

                // Each client works on cases of its own, a few referrals each, as a coordinator
                // does: the case's version from the last answer goes into the next If-Match.
                let casesPerClient = 24
                var cases: [[String]] = []
                cases.reserveCapacity(clients)
                for _ in 0..<clients {
                    var own: [String] = []
                    for _ in 0..<casesPerClient {
                        own.append(try await client.post("/v1/cases", token: reporter, body: Self.report, expect: 201).location ?? "")
                    }
                    cases.append(own)
                }
                let versions = VersionBook(cases: cases)
                let ownCases = cases
                let due = ISO8601DateFormatter().string(from: Date().addingTimeInterval(7 * 86_400))
                let referral = Data(
                    #"{"to":"\#(socialWork.rawValue.uuidString)","reason":"protective assessment of the family","requestedServices":["assessment"],"urgency":"urgent","due":"\#(due)"}"#
                        .utf8
                )
                let referrals = try await measure(writers: clients, duration: .seconds(seconds)) { writer, n in
                    let path = ownCases[writer][n % casesPerClient]
                    let version = await versions.version(of: path)
                    let answer = try await client.post(
                        path + "/referrals",
                        token: coordinator,
                        body: referral,
                        ifMatch: "\"\(version)\"",
                        idempotencyKey: UUID().uuidString,
                        expect: 201
                    )
                    await versions.set(path, answer.etag.flatMap { Int($0.trimmingCharacters(in: CharacterSet(charactersIn: "\""))) } ?? version + 1)
                }
                group.cancelAll()
                return Result(health: health, authenticated: authenticated, report: reports, referral: referrals)
            }
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// The report a school files: a girl of 15, five indicators, three places.
    static let report = Data(
        #"{"municipality":"prokuplje","channel":"app","subject":{"ageGroup":"child_14_17","gender":"female","citizenship":"RS"},"locations":[{"role":"residence","municipality":"prokuplje"},{"role":"recruitment","municipality":"prokuplje"},{"role":"exploitation","country":"DE"}],"exploitation":["sexual"],"indicators":["VR-05","VR-01","VR-03","EX-04","EX-05"],"urgency":"urgent","reporterTrained":true}"#
            .utf8
    )

    struct Client: Sendable {
        let http: HTTPClient
        let base: String

        func get(_ path: String, token: String) async throws {
            var request = HTTPClientRequest(url: base + path)
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            let response = try await http.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 22)
            guard response.status.code == 200 else { throw Failure.status("GET \(path)", response.status.code, "") }
        }

        func post(
            _ path: String,
            token: String,
            body: Data,
            ifMatch: String? = nil,
            idempotencyKey: String? = nil,
            expect: UInt
        ) async throws -> (location: String?, etag: String?) {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            if let ifMatch { request.headers.add(name: "If-Match", value: ifMatch) }
            request.headers.add(name: "Idempotency-Key", value: idempotencyKey ?? UUID().uuidString)
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await http.execute(request, timeout: .seconds(30))
            let answer = Data(buffer: try await response.body.collect(upTo: 1 << 20))
            guard response.status.code == expect else {
                throw Failure.status("POST \(path)", response.status.code, String(decoding: answer, as: UTF8.self))
            }
            return (response.headers.first(name: "Location"), response.headers.first(name: "ETag"))
        }
    }

    /// The version each client last saw of each of its cases.
    actor VersionBook {
        var versions: [String: Int] = [:]
        init(cases: [[String]]) { for path in cases.joined() { versions[path] = 1 } }
        func version(of path: String) -> Int { versions[path] ?? 1 }
        func set(_ path: String, _ version: Int) { versions[path] = version }
    }
}
