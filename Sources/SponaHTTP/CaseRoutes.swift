import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaRecords

/// The bodies clients send to case routes. Enumerations are the domain's own, by raw value.
enum CaseRequests {
    struct FileReport: Decodable {
        struct Subject: Decodable {
            var ageGroup: AgeGroup
            var gender: Gender
            var citizenship: String?
            var isMigrant: Bool?
            var vulnerableGroups: [String]?
        }
        var municipality: MunicipalityCode
        var channel: ReportChannel
        var subject: Subject
        var locations: [Location]?
        var exploitation: [ExploitationForm]?
        var indicators: [IndicatorID]?
        var urgency: Urgency?
        var reporterTrained: Bool?
        /// Name, birth date, contacts, documents, narrative: sealed before anything else sees it.
        var personalData: PersonalData?
        /// Everyone else the report is about, each with their own personal data (sealed under
        /// a key of their own, so that each can be erased alone).
        var otherSubjects: [OtherSubject]?

        /// A person as ``Subject`` describes them, with their personal data beside.
        struct OtherSubject: Decodable {
            var subject: Subject
            var personalData: PersonalData?

            private enum CodingKeys: String, CodingKey { case personalData }

            init(from decoder: any Decoder) throws {
                subject = try Subject(from: decoder)
                personalData = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(PersonalData.self, forKey: .personalData)
            }
        }
    }
    struct Empty: Decodable {}
    struct Erasure: Decodable {
        var legalBasis: String
        var reference: String
        /// One person's data alone; absent: every person's not erased yet.
        var subject: SubjectID?
    }
    struct Triage: Decodable {
        var confirmedRisk: RiskLevel
        var caseManager: String
        var note: String?
    }
    struct Identification: Decodable {
        var outcome: IdentificationOutcome
        var note: String?
        /// About one person of the case; absent: every person of it.
        var subject: SubjectID?
    }
    struct Assistance: Decodable {
        var kind: AssistanceKind
        var provider: InstitutionID?
        var note: String?
        /// For one person of the case; absent: every person of it.
        var subject: SubjectID?
    }
    /// Required, except once the subject's personal data is erased (the case then takes no text).
    struct Reason: Decodable { var reason: String? }
    struct OptionalReason: Decodable { var reason: String? }
    struct Note: Decodable { var note: String? }
    struct Outcome: Decodable { var outcome: String }
    struct Referral: Decodable {
        var to: InstitutionID
        var reason: String
        var requestedServices: [RequestedService]?
        var urgency: Urgency?
        var due: Date
    }
    struct Conference: Decodable {
        var at: Date
        var invited: [InstitutionID]
    }
    struct Held: Decodable { var attended: [InstitutionID] }
    struct Decision: Decodable {
        var type: DecisionType
        var responsible: InstitutionID
        var due: Date?
        var note: String?
    }
}

extension CaseRequests.FileReport.Subject {
    /// The person as the domain knows them, under the id the server gave them.
    func profile(_ id: SubjectID) -> SubjectProfile {
        SubjectProfile(
            id: id,
            ageGroup: ageGroup,
            gender: gender,
            citizenship: citizenship,
            isMigrant: isMigrant ?? false,
            vulnerableGroups: vulnerableGroups ?? []
        )
    }
}

/// `/v1/cases`: filing reports and every step of a case after that.
struct CaseRoutes {
    let cases: CaseService

    init(cases: CaseService, personalDataReads: SlidingWindowLimit? = nil) {
        var cases = cases
        cases.personalDataReads = personalDataReads
        self.cases = cases
    }

