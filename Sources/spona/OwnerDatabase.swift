import ArgumentParser
import SponaEventStore

/// The owner's login: migrations, tokens and reference data are managed with it, never with
/// the server's (which may only read tokens and append events).
struct OwnerDatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "The database owner's PostgreSQL URL.",
            discussion: "Environment: SPONA_OWNER_DATABASE_URL, else DATABASE_URL.",
            valueName: "url"
        )
    )
    var databaseURL: String?

    func resolve() throws -> DatabaseURL {
        guard let text = databaseURL ?? Environment.value("SPONA_OWNER_DATABASE_URL") ?? Environment.value("DATABASE_URL") else {
            throw CommandFailure("no database: set SPONA_OWNER_DATABASE_URL (the owner's URL) or DATABASE_URL")
        }
        do { return try DatabaseURL(text) } catch { throw CommandFailure("database URL: \(error)") }
    }
}
