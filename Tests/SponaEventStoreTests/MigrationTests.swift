import Foundation
import PostgresNIO
import SponaEventStore
import SponaTestSupport
import Testing

@testable import SchemaMigrations

@Suite("Schema migrations")
struct MigrationTests {
    @Test("the level this build needs is the newest migration it ships, and a server's login can read the applied level")
    func requiredLevel() async throws {
        let migrator = try SchemaMigrator(directory: TestDatabase.schemaDirectory)
        #expect(SchemaMigrator.requiredLevel == migrator.migrations.map(\.version).max())
        try await TestDatabase.withFresh { db in
            let applied = try await SchemaMigrator.appliedLevel(client: db.app, logger: db.logger)
            #expect(applied == SchemaMigrator.requiredLevel)
        }
    }

    @Test("the database password can come from a file (a Docker or Kubernetes secret), and an unreadable one is one clear line")
    func passwordFromFile() async throws {
        try await TestDatabase.withFresh { db in
            var components = try #require(URLComponents(string: db.ownerURL))
            let password = components.password ?? ""
            components.password = nil
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("spona-password-\(UUID())")
            try Data((password + "\n").utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let environment = [
                "SPONA_OWNER_DATABASE_URL": try #require(components.string), "SPONA_OWNER_DATABASE_PASSWORD_FILE": file.path,
                "DATABASE_URL": "",
            ]
            let result = try await runProcess(
                sponaExecutable,
                ["migrate", "--schema-dir", TestDatabase.schemaDirectory.path],
                environment: environment
            )
            #expect(result.status == 0, "\(result.errorOutput)")
            var missing = environment
            missing["SPONA_OWNER_DATABASE_PASSWORD_FILE"] = "/nonexistent/spona-password"
            let refused = try await runProcess(sponaExecutable, ["migrate", "--schema-dir", TestDatabase.schemaDirectory.path], environment: missing)
            #expect(
                refused.status != 0 && refused.errorOutput.contains("SPONA_OWNER_DATABASE_PASSWORD_FILE /nonexistent/spona-password cannot be read")
            )
            #expect(refused.errorOutput.split(separator: "\n").count == 1, "\(refused.errorOutput)")
        }
    }

    @Test("spona serve checks every setting before it starts and names each problem on a line of its own")
    func serveSettingsProblems() async throws {
        let result = try await runProcess(
            sponaExecutable,
            ["serve"],
            environment: [
                "SPONA_PORT": "http", "SPONA_IDLE_TIMEOUT": "0", "SPONA_ACCESS_LOG": "maybe",
                "SPONA_OIDC_ISSUER": "https://sso.example.rs/realms/spona",
                "SPONA_MANAGEMENT_PORT": "8080", "SPONA_PERSONAL_DATA_READS_PER_HOUR": "-1", "DATABASE_URL": "postgresql://spona@127.0.0.1:1/spona",
                "SPONA_MASTER_KEY": "not-base64", "SPONA_KEY_DIR": FileManager.default.temporaryDirectory.path,
            ]
        )
        #expect(result.status != 0)
        let lines = result.errorOutput.split(separator: "\n").map(String.init)
        for expected in [
            "SPONA_PORT 'http' is not a port number", "SPONA_IDLE_TIMEOUT '0' is not a number of seconds",
            "SPONA_ACCESS_LOG 'maybe' is not on or off",
            "SPONA_OIDC_AUDIENCE is required", "SPONA_PERSONAL_DATA_READS_PER_HOUR '-1'", "master key",
        ] {
            #expect(lines.filter { $0.contains(expected) }.count == 1, "\(expected) not on a line of its own in:\n\(result.errorOutput)")
        }
        #expect(!result.errorOutput.contains("Server started"), "it started")
    }

