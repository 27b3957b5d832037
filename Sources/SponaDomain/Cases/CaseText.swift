import Foundation

/// What a professional writes into a case: the reason for a referral, a note on a decision,
/// why a case was closed. Such text is about the people in the case ("the mother took her to
/// Novi Pazar"), so it is personal data: it is recorded only sealed under the subject's key,
/// opened for those who may read the case, and erased with the subject's personal data. In
/// the clear it would stay in the history for ever, beyond the reach of erasure.
///
/// The decider works with what was written; the application seals every text of the events
/// it decided before they are stored (``CaseEvent/mapTexts(_:)``), and nothing stores a
/// ``written(_:)`` text: encoding one fails.
public enum CaseText: Hashable, Sendable {
    /// As given in a command, not yet sealed. Never stored.
    case written(String)
    /// AES-GCM under the key of the subject `keyID`; unreadable once that key is destroyed.
    case sealed(ciphertext: String, keyID: String)
    /// Recorded in the clear by Spona before texts were sealed (schema version 1 of the case
    /// events). Kept as it was written: events are never rewritten.
    case clear(String)

    /// The text when it can be read as it is (written now, or recorded in the clear).
    public var plain: String? {
        switch self {
        case .written(let text), .clear(let text): text
        case .sealed: nil
        }
    }
}

extension CaseText: Codable {
    private enum CodingKeys: String, CodingKey { case ciphertext, keyID, clear }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let clear = try container.decodeIfPresent(String.self, forKey: .clear) {
            self = .clear(clear)
        } else {
            self = .sealed(
                ciphertext: try container.decode(String.self, forKey: .ciphertext),
                keyID: try container.decode(String.self, forKey: .keyID)
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .written:
            throw EncodingError.invalidValue(
                self,
                .init(codingPath: encoder.codingPath, debugDescription: "a case text must be sealed before it is stored")
            )
        case let .sealed(ciphertext, keyID):
            try container.encode(ciphertext, forKey: .ciphertext)
            try container.encode(keyID, forKey: .keyID)
        case .clear(let text):
            try container.encode(text, forKey: .clear)
        }
    }
}

/// Services a referral may ask for: a closed list, so that what goes into the inbox and the
/// views is never free text.
public enum RequestedService: String, Codable, Sendable, CaseIterable {
    /// A social-work or multi-agency assessment of the person and the family.
    case assessment
    /// Protective measures: placement, guardianship, removal from danger.
    case protection
    case shelter
    case health
    case psychosocial
    case legal
    case investigation
    case education
    case employment
    case financial
    case interpretation
    case other
}

extension CaseEvent {
    /// The event with `transform` applied to each of its texts: how the application seals
    /// what the decider decided, and opens what it reads.
    public func mapTexts(_ transform: (CaseText) throws -> CaseText) rethrows -> CaseEvent {
        func map(_ text: CaseText?) throws -> CaseText? { try text.map(transform) }
        switch self {
        case .reportFiled, .reportAcknowledged, .conferenceScheduled, .conferenceHeld, .personalDataErased:
            return self
        case .reportTriaged(var e):
            e.note = try map(e.note)
            return .reportTriaged(e)
        case .referralSent(var e):
            e.reason = try map(e.reason)
            return .referralSent(e)
        case .referralReceived(let e): return .referralReceived(try e.mapping(map))
        case .referralAccepted(let e): return .referralAccepted(try e.mapping(map))
        case .referralDeclined(let e): return .referralDeclined(try e.mapping(map))
        case .referralCompleted(let e): return .referralCompleted(try e.mapping(map))
        case .referralFailed(let e): return .referralFailed(try e.mapping(map))
        case .referralWithdrawn(let e): return .referralWithdrawn(try e.mapping(map))
        case .referralEnteredInError(let e): return .referralEnteredInError(try e.mapping(map))
        case .decisionRecorded(var e):
            e.note = try map(e.note)
            return .decisionRecorded(e)
        case .decisionImplemented(var e):
            e.note = try map(e.note)
            return .decisionImplemented(e)
        case .conferenceCancelled(var e):
            e.reason = try map(e.reason)
            return .conferenceCancelled(e)
        case .identificationConcluded(var e):
            e.note = try map(e.note)
            return .identificationConcluded(e)
        case .assistanceProvided(var e):
            e.note = try map(e.note)
            return .assistanceProvided(e)
        case .caseClosed(var e):
            e.reason = try map(e.reason)
            return .caseClosed(e)
        case .caseReopened(var e):
            e.reason = try map(e.reason)
            return .caseReopened(e)
        }
    }

    /// Every text the event carries.
    public var texts: [CaseText] {
        var found: [CaseText] = []
        _ = mapTexts {
            found.append($0)
            return $0
        }
        return found
    }

    /// The upcaster of every case event type whose texts were recorded in the clear in
    /// version 1: each text becomes `{"clear": …}`, as ``CaseText`` reads it.
    public static func clearTexts(_ fields: [String]) -> EventSchemas.Upcaster {
        { payload in
            var payload = payload
            for field in fields {
                if case .string(let text) = payload[field] { payload[field] = .object(["clear": .string(text)]) }
            }
            return payload
        }
    }
}

extension CaseEvent.ReferralStep {
    fileprivate func mapping(_ map: (CaseText?) throws -> CaseText?) rethrows -> Self {
        var step = self
        step.note = try map(note)
        return step
    }
}

extension Case {
    /// The case with `transform` applied to each of its texts (to open them for a reader).
    public func mapTexts(_ transform: (CaseText) throws -> CaseText) rethrows -> Case {
        var state = self
        if var triage = state.triage {
            triage.note = try triage.note.map(transform)
            state.triage = triage
        }
        for index in state.referrals.indices {
            state.referrals[index].reason = try state.referrals[index].reason.map(transform)
            state.referrals[index].note = try state.referrals[index].note.map(transform)
        }
        for index in state.decisions.indices {
            state.decisions[index].note = try state.decisions[index].note.map(transform)
        }
        state.closeReason = try state.closeReason.map(transform)
        return state
    }

    /// Every text the case shows.
    public var texts: [CaseText] {
        var found: [CaseText] = []
        _ = mapTexts {
            found.append($0)
            return $0
        }
        return found
    }
}

extension CaseText {
    public var isSealed: Bool {
        if case .sealed = self { true } else { false }
    }
}
