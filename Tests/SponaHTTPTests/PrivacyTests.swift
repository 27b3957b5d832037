import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaRecords
import SponaTestSupport
import Testing

@testable import SponaHTTP

/// The personal data of the journey's girl: names that must never show up anywhere but in
/// the answer to a read with a reason.
var personalData: [String: Any] {
    [
        "name": "Milica Zdravković-Testna",
        "birthDate": "2010-03-14",
        "contacts": ["+381 64 555 0199", "milica.zt@example.org"],
        "documents": ["LK 009912345"],
        "narrative": "Upoznala je čoveka preko Instagrama koji joj nudi posao u Minhenu.",
    ]
}
let personalStrings = ["Milica", "Zdravkovi", "2010-03-14", "555 0199", "milica.zt", "009912345", "Instagram", "Minhen"]

func reportWithPersonalData() -> [String: Any] {
    var report = Network.report
    report["personalData"] = personalData
    return report
}

@Suite("Personal data: sealed, read with a reason, erased for good")
struct PrivacyTests {
    @Test("personal data is sealed in the event, absent from the case and projections, and read only with a reason")
    func sealedAndReadWithReason() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
            #expect(filed.status == .created, "\(filed.text)")
            let path = try #require(filed.location)
            #expect(filed["personalData"] as? String == "present")
            for secret in personalStrings { #expect(!filed.text.contains(secret)) }

            // Nothing readable in the store: every payload, every table a projection writes.
            try await api.eventually("the projections caught up") {
                let mine = try await api.send(.get, "/v1/reports/mine", token: n.schoolStaff)
                return (mine["reports"] as? [[String: Any]])?.count == 1
            }
            for secret in personalStrings {
                let rows = try await api.db.admin.query(
                    """
                    SELECT (SELECT count(*) FROM events WHERE payload::text ILIKE '%' || \(secret) || '%' OR metadata::text ILIKE '%' || \(secret) || '%')
                         + (SELECT count(*) FROM case_reports r WHERE r::text ILIKE '%' || \(secret) || '%')
                         + (SELECT count(*) FROM open_work w WHERE w::text ILIKE '%' || \(secret) || '%')
                    """,
                    logger: api.db.logger
                )
                for try await count in rows.decode(Int64.self) { #expect(count == 0, "'\(secret)' found in the database") }
            }

            // A read needs a reason.
            let withoutReason = try await api.send(.get, path + "/personal-data", token: n.coordinator)
            #expect(withoutReason.status == .unprocessableContent)
            let read = try await api.send(
                .get,
                path + "/personal-data",
                token: n.coordinator,
                headers: readReason("preparing%20the%20case%20conference")
            )
            #expect(read.status == .ok, "\(read.text)")
            #expect(read["status"] as? String == "present")
            let data = try #require(read["personalData"] as? [String: Any])
            #expect(data["name"] as? String == personalData["name"] as? String)
            #expect(data["narrative"] as? String == personalData["narrative"] as? String)
            #expect(read.headers[.cacheControl] == "no-store")

            // Auditors see the case and its history, never the person.
            let auditor = try await api.token(.center, .auditor)
            #expect(try await api.send(.get, path, token: auditor).status == .ok)
            #expect(try await api.send(.get, path + "/personal-data", token: auditor, headers: readReason("audit")).status == .forbidden)

            // The read trail: one record per read, with the reader and the reason.
            let caseID = CaseID(rawValue: UUID(uuidString: String(path.split(separator: "/").last!))!)
            let records = try await ReadTrail(store: api.db.store).records(of: caseID)
            #expect(records.map(\.read.read) == [.personalData, .case])
            // The reason is stored sealed under the subject's key; auditors read it opened.
            #expect(records[0].read.reason?.plain == nil)
            let stored = try await api.db.store.readStream(Streams.access(caseID))
            #expect(!stored.contains { String(decoding: $0.payload, as: UTF8.self).contains("case conference") })
            // The reason travels best in a header (a query string lands in proxies' logs), in
            // any language; and the proxy's request id follows the request into the record.
            let inHeader = try await api.send(
                .get,
                path + "/personal-data",
                token: n.coordinator,
                headers: [HTTPField.Name("Spona-Read-Reason")!: "priprema%20za%20ro%C4%8Di%C5%A1te", HTTPField.Name("X-Request-ID")!: "proxy-7f3a"]
            )
            #expect(inHeader.status == .ok && inHeader.headers[HTTPField.Name("X-Request-ID")!] == "proxy-7f3a", "\(inHeader.text)")
            // The old form, a reason in the query string, is refused and reads nothing.
            let inQuery = try await api.send(.get, path + "/personal-data?reason=in%20the%20log", token: n.coordinator)
            #expect(inQuery.status == .unprocessableContent && inQuery["personalData"] == nil, "\(inQuery.text)")
            #expect((inQuery["detail"] as? String)?.contains("Spona-Read-Reason header") == true)
            let made = try await api.send(.get, path + "/personal-data", token: n.coordinator, headers: [HTTPField.Name("X-Request-ID")!: "a b"])
            #expect(made.status == .unprocessableContent && made.headers[HTTPField.Name("X-Request-ID")!].map { $0 != "a b" && !$0.isEmpty } == true)
            let trail = try await api.send(.get, "/v1/audit/access?case=\(caseID)", token: auditor)
            #expect(trail.text.contains("priprema za ročište") && trail.text.contains("proxy-7f3a"), "\(trail.text.prefix(600))")
            #expect(trail.text.contains("preparing the case conference"), "\(trail.text.prefix(400))")
            #expect(records[0].metadata.role == .coordinator)
            #expect(records[0].metadata.institution == .center)
            #expect(records[1].metadata.role == .auditor)
        }
    }

