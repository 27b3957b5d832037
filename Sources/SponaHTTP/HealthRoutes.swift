import Foundation
import Hummingbird
import PostgresNIO

/// `/healthz`: the process is alive. `/readyz`: it can serve, i.e. the database answers.
/// Orchestrators restart on the first and route traffic on the second.
struct HealthRoutes: Sendable {
    let database: PostgresClient

    struct Status: ResponseEncodable {
        var status: String
        var database: String?
    }

    func register(on router: Router<SponaRequestContext>) {
        router.get("/healthz") { _, _ in
            Status(status: "ok")
        }
        router.get("/readyz") { _, context in
            do {
                try await withDeadline(.seconds(2)) { try await database.query("SELECT 1", logger: context.logger) }
            } catch {
                throw Problem.databaseUnavailable
            }
            return Status(status: "ready", database: "ok")
        }
    }
}
