import Crypto
import Foundation
import Logging
import PostgresNIO

/// Applies the numbered SQL files of `Schema/` to a database, each exactly once, in order.
///
/// Each applied file is recorded in `schema_migrations` with the SHA-256 of its text. Running
/// again is a no-op; a file whose text changed after it was applied, or an applied migration
/// whose file is gone, stops everything: the database would no longer be what the files say,
/// and guessing is worse than refusing. A session-level advisory lock makes concurrent
/// migrators (several server instances starting at once) wait for each other.
public struct SchemaMigrator: Sendable {
    /// One file of `Schema/`: `NNNN_what_it_does.sql`.
    public struct Migration: Sendable, Hashable {
        public var version: Int
        public var name: String
        public var sql: String
        public var checksum: String

        public init(version: Int, name: String, sql: String) {
            self.version = version
            self.name = name
            self.sql = sql
            self.checksum = SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
        }
    }

    public enum MigrationError: Error, CustomStringConvertible, Equatable {
        case unreadableDirectory(String)
        case badFileName(String)
        case duplicateVersion(Int)
        case changedAfterApplied(version: Int, name: String)
        case missingFile(version: Int, name: String)
        case failed(version: Int, name: String, reason: String)

        public var description: String {
            switch self {
            case .unreadableDirectory(let path):
                "cannot read the schema folder \(path); set SPONA_SCHEMA_DIR to the project's Schema folder"
            case .badFileName(let file):
                "\(file) is not named NNNN_description.sql; every file in the schema folder must be"
            case .duplicateVersion(let version):
                "two schema files share the number \(version); each migration needs its own"
            case let .changedAfterApplied(version, name):
                "migration \(version) (\(name)) was changed after it was applied to this database; restore the file and put the change in a new migration"
            case let .missingFile(version, name):
                "migration \(version) (\(name)) is applied to this database but its file is missing; this build is older than the database"
            case let .failed(version, name, reason):
                "migration \(version) (\(name)) failed and was rolled back: \(reason)"
            }
        }
    }

    public let migrations: [Migration]

    public init(migrations: [Migration]) throws(MigrationError) {
        var seen = Set<Int>()
        for migration in migrations where !seen.insert(migration.version).inserted {
            throw .duplicateVersion(migration.version)
        }
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Reads every `NNNN_name.sql` of `directory`.
    public init(directory: URL) throws(MigrationError) {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        } catch {
            throw .unreadableDirectory(directory.path)
        }
        var migrations: [Migration] = []
        for file in files where file.pathExtension == "sql" {
            let base = file.deletingPathExtension().lastPathComponent
            let parts = base.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]),
                let sql = try? String(contentsOf: file, encoding: .utf8)
            else { throw .badFileName(file.lastPathComponent) }
            migrations.append(Migration(version: version, name: String(parts[1]), sql: sql))
        }
        try self.init(migrations: migrations)
    }

    /// What `migrate` did.
    public struct Outcome: Sendable, Equatable {
        public var applied: [Int]
        public var alreadyApplied: [Int]
    }

    /// Brings the database up to date. Needs the owner's connection.
    @discardableResult
    public func migrate(client: PostgresClient, logger: Logger) async throws -> Outcome {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let outcome = try await migrate(on: connection, logger: logger)
                try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return outcome
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// The server's own message, without the query text PostgresNIO attaches.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as PSQLError:
            error.serverInfo?[.message] ?? "\(error.code)"
        case let error as PostgresTransactionError:
            error.closureError.map(reason) ?? error.beginError.map(reason) ?? error.commitError.map(reason) ?? "the transaction failed"
        default:
            "\(type(of: error))"
        }
    }

    /// An arbitrary constant that names "the migration lock" among advisory locks.
    static let lockKey: Int64 = 0x5350_4F4E_414D_4947  // "SPONAMIG"

    private func migrate(on connection: PostgresConnection, logger: Logger) async throws -> Outcome {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )

        var applied: [Int: (name: String, checksum: String)] = [:]
        let rows = try await connection.query("SELECT version, name, checksum FROM schema_migrations", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            applied[version] = (name, checksum)
        }

        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                throw MigrationError.missingFile(version: version, name: record.name)
            }
            guard migration.checksum == record.checksum else {
                throw MigrationError.changedAfterApplied(version: version, name: migration.name)
            }
        }

        var outcome = Outcome(applied: [], alreadyApplied: applied.keys.sorted())
        for migration in migrations where applied[migration.version] == nil {
            logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            do {
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in SQLScript.statements(in: migration.sql) {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        """
                        INSERT INTO schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """,
                        logger: logger
                    )
                }
            } catch {
                throw MigrationError.failed(version: migration.version, name: migration.name, reason: Self.reason(error))
            }
            outcome.applied.append(migration.version)
        }
        // Servers read the level to say whether they are ready (``appliedLevel(client:logger:)``).
        try await connection.query(
            """
            DO $$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spona_app') THEN
                    GRANT SELECT ON schema_migrations TO spona_app;
                END IF;
            END $$
            """,
            logger: logger
        )
        return outcome
    }

    /// The migration level this build of Spona needs: the number of the newest file in
    /// `Schema/` (a test holds the two together). A server on a database below it is not ready.
    public static let requiredLevel = 23

    /// The newest migration applied to the database (0 when none, or when the table is not
    /// readable: then the server is not ready either, which is what an operator must see).
    public static func appliedLevel(client: PostgresClient, logger: Logger) async throws -> Int {
        let readable = try await client.query(
            "SELECT coalesce(has_table_privilege(to_regclass('schema_migrations'), 'SELECT'), false)",
            logger: logger
        )
        var mayRead = false
        for try await found in readable.decode(Bool.self) { mayRead = found }
        guard mayRead else { return 0 }
        var level = 0
        for try await found in try await client.query("SELECT coalesce(max(version), 0) FROM schema_migrations", logger: logger).decode(Int.self) {
            level = found
        }
        return level
    }
}
