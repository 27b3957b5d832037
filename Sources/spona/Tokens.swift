import ArgumentParser
import Foundation
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaRecords

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue, revoke and list service accounts' tokens (people sign in through the identity provider).",
        discussion: "Runs with the owner's login (SPONA_OWNER_DATABASE_URL): the server itself can only read tokens.",
        subcommands: [Issue.self, Revoke.self, List.self]
    )

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a token and print it once. Only its hash is stored.",
            discussion: "The Center's institution id is \(InstitutionID.center); issue the first admin token for it."
        )

        @OptionGroup var database: OwnerDatabaseOptions
        @Option(help: "The institution the token acts for (a UUID).") var institution: String
        @Option(help: "reporter, coordinator, analyst, auditor or admin.") var role: String
        @Option(help: "For analysts: a district (ISO 3166-2:RS, e.g. RS-21) the token may see; repeat for more.") var district: [String] = []
        @Option(help: "A note saying whose token this is (no personal data of people in cases).") var label: String = ""
        @Option(help: "Days until the token expires, 1 to 90: a service account's token always expires.") var expiresInDays: Int = 30

        func run() async throws {
            guard let institutionID = InstitutionID(institution) else { throw CommandFailure("--institution '\(institution)' is not a UUID") }
            guard let role = Role(rawValue: role) else {
                throw CommandFailure("--role '\(role)' is not one of reporter, coordinator, analyst, auditor, admin")
            }
            let geography: Geography
            do { geography = try ReferenceData.geography(in: Environment.referenceDirectory) } catch { throw CommandFailure("\(error)") }
            let districts = Set(geography.districts.map(\.code.rawValue))
            for code in district where !districts.contains(code) {
                throw CommandFailure("--district '\(code)' is not a district (one of \(districts.sorted().joined(separator: ", ")))")
            }
            if role == .analyst && district.isEmpty { throw CommandFailure("an analyst token needs at least one --district") }
            guard (1...90).contains(expiresInDays) else {
                throw CommandFailure("--expires-in-days \(expiresInDays) is not from 1 to 90: a service account's token expires within 90 days")
            }
            let logger = try makeLogger(label: "spona.tokens", level: nil)
            let issued = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                // A token for an institution nobody registered (a typo, a made-up id) would act
                // for no one the network knows.
                let store = PostgresEventStore(client: client, logger: logger)
                guard let (registered, _) = try await InstitutionDirectory(store: store).institution(institutionID) else {
                    throw CommandFailure("no institution \(institutionID) is registered (GET /v1/institutions lists them)")
                }
                guard registered.isActive else {
                    throw CommandFailure("institution \(institutionID) (\(registered.nameLatin)) is deactivated; reactivate it first")
                }
                return try await AccessTokens(client: client, logger: logger).issue(
                    institution: institutionID,
                    role: role,
                    districts: district,
                    label: label,
                    expiresAt: Date().addingTimeInterval(Double(expiresInDays) * 86_400)
                )
            }
            print(issued.token)
            FileHandle.standardError.write(
                Data("token \(issued.id) issued for \(role.rawValue) of institution \(institutionID); it is shown only now\n".utf8)
            )
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; it stops working on the next request.")
        @OptionGroup var database: OwnerDatabaseOptions
        @Argument(help: "The token's id (from `spona tokens list`).") var id: String

        func run() async throws {
            guard let uuid = UUID(uuidString: id) else { throw CommandFailure("'\(id)' is not a token id") }
            let logger = try makeLogger(label: "spona.tokens", level: nil)
            let revoked = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                try await AccessTokens(client: client, logger: logger).revoke(uuid)
            }
            guard revoked else { throw CommandFailure("no active token has the id \(id)") }
            print("revoked \(id)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never the tokens themselves).")
        @OptionGroup var database: OwnerDatabaseOptions

        func run() async throws {
            let logger = try makeLogger(label: "spona.tokens", level: nil)
            let tokens = try await withPostgresClient(try database.resolve().configuration, logger: logger) { client in
                try await AccessTokens(client: client, logger: logger).list()
            }
            print("id\tinstitution\trole\tdistricts\tcreated\texpires\trevoked\tlast_used\tlabel")
            for token in tokens {
                print(
                    [
                        token.id.uuidString.lowercased(), token.institution.description, token.role.rawValue, token.districts.joined(separator: ","),
                        ISO8601.string(from: token.createdAt), token.expiresAt.map(ISO8601.string) ?? "never (replace it)",
                        token.revokedAt.map(ISO8601.string) ?? "-", token.lastUsedAt.map(ISO8601.string) ?? "never", token.label,
                    ].joined(separator: "\t")
                )
            }
        }
    }
}
