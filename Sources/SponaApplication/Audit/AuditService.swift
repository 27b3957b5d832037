import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords

/// What auditors ask of the history: a stream as it stood at a moment, the read trail, and
/// every audit query itself recorded — an auditor's reads leave the same trace as anyone's.
public struct AuditService: Sendable {
    let store: PostgresEventStore
    let trail: ReadTrail
    /// Opens the sealed reasons of personal-data reads for auditors; nil on a server without
    /// a master key (the reasons then read as withheld).
    let vault: PersonalDataVault?

    public init(store: PostgresEventStore, vault: PersonalDataVault? = nil) {
        self.store = store
        self.trail = ReadTrail(store: store)
        self.vault = vault
    }

    /// A moment in the history: a time (events recorded up to it) or a global position
    /// (events at or below it).
    public enum Moment: Sendable, Hashable {
        case time(Date)
        case position(Int64)

        /// "2026-03-01T12:00:00Z", "2026-03-01" (the end of that day, UTC), or a position.
        public init?(parsing text: String) {
            if let position = Int64(text), position >= 0 {
                self = .position(position)
            } else if text.count == 10, let day = ISO8601.date(from: text + "T23:59:59.999999Z") {
                self = .time(day)
            } else if let time = ISO8601.date(from: text) {
                self = .time(time)
            } else {
                return nil
            }
        }

        public func includes(_ event: RecordedEvent) -> Bool {
            switch self {
            case .time(let time): event.recordedAt <= time
            case .position(let position): event.position <= position
            }
        }
    }

    /// What a stream's events fold to, for the streams whose meaning the application knows.
    public enum State: Sendable {
        case `case`(Case)
        case institution(Institution)
        case none
    }

    public enum Problem: Error, Hashable, Sendable, CustomStringConvertible {
        case streamNotFound(String)
        case onlyAuditors

        public var description: String {
            switch self {
            case .streamNotFound(let stream): "there is no stream '\(stream)' (or it had no events at that moment)"
            case .onlyAuditors: "the audit routes are for auditors"
            }
        }
    }

    /// Stream `id` up to `moment`, and its state then. Reading a case's stream is recorded in
    /// the case's read trail.
    public func stream(
        _ id: StreamID,
        asOf moment: Moment?,
        caller: Caller,
        requestID: String
    ) async throws -> (events: [RecordedEvent], state: State) {
        guard caller.actor.role == .auditor else { throw Problem.onlyAuditors }
        let events = try await store.readStream(id).filter { moment?.includes($0) ?? true }
        guard !events.isEmpty else { throw Problem.streamNotFound(id.rawValue) }
        if let caseID = Streams.caseID(of: id) {
            // A fixed word, not anything a person wrote: kept in the clear.
            try await trail.record(.history, of: caseID, reason: .clear("audit"), caller: caller, requestID: requestID)
            return (events, Case.replay(try EventCoding.caseEvents(events)).map(State.case) ?? .none)
        }
        if Streams.institutionID(of: id) != nil {
            return (events, try InstitutionDirectory.fold(events).values.first.map(State.institution) ?? .none)
        }
        return (events, .none)
    }

    /// One read recorded in the trail.
    public struct AccessRecord: Sendable, Encodable {
        public var at: Date
        public var `case`: CaseID?
        public var read: String
        public var reason: String?
        /// Why `reason` is missing from a personal-data read: `erased` with the subject's
        /// data, `unreadable` where this server holds no key for it.
        public var reasonStatus: String?
        public var detail: [String: String]?
        public var actor: String
        /// The person's name, when a person signed in at the identity provider read.
        public var actorName: String?
        public var institution: InstitutionID
        public var role: Role
        public var requestID: String
        public var position: Int64
    }

    /// Who read case `id`, when and why, oldest first.
    public func access(toCase id: CaseID, caller: Caller, requestID: String) async throws -> [AccessRecord] {
        guard caller.actor.role == .auditor else { throw Problem.onlyAuditors }
        try await recordQuery("access", detail: ["case": id.description], caller: caller, requestID: requestID)
        let openers = OpenerCache(vault: vault)
        var records: [AccessRecord] = []
        for event in try await store.readStream(Streams.access(id)) {
            if let record = await record(event, openers) { records.append(record) }
        }
        return records
    }

