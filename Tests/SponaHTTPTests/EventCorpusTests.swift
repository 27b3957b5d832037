import Foundation
import HTTPTypes
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections
import SponaRecords
import Testing

/// Histories as earlier versions of Spona wrote them, byte for byte as PostgreSQL gave them
/// back (`Tests/EventCorpus/*.jsonl`). They must decode, fold and serve for ever: a change to an
/// event that breaks one of them breaks every real history of that age.
///
/// A new corpus file is written with `SPONA_WRITE_EVENT_CORPUS=<name> swift test --filter
/// EventCorpus` after an event type changes version; old files are never edited.
@Suite("The event corpus")
struct EventCorpusTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EventCorpus")

    /// Every family of events the application writes, with the versions it knows.
    static let families: [EventSchemas] = [
        CaseEvent.schemas, InstitutionEvent.schemas, TrainingHeld.schemas, ReadTrail.schemas, ProjectionEventSkipped.schemas,
    ]

    struct Line: Codable {
        var stream: String
        var type: String
        var schemaVersion: Int32
        /// The payload's text exactly as stored.
        var payload: String
        var metadata: String
    }

    static func corpus() throws -> [(file: String, lines: [Line])] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jsonl") }.sorted()
        return try files.map { file in
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            return (file, try text.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) })
        }
    }

    /// Decodes one stored event the way the application's readers do.
    static func decode(_ line: Line) throws {
        let payload = Data(line.payload.utf8)
        let stream = StreamID(stringLiteral: line.stream)
        if Streams.caseID(of: stream) != nil {
            _ = try CaseEvent(typeName: line.type, schemaVersion: line.schemaVersion, payload: payload, decoder: EventCoding.decoder)
        } else if Streams.institutionID(of: stream) != nil {
            _ = try InstitutionEvent(typeName: line.type, schemaVersion: line.schemaVersion, payload: payload, decoder: EventCoding.decoder)
        } else if Streams.trainingID(of: stream) != nil {
            _ = try TrainingHeld.decode(schemaVersion: line.schemaVersion, payload: payload, decoder: EventCoding.decoder)
        } else if [ReadTrail.eventType, "AuditQueried", ReadTrail.ViewQuery.eventType, ReadTrail.ReadRefused.eventType].contains(line.type) {
            _ = try EventCoding.decoder.decode(
                JSONValue.self,
                from: try ReadTrail.schemas.upcast(type: line.type, version: line.schemaVersion, payload: payload)
            )
        } else if line.type == ProjectionEventSkipped.typeName {
            _ = try EventCoding.decoder.decode(
                ProjectionEventSkipped.self,
                from: try ProjectionEventSkipped.schemas.upcast(type: line.type, version: line.schemaVersion, payload: payload)
            )
        } else {
            Issue.record("the corpus holds \(line.type) in \(line.stream), which no family of events claims")
        }
        _ = try EventCoding.decoder.decode(CommandMetadata.self, from: Data(line.metadata.utf8))
    }

    @Test("every event type has an upcaster from each of its past versions")
    func noVersionWithoutUpcaster() {
        for family in Self.families {
            let missing = family.missingUpcasters.map { "\($0.type) v\($0.version)" }
            #expect(missing.isEmpty, "\(family.family) events without a way to the current version: \(missing)")
        }
    }

    @Test("the corpus holds every type of every family at every version, and each decodes")
    func everyVersionDecodes() throws {
        let corpus = try Self.corpus()
        #expect(!corpus.isEmpty, "no corpus under \(Self.folder.path)")
        var present = Set<String>()
        for (file, lines) in corpus {
            for line in lines {
                present.insert("\(line.type) v\(line.schemaVersion)")
                do { try Self.decode(line) } catch { Issue.record("\(file): \(line.type) v\(line.schemaVersion) in \(line.stream): \(error)") }
            }
        }
        for family in Self.families {
            for type in family.types {
                for version in 1...family.current(type) {
                    #expect(
                        present.contains("\(type) v\(version)"),
                        "the corpus has no \(type) v\(version): write a corpus file (see this suite's comment)"
                    )
                }
            }
        }
    }

    @Test("each corpus history, stored again, folds in every projection and is served")
    func everyHistoryFoldsAndServes() async throws {
        for (file, lines) in try Self.corpus() {
            try await APIHarness.run { api in
                for line in lines where !(line.type == "InstitutionRegistered" && line.stream == Streams.institution(.center).rawValue) {
                    try await api.db.store.append(
                        to: StreamID(stringLiteral: line.stream),
                        expected: .any,
                        events: [EventData(type: line.type, schemaVersion: line.schemaVersion, payload: Data(line.payload.utf8))],
                        metadata: EventMetadata(json: Data(line.metadata.utf8))
                    )
                }
                #expect(try await api.db.waitUntilReadable())
                try await api.eventually("\(file): every projection caught up") {
                    let ready = try await api.send(.get, "/readyz", token: nil)
                    let lags = ready["projections"] as? [String: [String: Any]] ?? [:]
                    return ready.status == .ok && ready["status"] as? String == "ready" && lags.count == 3
                        && lags.values.allSatisfy { $0["eventsBehind"] as? Int == 0 }
                }
                #expect(try await ProjectionFailures.all(client: api.db.app, logger: api.db.logger).isEmpty, "\(file)")
                let coordinator = try await api.token(.center, .coordinator)
                let cases = try await api.send(.get, "/v1/views/cases", token: coordinator)
                let rows = cases["rows"] as? [[String: Any]] ?? []
                #expect(!rows.isEmpty, "\(file): \(cases.text.prefix(300))")
                for row in rows {
                    let id = try #require(row["caseId"] as? String)
                    #expect(try await api.send(.get, "/v1/cases/\(id)", token: coordinator).status == .ok, "\(file): case \(id)")
                    #expect(try await api.send(.get, "/v1/cases/\(id)/events", token: coordinator).status == .ok, "\(file): case \(id)")
                    let access = try await api.send(.get, "/v1/audit/access?case=\(id)", token: try await api.token(.center, .auditor))
                    #expect(access.status == .ok, "\(file): \(access.text.prefix(300))")
                    #expect(!access.text.contains("unreadable"), "\(file): \(access.text.prefix(300))")
                }
                for view in ["/v1/views/municipalities", "/v1/views/trainings", "/v1/views/sectors", "/v1/views/flows/sectors"] {
                    #expect(try await api.send(.get, view, token: coordinator).status == .ok, "\(file): \(view)")
                }
            }
        }
    }

    @Test("an event written by a newer Spona stops only the projections that fold it, and says why")
    func eventFromTheFuture() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let (path, _) = try await n.fileReport()
            let stored = try #require(try await api.db.store.readStream(StreamID(stringLiteral: "case-" + path.split(separator: "/").last!)).first)
            let future = CaseID()
            try await api.db.store.append(
                to: Streams.case(future),
                expected: .noStream,
                events: [EventData(type: stored.type, schemaVersion: CaseEvent.schemas.current(stored.type) + 1, payload: stored.payload)],
                metadata: EventMetadata(json: stored.metadata)
            )
            try await api.eventually("the case projections to stop at the event") {
                let failures = try await ProjectionFailures.all(client: api.db.app, logger: api.db.logger)
                return failures.values.contains { $0.error.contains("written by a newer Spona") }
            }
            #expect(try await ProjectionFailures.all(client: api.db.app, logger: api.db.logger)[InstitutionsProjection.projectionName] == nil)
            let read = try await api.send(.get, "/v1/cases/\(future)", token: n.coordinator)
            #expect(read.status == .serviceUnavailable && read.text.contains("newer Spona"), "\(read.text)")
        }
    }

    // MARK: - Writing a corpus file

    @Test(
        "write a corpus file of every event type (only with SPONA_WRITE_EVENT_CORPUS=<name>)",
        .enabled(if: ProcessInfo.processInfo.environment["SPONA_WRITE_EVENT_CORPUS"] != nil)
    )
    func writeCorpus() async throws {
        let name = ProcessInfo.processInfo.environment["SPONA_WRITE_EVENT_CORPUS"]!
        // As a network with an identity provider writes it: people in the metadata.
        try await TestIdentityProvider.run { people in try await Self.writeCorpus(name, people: people) }
    }

    static func writeCorpus(_ name: String, people: TestIdentityProvider) async throws {
        try await APIHarness.run(people: people, configure: { $0.personalDataReadsPerHour = 1 }) { api in
            let n = try await Network.make(api)
            let admin = n.admin
            var report = Network.report
            report["personalData"] = ["fullName": "Invented Person", "narrative": "An invented narrative for the corpus."]
            // A report about two people, each with data of their own.
            report["otherSubjects"] = [["ageGroup": "child_0_13", "gender": "male", "personalData": ["name": "Invented Sibling"]]]
            let filed = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: report)
            let path = try #require(filed.location)
            var etag = try #require(filed.etag)
            let sibling = try #require((filed["subjects"] as? [[String: Any]])?.last?["id"] as? String)
            @discardableResult
            func step(_ suffix: String, _ token: String, _ json: [String: Any] = [:]) async throws -> Reply {
                let reply = try await api.send(.post, path + suffix, token: token, json: json, ifMatch: etag)
                #expect(reply.status.code < 300, "\(suffix): \(reply.text)")
                if let next = reply.etag { etag = next }
                return reply
            }
            let due = iso(Date().addingTimeInterval(3 * 86_400))
            try await step("/acknowledge", n.coordinator)
            try await step("/triage", n.coordinator, ["confirmedRisk": "high", "caseManager": "coordinator-7", "note": "urgent"])
            func refer(_ to: InstitutionID) async throws -> String {
                let sent = try await step(
                    "/referrals",
                    n.coordinator,
                    [
                        "to": to.rawValue.uuidString, "reason": "assessment",
                        "requestedServices": ["assessment"], "urgency": "urgent", "due": due,
                    ]
                )
                return String(try #require(sent.location).dropFirst(path.count))
            }
            let completed = try await refer(n.socialWork)
            try await step(completed + "/receive", n.socialWorker)
            try await step(completed + "/accept", n.socialWorker, ["note": "we take it"])
            try await step(completed + "/complete", n.socialWorker, ["outcome": "assessed"])
            try await step(try await refer(n.socialWork) + "/decline", n.socialWorker, ["reason": "not ours"])
            let failed = try await refer(n.socialWork)
            try await step(failed + "/accept", n.socialWorker, [:])
            try await step(failed + "/fail", n.socialWorker, ["reason": "family moved"])
            try await step(try await refer(n.police) + "/withdraw", n.coordinator, ["reason": "not needed"])
            try await step(try await refer(n.health) + "/entered-in-error", n.coordinator, ["reason": "wrong case"])
            let held = try await step("/conferences", n.coordinator, ["at": due, "invited": [n.police.rawValue.uuidString]])
            let conference = String(try #require(held.location).dropFirst(path.count))
            try await step(conference + "/held", n.coordinator, ["attended": [n.police.rawValue.uuidString]])
            let decision = try await step(
                conference + "/decisions",
                n.coordinator,
                [
                    "type": "shelter_placement", "responsible": n.police.rawValue.uuidString, "due": due, "note": "placement",
                ]
            )
            try await step(String(try #require(decision.location).dropFirst(path.count)) + "/implemented", n.coordinator, ["note": "done"])
            let cancelled = try await step("/conferences", n.coordinator, ["at": due, "invited": [n.police.rawValue.uuidString]])
            try await step(String(try #require(cancelled.location).dropFirst(path.count)) + "/cancel", n.coordinator, ["reason": "moved"])
            try await step("/identification", n.coordinator, ["outcome": "identified_victim", "note": "identified"])
            try await step("/identification", n.coordinator, ["outcome": "at_risk_prevention", "subject": sibling])
            try await step("/assistance", n.coordinator, ["kind": "shelter", "provider": n.socialWork.rawValue.uuidString, "note": "shelter"])
            try await step("/assistance", n.coordinator, ["kind": "education", "provider": n.socialWork.rawValue.uuidString, "subject": sibling])
            try await step("/close", n.coordinator, ["reason": "assisted"])
            try await step("/reopen", n.coordinator, ["reason": "new information"])
            #expect(try await api.send(.get, path, token: n.coordinator).status == .ok)
            #expect(try await api.send(.get, path + "/personal-data", token: n.coordinator, headers: readReason("corpus%20check")).status == .ok)
            // A second read in the hour is over this corpus's limit: refused, and on the trail.
            #expect(try await api.send(.get, path + "/personal-data", token: n.coordinator, headers: readReason("again")).status == .tooManyRequests)
            try await step("/erase-personal-data", admin, ["legalBasis": "GDPR Art. 17(1)(a)", "reference": "corpus-0", "subject": sibling])
            try await step("/erase-personal-data", admin, ["legalBasis": "GDPR Art. 17(1)(a)", "reference": "corpus-1"])

            let institution = try await api.register("Dom zdravlja Korpus", sector: .health, municipality: "prokuplje", admin: admin)
            #expect(
                try await api.send(
                    .put,
                    "/v1/institutions/\(institution)",
                    token: admin,
                    json: ["nameLatin": "Dom zdravlja Korpus II", "sector": "health", "municipality": "prokuplje"]
                ).status == .ok
            )
            #expect(try await api.send(.post, "/v1/institutions/\(institution)/deactivate", token: admin, json: ["reason": "merged"]).status == .ok)
            #expect(try await api.send(.post, "/v1/institutions/\(institution)/reactivate", token: admin, json: [:]).status == .ok)
            #expect(
                try await api.send(
                    .post,
                    "/v1/trainings",
                    token: admin,
                    json: [
                        "date": "2026-03-10", "host": "prokuplje", "participants": 40, "women": 30, "men": 10,
                        "participantsBySector": ["health": 10, "education": 30], "municipalities": ["prokuplje"],
                    ]
                ).status == .created
            )
            #expect(try await api.send(.get, "/v1/audit/events", token: try await api.token(.center, .auditor)).status == .ok)
            let analyst = try await api.token(.center, .analyst, districts: ["RS-21"])
            #expect(try await api.send(.get, "/v1/views/municipalities?district=RS-21", token: analyst).status == .ok)
            let skip = ProjectionEventSkipped(projection: "statistics", eventID: UUID(), stream: "case-x", version: 1, reason: "corpus")
            try await api.db.store.append(
                to: ProjectionEventSkipped.stream,
                expected: .any,
                events: [
                    EventData(
                        type: ProjectionEventSkipped.typeName,
                        schemaVersion: ProjectionEventSkipped.schemaVersion,
                        payload: try EventCoding.encoder.encode(skip)
                    )
                ],
                metadata: try EventCoding.metadata(
                    CommandMetadata(
                        actor: Actor(id: "operator:corpus", institution: .center, role: .admin),
                        requestID: "corpus"
                    )
                )
            )

            var text = ""
            var cursor = EventCursor.start
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            while true {
                let page = try await api.db.store.readAll(after: cursor, limit: 1000)
                guard let last = page.last else { break }
                for event in page {
                    let line = Line(
                        stream: event.streamID.rawValue,
                        type: event.type,
                        schemaVersion: event.schemaVersion,
                        payload: String(decoding: event.payload, as: UTF8.self),
                        metadata: String(decoding: event.metadata, as: UTF8.self)
                    )
                    text += String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
                }
                cursor = last.cursor
            }
            try FileManager.default.createDirectory(at: Self.folder, withIntermediateDirectories: true)
            try text.write(to: Self.folder.appendingPathComponent("\(name).jsonl"), atomically: true, encoding: .utf8)
        }
    }
}