    func register(on group: RouterGroup<SponaRequestContext>) {
        group.post("cases") { request, context in
            let caller = try context.requireRole(.reporter, .coordinator)
            let body = try await request.decode(as: CaseRequests.FileReport.self, context: context)
            let key = try request.idempotencyKey()
            let ids = DerivedIDs(caller: caller, key: key)
            // The subject's id (and so its key) comes from the key and the personal data: two
            // requests that share a key but not their data never share a subject key, so the
            // refused one can destroy its own key without touching the one recorded.
            let others = body.otherSubjects ?? []
            // Before anyone's data is sealed under a key of their own.
            try CaseLimits.people(1 + others.count)
            let subject = SubjectID(rawValue: ids.make("subject|\(PersonalDataVault.digest(body.personalData))"))
            let otherIDs = others.enumerated().map { index, other in
                SubjectID(rawValue: ids.make("subject|\(index + 1)|\(PersonalDataVault.digest(other.personalData))"))
            }
            // Each person's data under their own key; the keys made here are destroyed again
            // when the report is refused.
            var created: [SubjectID] = []
            func seal(_ data: PersonalData?, _ id: SubjectID) async throws -> SealedPersonalData? {
                guard let data else { return nil }
                guard let vault = cases.vault else { throw PrivacyError.masterKeyMissing }
                let sealed = try await vault.seal(data, subject: id)
                if sealed.createdKey { created.append(id) }
                return sealed.sealed
            }
            let sealed = try await seal(body.personalData, subject)
            var otherSubjects: [CaseSubject] = []
            for (other, id) in zip(others, otherIDs) {
                otherSubjects.append(CaseSubject(profile: other.subject.profile(id), personalData: try await seal(other.personalData, id)))
            }
            let command = CaseCommand.FileReport(
                caseID: CaseID(rawValue: ids.make("case")),
                municipality: body.municipality,
                channel: body.channel,
                subject: body.subject.profile(subject),
                personalData: sealed,
                otherSubjects: otherSubjects,
                locations: body.locations ?? [],
                exploitation: body.exploitation ?? [],
                indicators: body.indicators ?? [],
                urgency: body.urgency ?? .routine,
                reporterTrained: body.reporterTrained ?? false
            )
            let snapshot: CaseSnapshot
            do {
                snapshot = try await cases.handle(
                    .fileReport(command),
                    on: command.caseID,
                    expectedVersion: nil,
                    caller: caller,
                    requestID: context.requestIDText,
                    idempotencyKey: key
                )
            } catch {
                // A refused report leaves no key behind. Only a refusal: after a lost connection
                // the report may well have been stored, and its key must live.
                if !created.isEmpty, error is CaseError || error is ApplicationError {
                    for id in created where (try? await cases.isRecorded(id, in: command.caseID)) == false {
                        _ = try? await cases.vault?.erase(id)
                    }
                }
                throw error
            }
            return await respond(snapshot, caller, status: snapshot.isReplay ? .ok : .created, location: "/v1/cases/\(snapshot.case.id)")
        }

        group.get("cases/:case") { _, context in
            let caller = try context.requireCaseRole(.reporter, .coordinator, .auditor)
            let (snapshot, _) = try await cases.read(try caseID(context), caller: caller, recording: .case, requestID: context.requestIDText)
            return await respond(snapshot, caller, status: .ok)
        }

        group.get("cases/:case/personal-data") { request, context in
            let caller = try context.requireCaseRole(.reporter, .coordinator, .auditor)
            // In a header, percent-encoded: a query string lands in every proxy's access log, and
            // the reason may name the person. The old `?reason=` is refused, so that no client
            // keeps writing reasons into logs.
            if request.uri.queryParameters["reason"] != nil {
                throw Problem.invalid(
                    "send the reason in the Spona-Read-Reason header (percent-encoded UTF-8), not in the query string, which lands in every proxy's access log"
                )
            }
            let header = request.headers[.sponaReadReason].map { $0.removingPercentEncoding ?? $0 }
            guard let reason = header, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Problem.invalid(
                    "say why you read this person's data in the Spona-Read-Reason header (percent-encoded UTF-8); it is recorded with the read"
                )
            }
            if let problem = InputBounds.textViolation(reason, allowingLines: false) { throw Problem.invalid("Spona-Read-Reason \(problem)") }
            let subject = try request.uri.queryParameters["subject"].map { text in
                guard let id = UUID(uuidString: String(text)) else { throw Problem.invalid("subject must be the id of a person of the case") }
                return SubjectID(rawValue: id)
            }
            let (snapshot, readings) = try await cases.readPersonalData(
                try caseID(context),
                subject: subject,
                caller: caller,
                reason: reason,
                requestID: context.requestIDText
            )
            let people = readings.map { PersonalDataResponse.Person(subject: $0.subject, $0.reading) }
            // The first person read answers at the top, as for a report about one person.
            let body = PersonalDataResponse(
                status: people.first?.status ?? "none",
                personalData: people.first?.personalData,
                erasedAt: people.first?.erasedAt,
                subjects: people
            )
            return EditedResponse(headers: [.eTag: "\"\(snapshot.version)\"", .cacheControl: "no-store"], response: body)
        }

