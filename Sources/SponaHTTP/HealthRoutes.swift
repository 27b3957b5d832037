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
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await database.query("SELECT 1", logger: context.logger)
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(2))
                        throw CancellationError()
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                throw Problem(
                    .serviceUnavailable,
                    type: "urn:spona:problem:database-unavailable",
                    title: "Database unavailable",
                    detail: "The database does not answer; try again shortly.",
                    headers: [.retryAfter: "5"]
                )
            }
            return Status(status: "ready", database: "ok")
        }
    }
}
