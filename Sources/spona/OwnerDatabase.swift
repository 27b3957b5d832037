import ArgumentParser
import SponaEventStore

/// The owner's login: migrations, tokens and reference data are managed with it, never with
/// the server's (which may only read tokens and append events).
struct OwnerDatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "The database owner's PostgreSQL URL.",
            discussion:
                "Environment: SPONA_OWNER_DATABASE_URL (or _FILE), else DATABASE_URL; SPONA_OWNER_DATABASE_PASSWORD (or _FILE) overrides the URL's password.",
            valueName: "url"
        )
    )
    var databaseURL: String?

    func resolve() throws -> DatabaseURL {
        if let text = try databaseURL ?? Environment.secret("SPONA_OWNER_DATABASE_URL") {
            return try Environment.databaseURL(text, passwordFrom: "SPONA_OWNER_DATABASE_PASSWORD")
        }
        guard let text = try Environment.secret("DATABASE_URL") else {
            throw CommandFailure("no database: set SPONA_OWNER_DATABASE_URL (the owner's URL) or DATABASE_URL")
        }
        return try Environment.databaseURL(text, passwordFrom: "DATABASE_PASSWORD")
    }
}