        group.post("cases/:case/erase-personal-data") { request, context in
            let caller = try context.requireCaseRole(.admin)
            let body = try await request.decode(as: CaseRequests.Erasure.self, context: context)
            let snapshot = try await cases.handle(
                .erasePersonalData(legalBasis: body.legalBasis, reference: body.reference, subject: body.subject),
                on: try caseID(context),
                expectedVersion: try request.ifMatchVersion(),
                caller: caller,
                requestID: context.requestIDText,
                idempotencyKey: try request.idempotencyKey()
            )
            // The admin does not see the case: only what was done.
            return EditedResponse(
                headers: [.eTag: "\"\(snapshot.version)\""],
                response: ErasureResponse(
                    case: snapshot.case.id,
                    personalData: "erased",
                    erasedAt: snapshot.case.erasures[body.subject ?? snapshot.case.report.subject.id],
                    subjects: snapshot.case.report.subjects.compactMap { person in
                        snapshot.case.erasures[person.id].map { ErasureResponse.Erased(subject: person.id, erasedAt: $0) }
                    }
                )
            )
        }

        group.get("cases/:case/events") { _, context in
            let caller = try context.requireCaseRole(.reporter, .coordinator, .auditor)
            let (snapshot, history) = try await cases.read(try caseID(context), caller: caller, recording: .history, requestID: context.requestIDText)
            let body = try HistoryResponse.body(history)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .eTag: "\"\(snapshot.version)\""],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }

        command("acknowledge", CaseRequests.Empty.self) { _, _ in .acknowledge }
        command("triage", CaseRequests.Triage.self) { body, _ in
            .triage(confirmedRisk: body.confirmedRisk, caseManager: body.caseManager, note: body.note)
        }
        command("identification", CaseRequests.Identification.self) { body, _ in
            .concludeIdentification(body.outcome, note: body.note, subject: body.subject)
        }
        command("assistance", CaseRequests.Assistance.self) { body, context in
            .provideAssistance(body.kind, provider: body.provider ?? context.caller!.actor.institution, note: body.note, subject: body.subject)
        }
        command("close", CaseRequests.Reason.self) { body, _ in .close(reason: body.reason ?? "") }
        command("reopen", CaseRequests.Reason.self) { body, _ in .reopen(reason: body.reason ?? "") }

        command(
            "referrals",
            CaseRequests.Referral.self,
            created: { snapshot, command in
                guard case .sendReferral(let send) = command else { return nil }
                return "/v1/cases/\(snapshot.case.id)/referrals/\(send.referral)"
            }
        ) { body, ids in
            .sendReferral(
                .init(
                    referral: ReferralID(rawValue: ids.make("referral")),
                    to: body.to,
                    reason: body.reason,
                    requestedServices: body.requestedServices ?? [],
                    urgency: body.urgency ?? .routine,
                    due: body.due
                )
            )
        }
        referralStep("receive", CaseRequests.Empty.self) { id, _ in .receiveReferral(id) }
        referralStep("accept", CaseRequests.Note.self) { id, body in .acceptReferral(id, note: body.note) }
        referralStep("decline", CaseRequests.Reason.self) { id, body in .declineReferral(id, reason: body.reason ?? "") }
        referralStep("complete", CaseRequests.Outcome.self) { id, body in .completeReferral(id, outcome: body.outcome) }
        referralStep("fail", CaseRequests.Reason.self) { id, body in .failReferral(id, reason: body.reason ?? "") }
        referralStep("withdraw", CaseRequests.OptionalReason.self) { id, body in .withdrawReferral(id, reason: body.reason) }
        referralStep("entered-in-error", CaseRequests.Reason.self) { id, body in .markReferralEnteredInError(id, reason: body.reason ?? "") }

        command(
            "conferences",
            CaseRequests.Conference.self,
            created: { snapshot, command in
                guard case .scheduleConference(let id, _, _) = command else { return nil }
                return "/v1/cases/\(snapshot.case.id)/conferences/\(id)"
            }
        ) { body, ids in
            .scheduleConference(ConferenceID(rawValue: ids.make("conference")), at: body.at, invited: body.invited)
        }
        conferenceStep("held", CaseRequests.Held.self) { id, body, _ in .recordConferenceHeld(id, attended: body.attended) }
        conferenceStep("cancel", CaseRequests.Reason.self) { id, body, _ in .cancelConference(id, reason: body.reason ?? "") }
        conferenceStep("decisions", CaseRequests.Decision.self, created: true) { id, body, ids in
            .recordDecision(
                id,
                DecisionID(rawValue: ids.make("decision")),
                type: body.type,
                responsible: body.responsible,
                due: body.due,
                note: body.note
            )
        }

        group.post("cases/:case/decisions/:decision/implemented") { request, context in
            _ = try context.requireCaseRole(.reporter, .coordinator)
            guard let decision = context.parameters.get("decision").flatMap(DecisionID.init) else { throw CaseError.caseNotFound }
            let body = try await request.decode(as: CaseRequests.Note.self, context: context)
            return try await run(.markDecisionImplemented(decision, note: body.note), request, context)
        }

        // MARK: helpers that register one route each

        func command<Body: Decodable & SendableMetatype>(
            _ path: String,
            _ type: Body.Type,
            created: (@Sendable (CaseSnapshot, CaseCommand) -> String?)? = nil,
            _ make: @escaping @Sendable (Body, DerivedIDs) throws -> CaseCommand
        ) {
            group.post("cases/:case/\(path)") { request, context in
                let caller = try context.requireCaseRole(.reporter, .coordinator)
                let body = try await request.decode(as: Body.self, context: context)
                let command = try make(body, DerivedIDs(caller: caller, key: try request.idempotencyKey()))
                return try await run(command, request, context, created: created)
            }
        }

        func command<Body: Decodable & SendableMetatype>(
            _ path: String,
            _ type: Body.Type,
            _ make: @escaping @Sendable (Body, SponaRequestContext) throws -> CaseCommand
        ) {
            group.post("cases/:case/\(path)") { request, context in
                _ = try context.requireCaseRole(.reporter, .coordinator)
                let body = try await request.decode(as: Body.self, context: context)
                return try await run(try make(body, context), request, context)
            }
        }

        func referralStep<Body: Decodable & SendableMetatype>(
            _ path: String,
            _ type: Body.Type,
            _ make: @escaping @Sendable (ReferralID, Body) -> CaseCommand
        ) {
            group.post("cases/:case/referrals/:referral/\(path)") { request, context in
                _ = try context.requireCaseRole(.reporter, .coordinator)
                guard let referral = context.parameters.get("referral").flatMap(ReferralID.init) else { throw CaseError.caseNotFound }
                let body = try await request.decode(as: Body.self, context: context)
                return try await run(make(referral, body), request, context)
            }
        }

        func conferenceStep<Body: Decodable & SendableMetatype>(
            _ path: String,
            _ type: Body.Type,
            created: Bool = false,
            _ make: @escaping @Sendable (ConferenceID, Body, DerivedIDs) -> CaseCommand
        ) {
            group.post("cases/:case/conferences/:conference/\(path)") { request, context in
                let caller = try context.requireCaseRole(.reporter, .coordinator)
                guard let conference = context.parameters.get("conference").flatMap(ConferenceID.init) else { throw CaseError.caseNotFound }
                let body = try await request.decode(as: Body.self, context: context)
                let command = make(conference, body, DerivedIDs(caller: caller, key: try request.idempotencyKey()))
                return try await run(command, request, context, created: created ? Self.decisionLocation : nil)
            }
        }
    }

    @Sendable private static func decisionLocation(_ snapshot: CaseSnapshot, _ command: CaseCommand) -> String? {
        guard case .recordDecision(_, let decision, _, _, _, _) = command else { return nil }
        return "/v1/cases/\(snapshot.case.id)/decisions/\(decision)"
    }

    private func caseID(_ context: SponaRequestContext) throws -> CaseID {
        // A malformed id names no case anybody may see.
        guard let id = context.parameters.get("case").flatMap(CaseID.init) else { throw CaseError.caseNotFound }
        return id
    }

    private func run(
        _ command: CaseCommand,
        _ request: Request,
        _ context: SponaRequestContext,
        created: (@Sendable (CaseSnapshot, CaseCommand) -> String?)? = nil
    ) async throws -> EditedResponse<CaseResource> {
        let caller = try context.requireCaseRole(.reporter, .coordinator)
        let snapshot = try await cases.handle(
            command,
            on: try caseID(context),
            expectedVersion: try request.ifMatchVersion(),
            caller: caller,
            requestID: context.requestIDText,
            idempotencyKey: try request.idempotencyKey()
        )
        if let created, let location = created(snapshot, command) {
            return await respond(snapshot, caller, status: snapshot.isReplay ? .ok : .created, location: location)
        }
        return await respond(snapshot, caller, status: .ok)
    }

    /// The case as the caller is shown it, with its version as the ETag.
    private func respond(
        _ snapshot: CaseSnapshot,
        _ caller: Caller,
        status: HTTPResponse.Status,
        location: String? = nil
    ) async -> EditedResponse<CaseResource> {
        var headers: HTTPFields = [.eTag: "\"\(snapshot.version)\""]
        if let location { headers[.location] = location }
        return EditedResponse(status: status, headers: headers, response: await CaseResource(snapshot, caller: caller, cases: cases))
    }
}