    @Test("every read of a case by a person leaves exactly one record, with the right actor")
    func readTrail() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, _) = try await n.fileReport()
            let caseID = CaseID(rawValue: UUID(uuidString: String(path.split(separator: "/").last!))!)
            #expect(try await ReadTrail(store: api.db.store).records(of: caseID).isEmpty)
            #expect(try await api.send(.get, path, token: n.schoolStaff).status == .ok)
            #expect(try await api.send(.get, path + "/events", token: n.coordinator).status == .ok)
            #expect(try await api.send(.get, path, token: n.coordinator).status == .ok)
            // A refused read is no read.
            #expect(try await api.send(.get, path, token: n.officer).status == .notFound)
            let records = try await ReadTrail(store: api.db.store).records(of: caseID)
            #expect(records.map(\.read.read) == [.case, .history, .case])
            #expect(records.map(\.metadata.institution) == [n.school, .center, .center])
            #expect(records.map(\.metadata.role) == [.reporter, .coordinator, .coordinator])
            #expect(Set(records.map(\.metadata.actor)).count == 2)
        }
    }

    @Test("erasure destroys the key: the case reads back erased, history verifies, and an older backup reveals nothing")
    func erasure() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
            let path = try #require(filed.location)
            let caseID = CaseID(rawValue: UUID(uuidString: String(path.split(separator: "/").last!))!)

            // A backup of the whole database, taken before the erasure.
            let backup = FileManager.default.temporaryDirectory.appendingPathComponent("spona-backup-\(UUID().uuidString).dump")
            defer { try? FileManager.default.removeItem(at: backup) }
            let adminURL = try #require(ProcessInfo.processInfo.environment["SPONA_ADMIN_DATABASE_URL"])
            let dump = try await runProcess(
                try postgresTool("pg_dump"),
                ["--format=custom", "--file", backup.path, TestDatabase.url(adminURL, database: api.db.name)]
            )
            #expect(dump.status == 0, "\(dump.errorOutput)")

            // Only an admin may erase, and only with a legal basis and a reference.
            let refused = try await api.send(
                .post,
                path + "/erase-personal-data",
                token: n.coordinator,
                json: ["legalBasis": "GDPR Art. 17", "reference": "DPA-1"]
            )
            #expect(refused.status == .notFound)
            let incomplete = try await api.send(.post, path + "/erase-personal-data", token: n.admin, json: ["legalBasis": "GDPR Art. 17"])
            #expect(incomplete.status == .unprocessableContent)
            let before = try await api.db.eventCount()
            let erased = try await api.send(
                .post,
                path + "/erase-personal-data",
                token: n.admin,
                json: ["legalBasis": "ZZPL čl. 30 (GDPR Art. 17)", "reference": "Poverenik 072-16-1234/2026"]
            )
            #expect(erased.status == .ok, "\(erased.text)")
            #expect(erased["personalData"] as? String == "erased")
            #expect(try await api.db.eventCount() == before + 1)
            let again = try await api.send(.post, path + "/erase-personal-data", token: n.admin, json: ["legalBasis": "x", "reference": "y"])
            #expect(again.status == .conflict)

            // The case reads back with its personal data marked erased; the rest is whole.
            let shown = try await api.send(.get, path, token: n.coordinator)
            #expect(shown["personalData"] as? String == "erased")
            #expect(shown["personalDataErasedAt"] as? String != nil)
            #expect((shown["report"] as? [String: Any])?["municipality"] as? String == "prokuplje")
            let read = try await api.send(.get, path + "/personal-data", token: n.coordinator, headers: readReason("check"))
            #expect(read.status == .ok)
            #expect(read["status"] as? String == "erased")
            #expect(read["personalData"] == nil)
            let history = try await api.send(.get, path + "/events", token: n.coordinator)
            #expect(history.array.map { $0["type"] as? String } == ["ReportFiled", "PersonalDataErased"])

            // Every hash chain still verifies.
            let verify = try await runProcess(sponaExecutable, ["audit", "verify"], environment: ["DATABASE_URL": api.db.appURL])
            #expect(verify.status == 0, "\(verify.output)\(verify.errorOutput)")

            // Restore the old backup: it has the sealed data and no erasure, and still opens nothing.
            let restored = api.db.name + "_restored"
            try await api.db.admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(restored)"), logger: api.db.logger)
            do {
                let restore = try await runProcess(
                    try postgresTool("pg_restore"),
                    ["--no-owner", "--dbname", TestDatabase.url(adminURL, database: restored), backup.path]
                )
                #expect(restore.status == 0, "\(restore.errorOutput)")
                try await withPostgresClient(try DatabaseURL(TestDatabase.url(adminURL, database: restored)).configuration, logger: api.db.logger) {
                    old in
                    let store = PostgresEventStore(client: old, logger: api.db.logger)
                    let history = try EventCoding.caseEvents(try await store.readStream(Streams.case(caseID)))
                    let state = try #require(Case.replay(history))
                    #expect(state.personalDataErasedAt == nil)
                    let sealed = try #require(state.report.personalData)
                    let opened = try await api.vault.open(sealed, subject: state.report.subject.id)
                    #expect(opened == nil)
                    // And through the API of a server on the restored database: erased, nothing else.
                    let service = CaseService(store: store, geography: shippedGeography, vault: api.vault)
                    let reader = Caller(actor: Actor(id: "coordinator-1", institution: .center, role: .coordinator), isCenter: true)
                    let reading = try await service.readPersonalData(caseID, caller: reader, reason: "restore check", requestID: "r-1").readings
                        .first?.reading
                    guard case .erased = reading else {
                        Issue.record("the restored backup revealed personal data")
                        return
                    }
                    // Nor is the erased subject given a new key for a text: it would outlive the erasure.
                    await #expect(throws: PrivacyError.subjectKeyDestroyed) {
                        try await service.handle(
                            .close(reason: "duplicate of another report"),
                            on: caseID,
                            expectedVersion: 1,
                            caller: reader,
                            requestID: "r-2",
                            idempotencyKey: nil
                        )
                    }
                    let status = await api.vault.keyStatus(state.report.subject.id)
                    #expect(status == .missing)
                }
            } catch {
                Issue.record("restore failed: \(error)")
            }
            _ = try? await api.db.admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(restored) WITH (FORCE)"), logger: api.db.logger)
        }
    }

    @Test("what people write into a case is sealed under the subject's key: read by the parties, withheld from auditors, erased with the subject")
    func textsAreSealed() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, first) = try await n.fileReport()
            var etag = first
            func step(_ suffix: String, _ token: String, _ json: [String: Any]) async throws -> Reply {
                let reply = try await api.send(.post, path + suffix, token: token, json: json, ifMatch: etag)
                if let next = reply.etag { etag = next }
                return reply
            }
            let secret = "her uncle Dragan drives her to Novi Pazar on Fridays"
            #expect(try await step("/acknowledge", n.coordinator, [:]).status == .ok)
            let sent = try await step(
                "/referrals",
                n.coordinator,
                [
                    "to": n.socialWork.rawValue.uuidString, "reason": secret, "requestedServices": ["assessment", "shelter"],
                    "due": iso(Date().addingTimeInterval(86_400)),
                ]
            )
            #expect(sent.status == .created, "\(sent.text)")
            #expect((sent["referrals"] as? [[String: Any]])?.first?["reason"] as? String == secret)
            #expect(try await step("/referrals/x/decline", n.socialWorker, ["reason": "x"]).status == .notFound)

            // Nothing in the store holds the text in the clear: not the event, not any table.
            let dump = try await runProcess(
                try postgresTool("pg_dump"),
                [
                    "--data-only",
                    TestDatabase.url(
                        try #require(ProcessInfo.processInfo.environment["SPONA_ADMIN_DATABASE_URL"]),
                        database: api.db.name
                    ),
                ]
            )
            #expect(dump.status == 0, "\(dump.errorOutput)")
            #expect(!dump.output.contains("Dragan") && dump.output.contains("ReferralSent"))

            // The parties read it; the receiving institution too; an auditor sees the case without it.
            let shown = try await api.send(.get, path, token: n.socialWorker)
            #expect(shown["texts"] as? String == "readable")
            #expect((shown["referrals"] as? [[String: Any]])?.first?["reason"] as? String == secret)
            let audited = try await api.send(.get, path, token: try await api.token(.center, .auditor))
            #expect(audited.status == .ok && audited["texts"] as? String == "withheld", "\(audited.text)")
            #expect(!audited.text.contains("Dragan"))
            #expect((audited["referrals"] as? [[String: Any]])?.first?["requestedServices"] as? [String] == ["assessment", "shelter"])

            // Erased with the subject: the text can never be read again, and no new text is taken.
            let erased = try await api.send(
                .post,
                path + "/erase-personal-data",
                token: n.admin,
                json: ["legalBasis": "GDPR Art. 17", "reference": "DPA-7"],
                ifMatch: etag
            )
            #expect(erased.status == .ok, "\(erased.text)")
            etag = try #require(erased.etag)
            let after = try await api.send(.get, path, token: n.coordinator)
            #expect(after["texts"] as? String == "erased" && !after.text.contains("Dragan"), "\(after.text)")
            let referral = try #require((after["referrals"] as? [[String: Any]])?.first?["id"] as? String)
            let withText = try await step("/referrals/\(referral)/withdraw", n.coordinator, ["reason": "moved to Novi Pazar with her uncle"])
            #expect(withText.status == .conflict && withText.text.contains("erased"), "\(withText.text)")
            #expect(try await step("/referrals/\(referral)/withdraw", n.coordinator, [:]).status == .ok)
            #expect(try await step("/close", n.coordinator, [:]).status == .ok)
            #expect(try await step("/reopen", n.coordinator, ["reason": ""]).status == .ok)
        }
    }

    @Test("a whole journey with personal data leaves none of it in the server's logs, even at trace level")
    func logsHoldNoPersonalData() async throws {
        let logs = LogCapture()
        try await APIHarness.run(logs: logs) { api in
            let n = try await Network.make(api)
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData(), idempotencyKey: "with-data")
            let path = try #require(filed.location)
            var etag = try #require(filed.etag)
            for (suffix, token, json) in [
                ("/acknowledge", n.coordinator, [String: Any]()),
                ("/triage", n.coordinator, ["confirmedRisk": "high", "caseManager": "c-1"]),
                ("/identification", n.coordinator, ["outcome": "identified_victim"]),
                ("/close", n.coordinator, ["reason": "assistance plan in place"]),
            ] {
                let reply = try await api.send(.post, path + suffix, token: token, json: json, ifMatch: etag)
                #expect(reply.status == .ok, "\(reply.text)")
                etag = reply.etag ?? etag
            }
            _ = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData(), idempotencyKey: "with-data")
            _ = try await api.send(.get, path + "/personal-data", token: n.coordinator, headers: readReason("conference"))
            _ = try await api.send(.get, path + "/personal-data", token: n.officer, headers: readReason("conference"))
            // Refusals name fields, never their content.
            var tooLong = reportWithPersonalData()
            tooLong["personalData"] = ["name": String(repeating: "Milica ", count: 100)]
            let refused = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: tooLong)
            #expect(refused.status == .unprocessableContent)
            #expect(!refused.text.contains("Milica"))
            var badType = reportWithPersonalData()
            badType["personalData"] = ["name": "Milica Zdravković-Testna", "contacts": "+381 64 555 0199"]
            let wrong = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: badType)
            #expect(wrong.status == .unprocessableContent)
            for secret in personalStrings { #expect(!wrong.text.contains(secret)) }
            _ = try await api.send(.post, path + "/erase-personal-data", token: n.admin, json: ["legalBasis": "GDPR Art. 17", "reference": "R-1"])
        }
        let text = logs.text
        #expect(!text.isEmpty, "the server logged nothing at trace level: the capture is not wired")
        for secret in personalStrings {
            #expect(!text.contains(secret), "'\(secret)' appears in the logs")
        }
    }

    @Test("rotating the master key re-wraps every subject key without touching events")
    func rotation() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
            let caseID = CaseID(rawValue: UUID(uuidString: String(try #require(filed.location).split(separator: "/").last!))!)
            let before = try await api.db.eventCount()

            let newKey = try MasterKey(base64: MasterKey.generate())
            let rotating = PersonalDataVault(keys: MasterKeyring(current: newKey, previous: [api.vault.keys.current]), store: api.vault.store)
            let result = try await rotating.rotate()
            #expect(result.rewrapped == 1 && result.current == 0)
            let again = try await rotating.rotate()
            #expect(again.rewrapped == 0)
            #expect(try await api.db.eventCount() == before)

            // Only the new key is needed now; the old one alone no longer opens anything.
            let state = try #require(Case.replay(try EventCoding.caseEvents(try await api.db.store.readStream(Streams.case(caseID)))))
            let sealed = try #require(state.report.personalData)
            let onlyNew = PersonalDataVault(keys: MasterKeyring(current: newKey), store: api.vault.store)
            let openedWithNew = try await onlyNew.open(sealed, subject: state.report.subject.id)
            #expect(openedWithNew?.name == personalData["name"] as? String)
            await #expect(throws: PrivacyError.self) { try await api.vault.open(sealed, subject: state.report.subject.id) }
        }
    }
}

/// A PostgreSQL client program of the cluster's version.
func postgresTool(_ name: String) throws -> String {
    let directories = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
    for version in directories.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
        let path = "/usr/lib/postgresql/\(version)/bin/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    for directory in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(name)") {
        return "\(directory)/\(name)"
    }
    throw TestDatabase.SetupError.missingEnvironment(name)
}

/// The header a read of personal data gives its reason in (`reason` as percent-encoded text).
func readReason(_ reason: String) -> HTTPFields {
    [HTTPField.Name("Spona-Read-Reason")!: reason]
}
