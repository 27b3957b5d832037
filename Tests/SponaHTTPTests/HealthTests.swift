import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import SponaEventStore
@testable import SponaHTTP
import SponaTestSupport
import Testing

@Suite("Operations routes")
struct HealthTests {
    @Test("healthz answers while the process lives; readyz while the database answers")
    func healthAndReadiness() async throws {
        try await APIHarness.run { api in
            #expect(try await api.send(.get, "/healthz", token: nil).status == .ok)
            let ready = try await api.send(.get, "/readyz", token: nil)
            #expect(ready.status == .ok)
            #expect(ready.text.contains("ready"))
        }
    }

    @Test("readyz answers 503 problem+json with Retry-After when the database is unreachable")
    func notReadyWithoutDatabase() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // Nothing listens on port 1.
        let configuration = PostgresClient.Configuration(host: "127.0.0.1", port: 1, username: "nobody", password: nil, database: nil, tls: .disable)
        try await withPostgresClient(configuration, logger: logger) { unreachable in
            let dependencies = Dependencies(
                database: unreachable, store: PostgresEventStore(client: unreachable, logger: logger),
                geography: shippedGeography, logger: logger, databaseDeadline: .seconds(1))
            let app = Application(router: buildRouter(dependencies))
            try await app.test(.router) { client in
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.retryAfter] == "5")
                    let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    #expect(body?["status"] as? Int == 503)
                    #expect(body?["title"] as? String == "Database unavailable")
                }
                // A request that needs the database fails the same way, never with a 500.
                try await client.execute(uri: "/v1/inbox", method: .get, headers: [.authorization: "Bearer spona_x"]) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "5")
                }
                try await client.execute(uri: "/no-such-route", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
            }
        }
    }
}