/// Ids the server gives new things (a case, a referral…). With an `Idempotency-Key` they are
/// derived from the caller and the key, so a retried request names the same things and is
/// recognised as the same request; without one they are random.
struct DerivedIDs: Sendable {
    let caller: Caller
    let key: String?

    func make(_ purpose: String) -> UUID {
        guard let key else { return UUID() }
        var bytes = Array(SHA256.hash(data: Data("\(caller.actor.id)|\(key)|\(purpose)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5 layout: name-based
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }
}

/// A case's history as the API shows it: each event with its stored payload and metadata
/// spliced in as stored (they are the JSON the hash chain covers).
enum HistoryResponse {
    private struct Head: Encodable {
        var version: Int64
        var type: String
        var schemaVersion: Int32
        var recordedAt: Date
        var position: Int64
        var hash: String
    }

    static func body(_ events: [RecordedEvent]) throws -> Data {
        var out = Data("[".utf8)
        for (index, event) in events.enumerated() {
            if index > 0 { out.append(contentsOf: Array(",".utf8)) }
            let head = try EventCoding.encoder.encode(
                Head(
                    version: event.version,
                    type: event.type,
                    schemaVersion: event.schemaVersion,
                    recordedAt: event.recordedAt,
                    position: event.position,
                    hash: event.hash.map { String(format: "%02x", $0) }.joined()
                )
            )
            out.append(head.dropLast())
            out.append(contentsOf: Array(#","payload":"#.utf8))
            out.append(event.payload)
            out.append(contentsOf: Array(#","metadata":"#.utf8))
            out.append(event.metadata)
            out.append(contentsOf: Array("}".utf8))
        }
        out.append(contentsOf: Array("]".utf8))
        return out
    }
}

struct PersonalDataResponse: ResponseEncodable {
    var status: String
    var personalData: PersonalData?
    var erasedAt: Date?
    /// Every person read, the first named first.
    var subjects: [Person]

    struct Person: Encodable {
        var subject: SubjectID
        /// `present`, `none` or `erased`.
        var status: String
        var personalData: PersonalData?
        var erasedAt: Date?

        init(subject: SubjectID, _ reading: CaseService.PersonalDataReading) {
            self.subject = subject
            switch reading {
            case .data(let data): (status, personalData) = ("present", data)
            case .none: status = "none"
            case .erased(let at): (status, erasedAt) = ("erased", at)
            }
        }
    }
}

struct ErasureResponse: ResponseEncodable {
    var `case`: CaseID
    var personalData: String
    /// When the person named (or the first named) was erased.
    var erasedAt: Date?
    /// Every person of the case erased so far.
    var subjects: [Erased]

    struct Erased: Encodable {
        var subject: SubjectID
        var erasedAt: Date
    }
}

/// How every answer is written (Hummingbird's `ResponseEncoder`, set on
/// ``SponaRequestContext``): JSON as the history stores it (``EventCoding/encoder``: times in
/// UTC with milliseconds, keys sorted). Routes return `ResponseEncodable` API types, wrapped in
/// Hummingbird's `EditedResponse` where they set a status or headers of their own.
public struct SponaResponseEncoder: ResponseEncoder {
    public init() {}

    public func encode(_ value: some Encodable, from request: Request, context: some RequestContext) throws -> Response {
        try JSONResponse.make(value, status: .ok)
    }
}

enum JSONResponse {
    static func make<Body: Encodable>(_ body: Body, status: HTTPResponse.Status) throws -> Response {
        let data = try EventCoding.encoder.encode(body)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
