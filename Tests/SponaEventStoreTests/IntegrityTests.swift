import Foundation
import PostgresNIO
import SponaEventStore
import SponaTestSupport
import Testing

/// Runs SQL as the superuser with the append-only triggers switched off: what a database
/// administrator bent on rewriting history could do.
func tamper(_ db: TestDatabase, _ sql: String) async throws {
    try await db.admin.withConnection { connection in
        try await connection.query("ALTER TABLE events DISABLE TRIGGER USER", logger: db.logger)
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: db.logger)
        try await connection.query("ALTER TABLE events ENABLE TRIGGER USER", logger: db.logger)
    }
}

func writeHistory(_ db: TestDatabase) async throws {
    try await db.store.append(
        to: "case-a",
        expected: .noStream,
        events: [
            try event("ReportFiled", ["note": "abc", "place": "Прокупље"]),
            try event("ReportAcknowledged"),
        ]
    )
    try await db.store.append(to: "case-b", expected: .noStream, events: [try event("ReportFiled", ["note": "xyz"])])
    for n in 0..<4 {
        try await db.store.append(to: "case-a", expected: .any, events: [try event("Noted", ["n": "\(n)"])])
    }
}

func expectPermissionDenied(_ client: PostgresClient, _ sql: String, _ db: TestDatabase, sqlState: String, message: String? = nil) async {
    do {
        try await client.query(PostgresQuery(unsafeSQL: sql), logger: db.logger)
        Issue.record("'\(sql)' was allowed")
    } catch let error as PSQLError {
        #expect(error.serverInfo?[.sqlState] == sqlState, "\(sql)")
        if let message { #expect(error.serverInfo?[.message]?.contains(message) == true, "\(sql)") }
    } catch {
        Issue.record("unexpected \(error)")
    }
}

@Suite("History cannot be rewritten unnoticed")
struct IntegrityTests {
    @Test("the application role can neither change nor write around the store")
    func applicationRole() async throws {
        try await TestDatabase.withFresh { db in
            try await writeHistory(db)
            for sql in [
                "UPDATE events SET payload = '{}'",
                "DELETE FROM events",
                "TRUNCATE events",
                "INSERT INTO events SELECT * FROM events LIMIT 1",
                "DELETE FROM idempotency_keys",
            ] {
                await expectPermissionDenied(db.app, sql, db, sqlState: "42501", message: "permission denied")
            }
            #expect(try await db.eventCount() == 7)
        }
    }

    @Test("the owner, and even a superuser, are stopped by the trigger")
    func ownerAndSuperuser() async throws {
        try await TestDatabase.withFresh { db in
            try await writeHistory(db)
            for client in [db.owner, db.admin] {
                for sql in ["UPDATE events SET payload = '{}'", "DELETE FROM events", "TRUNCATE events"] {
                    await expectPermissionDenied(client, sql, db, sqlState: "42501", message: "append-only")
                }
            }
            #expect(try await db.eventCount() == 7)
        }
    }

    @Test("an intact history verifies: Swift recomputes exactly what the database hashed")
    func intactHistoryVerifies() async throws {
        try await TestDatabase.withFresh { db in
            try await writeHistory(db)
            let verifier = try await db.store.verifyHistory(publicKey: nil)
            #expect(verifier.findings == [])
            #expect(verifier.events == 7)
            #expect(verifier.streams == 2)
        }
    }

    @Test("one changed payload byte is found and named by `spona audit verify`")
    func changedByte() async throws {
        try await TestDatabase.withFresh { db in
            try await writeHistory(db)
            let clean = try await runProcess(sponaExecutable, ["audit", "verify"], environment: ["DATABASE_URL": db.appURL])
            #expect(clean.status == 0, "\(clean.output)\(clean.errorOutput)")
            #expect(clean.output.contains("7 events in 2 streams"))

            try await tamper(
                db,
                #"UPDATE events SET payload = jsonb_set(payload, '{note}', '"abd"') WHERE stream_id = 'case-a' AND stream_version = 1"#
            )
            let result = try await runProcess(sponaExecutable, ["audit", "verify"], environment: ["DATABASE_URL": db.appURL])
            #expect(result.status == 1)
            #expect(result.output.contains("stream case-a version 1"), "\(result.output)")
            #expect(result.output.contains("does not match"))
        }
    }

    @Test(
        "an export's previous hashes are the stream's previous events' hashes, whether remembered, fetched for a filtered export, or forgotten",
        arguments: [500_000, 1]
    )
    func exportPreviousHashes(remembered: Int) async throws {
        try await TestDatabase.withFresh { db in
            try await writeHistory(db)
            for n in 0..<5 {
                try await db.store.append(to: "case-b", expected: .any, events: [try event("Noted", ["n": "\(n)"])])
                try await db.store.append(to: "access-b", expected: .any, events: [try event("CaseRead")])
            }
            #expect(try await db.waitUntilReadable())
            for filter in [AuditFilter(), AuditFilter(types: ["Noted"]), AuditFilter(category: "case")] {
                var lines: [AuditedEvent] = []
                let count = try await db.store.exportAuditLines(filter: filter, pageSize: 3, rememberedStreams: remembered) { buffer in
                    for line in buffer.readableBytesView.split(separator: UInt8(ascii: "\n")) { lines.append(try AuditLine.decode(line)) }
                }
                let expected = try await db.store.auditPage(after: .start, limit: 1000, filter: filter)
                #expect(count == expected.count && !expected.isEmpty)
                #expect(lines == expected, "filter \(filter)")
            }
        }
    }
}