    @Test("settings come from SPONA_CONFIG_FILE under the environment, and a malformed line is named with its number")
    func settingsFile() async throws {
        try await TestDatabase.withFresh { db in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("spona-\(UUID()).env")
            defer { try? FileManager.default.removeItem(at: file) }
            try Data("# Spona\nexport SPONA_OWNER_DATABASE_URL='\(db.ownerURL)'\n\nSPONA_LOG_LEVEL=warning\n".utf8).write(to: file)
            let blank = ["SPONA_OWNER_DATABASE_URL": "", "DATABASE_URL": "", "SPONA_CONFIG_FILE": file.path]
            let listed = try await runProcess(sponaExecutable, ["tokens", "list"], environment: blank)
            #expect(listed.status == 0 && listed.output.hasPrefix("id\t"), "\(listed.errorOutput)")

            try Data("SPONA_LOG_LEVEL=info\nnot a setting\nspona_port=1\n".utf8).write(to: file)
            let refused = try await runProcess(sponaExecutable, ["tokens", "list"], environment: blank)
            #expect(refused.status != 0)
            #expect(
                refused.errorOutput.contains("line 2: expected NAME=value") && refused.errorOutput.contains("line 3: 'spona_port'"),
                "\(refused.errorOutput)"
            )
        }
    }

    @Test("`spona migrate` twice: the second run changes nothing")
    func migrateTwice() async throws {
        try await TestDatabase.withFresh { db in
            // withFresh migrated already; the binary finds everything applied.
            let result = try await runProcess(
                sponaExecutable,
                ["migrate", "--schema-dir", TestDatabase.schemaDirectory.path],
                environment: ["SPONA_OWNER_DATABASE_URL": db.ownerURL]
            )
            #expect(result.status == 0, "\(result.errorOutput)")
            #expect(result.output.contains("schema is up to date"))
        }
    }

    @Test("a migration changed after it was applied is refused with a clear message")
    func changedMigrationRefused() async throws {
        try await TestDatabase.withFresh { db in
            let copy = FileManager.default.temporaryDirectory.appendingPathComponent("spona-schema-\(UUID())")
            try FileManager.default.copyItem(at: TestDatabase.schemaDirectory, to: copy)
            defer { try? FileManager.default.removeItem(at: copy) }
            let file = copy.appendingPathComponent("0001_event_store.sql")
            try (try String(contentsOf: file, encoding: .utf8) + "\n-- an innocent-looking edit\n").write(to: file, atomically: true, encoding: .utf8)

            let result = try await runProcess(
                sponaExecutable,
                ["migrate", "--schema-dir", copy.path],
                environment: ["SPONA_OWNER_DATABASE_URL": db.ownerURL]
            )
            #expect(result.status != 0)
            #expect(result.errorOutput.contains("migration 1 (event_store) was changed after it was applied"), "\(result.errorOutput)")
        }
    }

    @Test("migrations apply in order, once; a missing file and a failing migration are refused")
    func migratorRules() async throws {
        try await TestDatabase.withFresh { db in
            let one = SchemaMigrator.Migration(version: 101, name: "first", sql: "CREATE TABLE t1 (id int); INSERT INTO t1 VALUES (1);")
            let two = SchemaMigrator.Migration(version: 102, name: "second", sql: "CREATE TABLE t2 (id int)")
            let real = try SchemaMigrator(directory: TestDatabase.schemaDirectory).migrations
            let applied = try await SchemaMigrator(migrations: real + [two, one]).migrate(client: db.owner, logger: db.logger)
            #expect(applied.applied == [101, 102])

            // version 1 (the real schema) is applied too, so a migrator without it is older than the db.
            await #expect(throws: SchemaMigrator.MigrationError.missingFile(version: 1, name: "event_store")) {
                try await SchemaMigrator(migrations: [one, two]).migrate(client: db.owner, logger: db.logger)
            }

            let broken = SchemaMigrator.Migration(version: 103, name: "broken", sql: "CREATE TABLE t3 (id int); SELECT * FROM nowhere;")
            await #expect(throws: SchemaMigrator.MigrationError.self) {
                try await SchemaMigrator(migrations: real + [one, two, broken]).migrate(client: db.owner, logger: db.logger)
            }
            // The failed migration left nothing behind.
            let rows = try await db.owner.query("SELECT to_regclass('t3') IS NULL", logger: db.logger)
            for try await absent in rows.decode(Bool.self) { #expect(absent) }

            let again = try await SchemaMigrator(migrations: real + [one, two]).migrate(client: db.owner, logger: db.logger)
            #expect(again.applied.isEmpty)
        }
    }

    @Test("scripts split into statements, respecting quotes, dollar quotes and comments")
    func scriptSplitting() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (v text DEFAULT 'x;y');
            /* block; /* nested; */ still comment */
            CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
            DO $body$ BEGIN PERFORM 1; END $body$;
            SELECT "odd;name" FROM a;
            SELECT 'it''s; fine';
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 5)
        #expect(statements[0] == "CREATE TABLE a (v text DEFAULT 'x;y')")
        #expect(statements[1].hasSuffix("$$ SELECT 1; $$"))
        #expect(statements[2] == "DO $body$ BEGIN PERFORM 1; END $body$")
        #expect(statements[4] == "SELECT 'it''s; fine'")
    }
}