    /// What `actor` read, oldest first: at most `limit` records after `cursor`, and the cursor
    /// to ask for the next ones.
    public func access(
        byActor actor: String,
        after cursor: EventCursor,
        limit: Int,
        caller: Caller,
        requestID: String
    ) async throws -> (records: [AccessRecord], next: EventCursor?) {
        guard caller.actor.role == .auditor else { throw Problem.onlyAuditors }
        try await recordQuery("access", detail: ["actor": actor], caller: caller, requestID: requestID)
        let page = try await store.auditPage(after: cursor, limit: limit, filter: AuditFilter(category: "access", metadata: ["actor": actor]))
        let openers = OpenerCache(vault: vault)
        var records: [AccessRecord] = []
        for entry in page {
            if let record = await record(entry.event, openers) { records.append(record) }
        }
        return (records, page.count == limit ? page.last?.event.cursor : nil)
    }

    /// An audit query that reads case data in bulk (the events feed, an export, the trail):
    /// recorded in the `access-audit` stream with what was asked.
    public func recordQuery(_ what: String, detail: [String: String], caller: Caller, requestID: String) async throws {
        let payload = try EventCoding.encoder.encode(AuditQuery(query: what, detail: detail))
        let metadata = try EventCoding.metadata(CommandMetadata(actor: caller.actor, requestID: requestID))
        try await store.append(
            to: Self.auditStream,
            expected: .any,
            events: [EventData(type: AuditQuery.eventType, schemaVersion: ReadTrail.schemas.current(AuditQuery.eventType), payload: payload)],
            metadata: metadata
        )
    }

    public static let auditStream: StreamID = "access-audit"

    struct AuditQuery: Codable {
        static let eventType = "AuditQueried"
        var query: String
        var detail: [String: String]
    }

    func record(_ event: RecordedEvent, _ openers: OpenerCache) async -> AccessRecord? {
        guard let metadata = try? EventCoding.decoder.decode(CommandMetadata.self, from: event.metadata) else { return nil }
        var record = AccessRecord(
            at: event.recordedAt,
            case: nil,
            read: "",
            reason: nil,
            reasonStatus: nil,
            detail: nil,
            actor: metadata.actor,
            actorName: metadata.actorName,
            institution: metadata.institution,
            role: metadata.role,
            requestID: metadata.requestID,
            position: event.position
        )
        // A record this code cannot read is shown as such, never left out of an audit's answer.
        do {
            switch event.type {
            case ReadTrail.eventType:
                let read = try EventCoding.decode(ReadTrail.CaseRead.self, event, schemas: ReadTrail.schemas)
                record.case = read.case
                record.read = read.read.rawValue
                (record.reason, record.reasonStatus) = await openers.open(read.reason)
            case ReadTrail.ReadRefused.eventType:
                let refused = try EventCoding.decode(ReadTrail.ReadRefused.self, event, schemas: ReadTrail.schemas)
                record.case = refused.case
                record.read = "\(refused.read.rawValue)_refused"
                record.detail = ["limitPerHour": String(refused.limitPerHour)]
            case AuditQuery.eventType:
                let query = try EventCoding.decode(AuditQuery.self, event, schemas: ReadTrail.schemas)
                record.read = "audit_\(query.query)"
                record.detail = query.detail
            case ReadTrail.ViewQuery.eventType:
                let query = try EventCoding.decode(ReadTrail.ViewQuery.self, event, schemas: ReadTrail.schemas)
                record.read = "view"
                record.detail = query.filters.merging(["view": query.view]) { _, view in view }
            default:
                return nil
            }
        } catch {
            record.read = "unreadable"
            record.detail = ["error": "\(error)".prefix(300).description]
        }
        return record
    }

}

/// Opens the reasons of one answer's records, reading each subject's key once: a page of a
/// hundred reads of one case is one key file, not a hundred.
final class OpenerCache: @unchecked Sendable {
    private let vault: PersonalDataVault?
    private var openers: [String: PersonalDataVault.CaseTextOpener?] = [:]

    init(vault: PersonalDataVault?) { self.vault = vault }

    /// A read's reason as auditors see it: opened with the subject's key (the key id names
    /// the subject), or why it cannot be.
    func open(_ reason: CaseText?) async -> (String?, String?) {
        guard let reason else { return (nil, nil) }
        guard case let .sealed(_, keyID) = reason else { return (reason.plain, nil) }
        guard let vault, let uuid = UUID(uuidString: keyID) else { return (nil, "unreadable") }
        if openers[keyID] == nil {
            // nil: the key was destroyed (erased); a throw: the key is here and does not open.
            do { openers[keyID] = .some(try await vault.textOpener(subject: SubjectID(rawValue: uuid))) } catch { return (nil, "unreadable") }
        }
        guard let opener = openers[keyID] ?? nil else { return (nil, "erased") }
        return (try? opener.open(reason)).map { ($0, nil) } ?? (nil, "unreadable")
    }
}
