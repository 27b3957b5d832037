import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SponaDomain
import SponaEventStore
import Synchronization

/// The subjects' wrapped keys in a small PostgreSQL database of their own
/// (`SPONA_KEY_DATABASE_URL`): what servers on several machines share when there is no shared
/// file system. Never the database of events: an erasure deletes a key's row here, and only
/// because no backup of the events holds keys does an old backup stay unreadable. Give this
/// database short-lived backups and WAL retention (days, not months): a deleted row lingers
/// in them until they expire. README, "The subjects' keys".
///
/// Its table is made by ``prepare()`` (the key database's own login owns it). Runs as a
/// service: the connection pool lives as long as the server.
public final class PostgresSubjectKeyStore: SubjectKeyStorage, Service {
    let client: PostgresClient
    let logger: Logger
    public let location: String

    public init(url: DatabaseURL, logger: Logger) {
        self.client = PostgresClient(configuration: url.configuration, backgroundLogger: logger)
        self.logger = logger
        self.location = "key database \(url)"
    }

    public func run() async throws {
        await client.run()
    }

    public func prepare() async throws(PrivacyError) {
        _ = try await perform("prepare the key table") {
            // Replicas start together: two concurrent CREATE TABLE IF NOT EXISTS collide in the
            // catalogue (23505 on pg_type), so the creation is serialised by an advisory lock
            // held for this one statement's transaction.
            try await $0.query(
                """
                DO $$
                BEGIN
                    PERFORM pg_advisory_xact_lock(hashtextextended('spona_subject_keys', 0));
                    CREATE TABLE IF NOT EXISTS subject_keys (
                        subject        uuid        PRIMARY KEY,
                        master_key_id  text        NOT NULL,
                        wrapped_key    bytea       NOT NULL,
                        created_at     timestamptz NOT NULL
                    );
                END
                $$
                """,
                logger: self.logger
            )
        }
    }

    public func read(_ subject: SubjectID) async throws(PrivacyError) -> WrappedSubjectKey? {
        try await perform("read a subject's key") { client in
            let rows = try await client.query(
                "SELECT master_key_id, wrapped_key, created_at FROM subject_keys WHERE subject = \(subject.rawValue)",
                logger: self.logger
            )
            for try await (master, wrapped, created) in rows.decode((String, Data, Date).self) {
                return WrappedSubjectKey(subject: subject, masterKeyID: master, wrappedKey: wrapped, createdAt: created)
            }
            return nil
        }
    }

    public func write(_ key: WrappedSubjectKey, replacing: Bool) async throws(PrivacyError) -> Bool {
        try await perform("store a subject's key") { client in
            let rows =
                replacing
                ? try await client.query(
                    """
                    INSERT INTO subject_keys (subject, master_key_id, wrapped_key, created_at)
                    VALUES (\(key.subject.rawValue), \(key.masterKeyID), \(key.wrappedKey), \(key.createdAt))
                    ON CONFLICT (subject) DO UPDATE SET master_key_id = excluded.master_key_id, wrapped_key = excluded.wrapped_key
                    RETURNING subject
                    """,
                    logger: self.logger
                )
                : try await client.query(
                    """
                    INSERT INTO subject_keys (subject, master_key_id, wrapped_key, created_at)
                    VALUES (\(key.subject.rawValue), \(key.masterKeyID), \(key.wrappedKey), \(key.createdAt))
                    ON CONFLICT (subject) DO NOTHING
                    RETURNING subject
                    """,
                    logger: self.logger
                )
            for try await _ in rows { return true }
            return false
        }
    }

    public func destroy(_ subject: SubjectID) async throws(PrivacyError) -> Bool {
        try await perform("destroy a subject's key") { client in
            let rows = try await client.query("DELETE FROM subject_keys WHERE subject = \(subject.rawValue) RETURNING subject", logger: self.logger)
            for try await _ in rows { return true }
            return false
        }
    }

    public func subjects() async throws(PrivacyError) -> [SubjectID] {
        try await perform("list the subjects' keys") { client in
            var result: [SubjectID] = []
            for try await id in try await client.query("SELECT subject FROM subject_keys", logger: self.logger).decode(UUID.self) {
                result.append(SubjectID(rawValue: id))
            }
            return result
        }
    }

    /// Runs `body` against the key database within a deadline; any failure is the store being
    /// unavailable (the request answers 503, nothing is half-written: each is one statement).
    private func perform<T: Sendable>(_ what: String, _ body: @escaping @Sendable (PostgresClient) async throws -> T) async throws(PrivacyError) -> T
    {
        let client = self.client
        do {
            return try await withTimeout(.seconds(5)) { try await body(client) }
        } catch {
            logger.error("the key database did not answer", metadata: ["operation": "\(what)", "error": "\(String(reflecting: error).prefix(300))"])
            throw .keyStoreUnavailable("the key database cannot \(what) now")
        }
    }
}
