import Crypto
import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords

/// Why the application refused a command before or after the domain looked at it.
public enum ApplicationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `If-Match` named another version than the case's: someone changed it meanwhile.
    case staleVersion(expected: Int64, actual: Int64)
    /// A command to an existing case came without the version it was based on.
    case versionRequired(actual: Int64)
    /// The idempotency key was first used for a different request.
    case idempotencyKeyReused

    public var description: String {
        switch self {
        case let .staleVersion(expected, actual):
            "the case is at version \(actual), not \(expected): it changed since you read it; reload it and decide again"
        case .versionRequired(let actual):
            "send If-Match with the version of the case your command is based on (it is now at \(actual))"
        case .idempotencyKeyReused:
            "this Idempotency-Key was already used for a different request; use a new key for a new request"
        }
    }
}

/// A case as the API shows it: the fold of its events, and its version (the ETag).
public struct CaseSnapshot: Sendable {
    public var `case`: Case
    public var version: Int64 { `case`.version }
    /// True when this answers a retried command: nothing new was written.
    public var isReplay: Bool
}

/// Who is asking, resolved once per request.
public struct Caller: Sendable, Hashable {
    public var actor: Actor
    /// The caller's institution is the Center and the caller acts as its coordinator.
    public var isCenter: Bool
    /// The districts an analyst sees.
    public var districts: [DistrictCode]

    public init(actor: Actor, isCenter: Bool, districts: [DistrictCode] = []) {
        self.actor = actor
        self.isCenter = isCenter
        self.districts = districts
    }
}

/// A reader has read as much personal data as an hour allows: refused, and the refusal is
/// on the case's read trail.
public struct PersonalDataReadLimited: Error, CustomStringConvertible {
    public var retryAfterSeconds: Int
    public var perHour: Int
    public var description: String {
        "a person may read personal data of at most \(perHour) cases an hour; this read is refused and recorded; try again in \(retryAfterSeconds) s"
    }
}

/// Where a command to a case is carried out: the case's history is read, the domain decides,
/// and the events are appended at exactly the version decided on.
public struct CaseService: Sendable {
    let store: any EventStore
    let geography: Geography
    /// Nil on a server configured without a master key: it then accepts no personal data.
    public let vault: PersonalDataVault?
    let trail: ReadTrail
    /// Shared by every copy of this service (the routes copy it): one memory per process.
    let keptInstitutions: KeptInstitutions
    let now: @Sendable () -> Date
    /// Each reader's reads of personal data in a sliding hour; nil: unlimited (tools, tests).
    public var personalDataReads: SlidingWindowLimit?

    public init(store: any EventStore, geography: Geography, vault: PersonalDataVault? = nil, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.geography = geography
        self.vault = vault
        self.trail = ReadTrail(store: store)
        self.keptInstitutions = KeptInstitutions()
        self.now = now
    }

