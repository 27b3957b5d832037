import ArgumentParser
import SponaEventStore

/// The database the command talks to.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL URL of the server's login (a member of spona_app).",
            discussion: "Environment: DATABASE_URL.",
            valueName: "url"
        )
    )
    var databaseURL: String?

    func resolve() throws -> DatabaseURL {
        guard let text = databaseURL ?? Environment.value("DATABASE_URL") else {
            throw CommandFailure("no database: set DATABASE_URL (postgresql://user:password@host:port/database) or pass --database-url")
        }
        do { return try DatabaseURL(text) } catch { throw CommandFailure("DATABASE_URL: \(error)") }
    }
}
