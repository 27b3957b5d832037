import Foundation
import Hummingbird
import Logging
import OpenAPIKit
import PostgresNIO
import SponaEventStore
import Testing
import Yams

@testable import SponaHTTP

/// The OpenAPI document is what clients are generated from: it must parse, validate, and
/// name exactly the routes the server has.
@Suite("The OpenAPI document")
struct OpenAPITests {
    /// "GET /v1/cases/{case}" for every route the router has.
    func routerRoutes() -> Set<String> {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // The router is only inspected here; nothing connects to this client.
        let client = PostgresClient(configuration: .init(host: "127.0.0.1", port: 1, username: "nobody", password: nil, database: nil, tls: .disable))
        let router = buildRouter(
            Dependencies(database: client, store: PostgresEventStore(client: client, logger: logger), geography: shippedGeography, logger: logger)
        )
        return Set(
            router.routes.map { route in
                let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(
                    separator: "/"
                )
                return "\(route.method.rawValue) /\(path)"
            }
        )
    }

    func document() throws -> OpenAPI.Document {
        try YAMLDecoder().decode(OpenAPI.Document.self, from: OpenAPIDocument.yaml)
    }

    @Test("it parses as OpenAPI 3.1, validates, and every reference resolves")
    func validates() throws {
        let document = try document()
        #expect(document.openAPIVersion.rawValue.hasPrefix("3.1"))
        _ = try document.validate()
        _ = try document.locallyDereferenced()
    }

    @Test("it names every route of the server, and no route the server does not have")
    func matchesRouter() throws {
        let documented = Set(
            try document().paths.flatMap { path, item in
                (item.pathItemValue?.endpoints ?? []).map {
                    "\($0.method.rawValue.uppercased()) /\(path.rawValue.split(separator: "/").joined(separator: "/"))"
                }
            }
        )
        // The dashboard's pages are HTML for browsers (DashboardTests), not operations of the API.
        let served = routerRoutes().filter { !$0.contains(" /dashboard") }
        #expect(served.subtracting(documented).sorted() == [], "served but not documented")
        #expect(documented.subtracting(served).sorted() == [], "documented but not served")
        #expect(served.count > 30)
    }

    @Test("it is served at /openapi.yaml")
    func served() async throws {
        try await APIHarness.run { api in
            let reply = try await api.send(.get, "/openapi.yaml", token: nil)
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "application/yaml")
            #expect(reply.text == OpenAPIDocument.yaml)
        }
    }

    @Test("the contract check every HTTP test runs catches an undocumented status and a body off its schema")
    func contractCheckCatches() {
        let check = ContractCheck.shared
        #expect(
            check.problems(method: "GET", path: "/readyz", status: 200, contentType: "application/json", body: Data(#"{"status":"ready"}"#.utf8))
                .isEmpty
        )
        #expect(!check.problems(method: "GET", path: "/readyz", status: 418, contentType: "application/json", body: Data("{}".utf8)).isEmpty)
        #expect(
            !check.problems(method: "GET", path: "/readyz", status: 200, contentType: "application/json", body: Data(#"{"status":7}"#.utf8)).isEmpty
        )
        #expect(
            !check.problems(method: "GET", path: "/readyz", status: 200, contentType: "application/json", body: Data(#"{"database":"ok"}"#.utf8))
                .isEmpty,
            "a required member missing"
        )
        #expect(!check.problems(method: "GET", path: "/v1/nowhere", status: 200, contentType: nil, body: Data()).isEmpty)
    }
}