    /// Carries out `command` on case `id`.
    ///
    /// - Parameters:
    ///   - expectedVersion: the version the caller's decision was based on (`If-Match`);
    ///     required for every command to an existing case.
    ///   - idempotencyKey: the client's key for this request; a retry answers with the case as
    ///     the first attempt left it and writes nothing.
    ///   - occurredAt: for a history written after the fact (`spona demo`): the moment the
    ///     command was given in the world. The decision is taken as of then and the events
    ///     carry it in their metadata. Never from HTTP.
    public func handle(
        _ command: CaseCommand,
        on id: CaseID,
        expectedVersion: Int64?,
        caller: Caller,
        requestID: String,
        idempotencyKey: String?,
        occurredAt: Date? = nil
    ) async throws -> CaseSnapshot {
        // A kept institution that moved while this command was decided: forgotten, and the
        // command decided again from the streams (twice at most: institutions change rarely).
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await handleOnce(
                    command,
                    on: id,
                    expectedVersion: expectedVersion,
                    caller: caller,
                    requestID: requestID,
                    idempotencyKey: idempotencyKey,
                    occurredAt: occurredAt,
                    freshInstitutions: attempt > 1
                )
            } catch EventStoreError.conditionFailed(let stream, _, _) where attempt < 3 {
                keptInstitutions.forget(stream)
            }
        }
    }

    private func handleOnce(
        _ command: CaseCommand,
        on id: CaseID,
        expectedVersion: Int64?,
        caller: Caller,
        requestID: String,
        idempotencyKey: String?,
        occurredAt: Date?,
        freshInstitutions: Bool
    ) async throws -> CaseSnapshot {
        let stream = Streams.case(id)
        let scopedKey = idempotencyKey.map { "\(caller.actor.id):\($0)" }
        let fingerprint = try RequestFingerprint.make(stream.rawValue, command)
        let sameRequest = { (previous: PreviousAppend) in
            previous.stream == stream
                && RequestFingerprint.matches(stored: previous.requestHash, current: fingerprint, legacy: { Self.legacyFingerprint(command, on: id) })
        }

        // A new case's stream needs no read: the append expects no stream, and a case that
        // exists already is a conflict there (or, for a retry, the first answer).
        let history: [(event: CaseEvent, at: Date)]
        if case .fileReport = command {
            history = []
        } else {
            history = try EventCoding.caseEvents(try await store.readStream(stream))
        }
        let state = Case.replay(history)
        // The institutions the decision needs, mostly from memory; the append checks that none
        // moved since it was read.
        let institutionIDs = Set([caller.actor.institution] + Self.institutions(named: command))
        var reading = try await keptInstitutions.read(institutionIDs, from: store, fresh: freshInstitutions)

        var events: [CaseEvent]
        do {
            if case .fileReport = command {
                if state != nil { throw CaseError.caseAlreadyExists(id) }
            } else if case .erasePersonalData = command {
                // An admin erases without seeing the case; the version is checked when given.
                guard let state, caller.actor.role == .admin || Self.canSee(state, caller) else { throw CaseError.caseNotFound }
                if let expectedVersion, expectedVersion != state.version {
                    throw ApplicationError.staleVersion(expected: expectedVersion, actual: state.version)
                }
            } else {
                // To anyone who may not see the case it does not exist, whatever they send.
                guard let state, Self.canSee(state, caller) else { throw CaseError.caseNotFound }
                guard let expectedVersion else { throw ApplicationError.versionRequired(actual: state.version) }
                guard expectedVersion == state.version else {
                    throw ApplicationError.staleVersion(expected: expectedVersion, actual: state.version)
                }
            }
            let now = occurredAt ?? now()
            do {
                events = try decide(command, on: state, caller: caller, now: now, institutions: reading.institutions)
            } catch {
                // Never refuse on a kept copy alone: it may be older than the streams.
                guard reading.fromMemory else { throw error }
                reading = try await keptInstitutions.read(institutionIDs, from: store, fresh: true)
                events = try decide(command, on: state, caller: caller, now: now, institutions: reading.institutions)
            }
        } catch {
            // A retry of a request that was carried out finds the case moved on and is refused;
            // only then is it worth asking whether this key was seen before. The first answer
            // stands, and nothing is written.
            if let scopedKey, let previous = try await store.previousAppend(idempotencyKey: scopedKey) {
                guard sameRequest(previous) else { throw ApplicationError.idempotencyKeyReused }
                return try await replay(id, upTo: previous.result.streamVersion)
            }
            throw error
        }

        // Erasure destroys the key before it is recorded: a crash in between leaves data that
        // cannot be opened and a retry that records it, never a record of an erasure that
        // did not happen.
        for case .personalDataErased(let erased) in events {
            if let vault {
                try await vault.erase(erased.subject)
            } else if state?.report.subject(erased.subject)?.personalData != nil {
                throw PrivacyError.masterKeyMissing
            }
        }

        events = try await seal(events, of: state, history: history.map(\.event))

        let metadata = try EventCoding.metadata(CommandMetadata(actor: caller.actor, requestID: requestID, occurredAt: occurredAt))
        let data = try events.map {
            EventData(type: $0.typeName, schemaVersion: $0.schemaVersion, payload: try $0.encodePayload(with: EventCoding.encoder))
        }
        let result: AppendResult
        do {
            // The store checks the key again, atomically with the append: of two concurrent
            // retries exactly one writes.
            result = try await store.append(
                to: stream,
                expected: state.map { .exactly($0.version) } ?? .noStream,
                events: data,
                metadata: metadata,
                idempotencyKey: scopedKey,
                requestFingerprint: fingerprint,
                unchanged: reading.conditions
            )
        } catch EventStoreError.versionConflict(_, _, let actual) {
            // Someone wrote first; perhaps our own first attempt, still in flight a moment ago.
            if let scopedKey, let previous = try await store.previousAppend(idempotencyKey: scopedKey), sameRequest(previous) {
                return try await replay(id, upTo: previous.result.streamVersion)
            }
            if state == nil { throw CaseError.caseAlreadyExists(id) }
            throw ApplicationError.staleVersion(expected: state?.version ?? 0, actual: actual)
        } catch EventStoreError.idempotencyKeyReused {
            // The store compares fingerprints byte for byte; one from an earlier encoding may
            // still be this very request.
            if let scopedKey, let previous = try await store.previousAppend(idempotencyKey: scopedKey), sameRequest(previous) {
                return try await replay(id, upTo: previous.result.streamVersion)
            }
            throw ApplicationError.idempotencyKeyReused
        }
        if result.wasDuplicate {
            return try await replay(id, upTo: result.streamVersion)
        }
        let at = occurredAt ?? Date(timeIntervalSince1970: Double(result.recordedAtMicroseconds) / 1_000_000)
        guard let updated = Case.replay(history + events.map { ($0, at) }) else { throw CaseError.caseNotFound }
        return CaseSnapshot(case: updated, isReplay: false)
    }

    /// The case as it stands, for someone allowed to see it; to anyone else it does not exist.
    /// The read is recorded in the case's read trail before it is answered.
    public func read(
        _ id: CaseID,
        caller: Caller,
        recording read: ReadTrail.Read,
        requestID: String
    ) async throws -> (snapshot: CaseSnapshot, history: [RecordedEvent]) {
        let recorded = try await store.readStream(Streams.case(id))
        guard let state = Case.replay(try EventCoding.caseEvents(recorded)), Self.canSee(state, caller) else {
            throw CaseError.caseNotFound
        }
        try await trail.record(read, of: id, reason: nil, caller: caller, requestID: requestID)
        return (CaseSnapshot(case: state, isReplay: false), recorded)
    }

    /// Whether a reader is shown a case's texts (notes, reasons), and if not, why.
    public enum TextAccess: String, Sendable {
        case readable
        /// Erased with the subject's personal data.
        case erased
        /// Not for this reader: auditors see the history, never what was written about a person.
        case withheld
        /// Sealed under a key this server does not hold (a key folder that is not this history's).
        case unreadable
    }

    /// The case with its texts opened for `caller`: parties and the Center read them;
    /// auditors, and everyone once the subject's data is erased, get them still sealed.
    public func openTexts(of state: Case, for caller: Caller) async -> (case: Case, access: TextAccess) {
        let unopened = Self.unopenedTexts(of: state)
        guard unopened == .withheld, caller.actor.role == .reporter || caller.actor.role == .coordinator, Self.canSee(state, caller) else {
            return (state, unopened)
        }
        guard let vault, let opener = try? await vault.textOpener(subject: state.report.subject.id) else { return (state, .unreadable) }
        var failed = false
        let opened = state.mapTexts { text in
            guard case .sealed = text else { return text }
            guard let plain = try? opener.open(text) else {
                failed = true
                return text
            }
            return .written(plain)
        }
        return (opened, failed ? .unreadable : .readable)
    }

    /// What a reader is shown of the case's texts when none is opened: all of them when none
    /// is sealed (none written, or all recorded in the clear before texts were sealed).
    public static func unopenedTexts(of state: Case) -> TextAccess {
        guard state.texts.contains(where: \.isSealed) else { return .readable }
        return state.personalDataErasedAt != nil ? .erased : .withheld
    }

    /// Seals every text of the events decided: recorded only under the subject's key.
    private func seal(_ events: [CaseEvent], of state: Case?, history: [CaseEvent]) async throws -> [CaseEvent] {
        guard events.contains(where: { !$0.texts.isEmpty }) else { return events }
        guard let state else { throw PrivacyError.invalidPersonalData("a text needs the case's subject") }
        return try await seal(events, subject: state.report.subject.id, createKey: !Self.sealedAnything(state, history))
    }

    /// Seals every text of `events` under `subject`'s key (also for a demo written in bulk).
    func seal(_ events: [CaseEvent], subject: SubjectID, createKey: Bool = true) async throws -> [CaseEvent] {
        guard events.contains(where: { !$0.texts.isEmpty }) else { return events }
        guard let vault else { throw PrivacyError.masterKeyMissing }
        let sealer = try await vault.textSealer(subject: subject, createKey: createKey)
        return try events.map { event in
            try event.mapTexts { text in
                guard case .written(let plain) = text else { return text }
                return try sealer.seal(plain)
            }
        }
    }

    /// Whether anything of the subject was ever sealed: then their key must exist, and is not
    /// made again when it does not (see ``PersonalDataVault/seal(text:subject:createKey:)``).
    static func sealedAnything(_ state: Case, _ history: [CaseEvent]) -> Bool {
        state.report.personalData != nil || history.contains { $0.texts.contains(where: \.isSealed) }
    }

    /// What the subject's personal data says, or why it cannot be shown.
    public enum PersonalDataReading: Sendable {
        case data(PersonalData)
        case none
        case erased(at: Date?)
    }

    /// The personal data of each person of the case (or of `subject` alone), for a party or
    /// the Center with a reason (recorded in the read trail with it, once for the read).
    /// Auditors see the history, never the person.
    public func readPersonalData(
        _ id: CaseID,
        subject: SubjectID? = nil,
        caller: Caller,
        reason: String,
        requestID: String
    ) async throws -> (snapshot: CaseSnapshot, readings: [(subject: SubjectID, reading: PersonalDataReading)]) {
        let recorded = try await store.readStream(Streams.case(id))
        let history = try EventCoding.caseEvents(recorded)
        guard let state = Case.replay(history), Self.canSee(state, caller) else {
            throw CaseError.caseNotFound
        }
        guard caller.actor.role == .reporter || caller.actor.role == .coordinator else {
            throw CaseError.roleMayNot(caller.actor.role, action: "read a subject's personal data")
        }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw CaseError.missingText(field: "the reason for reading personal data") }
        if let subject, state.report.subject(subject) == nil { throw CaseError.subjectNotFound(subject) }
        let people = state.report.subjects.filter { subject == nil || $0.id == subject }
        let snapshot = CaseSnapshot(case: state, isReplay: false)
        if let limit = personalDataReads, let wait = await limit.admit(caller.actor.id) {
            try await trail.recordRefusal(.personalData, of: id, limitPerHour: limit.most, caller: caller, requestID: requestID)
            throw PersonalDataReadLimited(retryAfterSeconds: wait, perHour: limit.most)
        }
        if people.contains(where: { $0.personalData != nil && state.erasures[$0.id] == nil }), vault == nil { throw PrivacyError.masterKeyMissing }
        // The reason may name the person: sealed under the subject's key, like the data itself.
        // Once the data is erased there is nothing a reason could explain, and no key to seal
        // it with (a new one would outlive the erasure): the read alone is recorded.
        var sealedReason: CaseText?
        if state.personalDataErasedAt == nil {
            guard let vault else { throw PrivacyError.masterKeyMissing }
            let createKey = !Self.sealedAnything(state, history.map(\.event))
            do {
                sealedReason = try await vault.seal(text: reason, subject: state.report.subject.id, createKey: createKey)
            } catch {
                guard error == .subjectKeyDestroyed else { throw error }
            }
        }
        try await trail.record(.personalData, of: id, reason: sealedReason, caller: caller, requestID: requestID)
        var readings: [(subject: SubjectID, reading: PersonalDataReading)] = []
        for person in people {
            if let erasedAt = state.erasures[person.id] {
                readings.append((person.id, .erased(at: erasedAt)))
            } else if let sealed = person.personalData, let vault {
                let data = try await vault.open(sealed, subject: person.id)
                readings.append((person.id, data.map { .data($0) } ?? .erased(at: nil)))
            } else {
                readings.append((person.id, .none))
            }
        }
        return (snapshot, readings)
    }

    /// Whether a recorded report of case `id` names `subject`: a subject key may be destroyed
    /// after a refusal only when no recorded event uses it.
    public func isRecorded(_ subject: SubjectID, in id: CaseID) async throws -> Bool {
        let history = try EventCoding.caseEvents(try await store.readStream(Streams.case(id)))
        return history.contains { event, _ in
            if case .reportFiled(let report) = event { return report.subject(subject) != nil }
            return false
        }
    }

    /// Parties see their cases; the Center and auditors see every case; analysts see none.
    public static func canSee(_ state: Case, _ caller: Caller) -> Bool {
        switch caller.actor.role {
        case .auditor: true
        case .coordinator: caller.isCenter || state.parties.contains(caller.actor.institution)
        case .reporter: state.parties.contains(caller.actor.institution)
        case .analyst, .admin: false
        }
    }

    private func decide(
        _ command: CaseCommand,
        on state: Case?,
        caller: Caller,
        now: Date,
        institutions: [InstitutionID: Institution]
    ) throws -> [CaseEvent] {
        let context = DecisionContext(actor: caller.actor, now: now, institutions: institutions, geography: geography)
        return try CaseDecider.decide(command, on: state, context: context)
    }

    private func replay(_ id: CaseID, upTo version: Int64) async throws -> CaseSnapshot {
        let recorded = try await store.readStream(Streams.case(id), fromVersion: 1, limit: Int(version))
        guard let state = Case.replay(try EventCoding.caseEvents(recorded)) else { throw CaseError.caseNotFound }
        return CaseSnapshot(case: state, isReplay: true)
    }

    /// The fingerprint of requests recorded before fingerprints were versioned.
    static func legacyFingerprint(_ command: CaseCommand, on id: CaseID) -> Data {
        RequestFingerprint.legacy(id, command)
    }

    static func institutions(named command: CaseCommand) -> [InstitutionID] {
        switch command {
        case .sendReferral(let send): [send.to]
        case .scheduleConference(_, _, let invited): invited
        case .recordDecision(_, _, _, let responsible, _, _): [responsible]
        case .provideAssistance(_, let provider, _, _): [provider]
        default: []
        }
    }
}
