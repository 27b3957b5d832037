import ArgumentParser
import SponaEventStore

/// The database the command talks to.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "PostgreSQL URL of the server's login (a member of spona_app).",
            discussion:
                "Environment: DATABASE_URL (or DATABASE_URL_FILE); DATABASE_PASSWORD (or DATABASE_PASSWORD_FILE) overrides the URL's password.",
            valueName: "url"
        )
    )
    var databaseURL: String?

    func resolve() throws -> DatabaseURL {
        guard let text = try databaseURL ?? Environment.secret("DATABASE_URL") else {
            throw CommandFailure("no database: set DATABASE_URL (postgresql://user:password@host:port/database) or pass --database-url")
        }
        return try Environment.databaseURL(text, passwordFrom: "DATABASE_PASSWORD")
    }
}
