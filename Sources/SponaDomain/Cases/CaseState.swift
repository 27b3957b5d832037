import Foundation

/// A referral's life, after the request/task pattern of health-care referrals (HL7 FHIR Task):
/// requested → received → accepted or declined → completed or failed; or withdrawn by the
/// sender; a mistaken referral is marked entered-in-error, never rewritten.
public struct Referral: Hashable, Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case requested, received, accepted, declined, completed, failed, withdrawn
        case enteredInError = "entered_in_error"

        /// Still waiting for someone to act.
        public var isOpen: Bool { self == .requested || self == .received || self == .accepted }
    }

    public var id: ReferralID
    public var from: InstitutionID
    public var to: InstitutionID
    public var reason: CaseText?
    public var requestedServices: [RequestedService]
    public var urgency: Urgency
    public var due: Date
    public var sentAt: Date
    public var status: Status
    /// When the status last changed: "declined on 3 May".
    public var statusChangedAt: Date
    public var note: CaseText?
}

public struct CaseConference: Hashable, Codable, Sendable {
    public enum Status: String, Codable, Sendable { case scheduled, held, cancelled }

    public var id: ConferenceID
    public var convenor: InstitutionID
    public var at: Date
    public var invited: [InstitutionID]
    public var attended: [InstitutionID]
    public var status: Status
    public var statusChangedAt: Date
}

public struct ConferenceDecision: Hashable, Codable, Sendable {
    public var id: DecisionID
    public var conference: ConferenceID
    public var type: DecisionType
    public var responsible: InstitutionID
    public var due: Date?
    public var note: CaseText?
    public var implementedAt: Date?
}

public struct AssistanceRecord: Hashable, Codable, Sendable {
    public var kind: AssistanceKind
    public var provider: InstitutionID
    public var at: Date
    /// The person assisted; nil: every person of the case.
    public var subject: SubjectID? = nil
}

extension Case.Status {
    /// The status after `event`: the one rule, for the case and for every view that shows it.
    /// `acknowledged` and `triaged` say whether the case had been, before the event.
    public func after(_ event: CaseEvent, acknowledged: Bool, triaged: Bool) -> Case.Status {
        switch event {
        case .reportAcknowledged: self == .reported ? .acknowledged : self
        case .reportTriaged: self == .closed ? .closed : .triaged
        case .caseClosed: .closed
        case .caseReopened: triaged ? .triaged : acknowledged ? .acknowledged : .reported
        default: self
        }
    }
}

/// A case as it stands: the fold of its events. Nothing here is stored; it is rebuilt from the
/// stream whenever it is needed, so it can never disagree with the history.
public struct Case: Hashable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Filed, waiting for the Center.
        case reported
        case acknowledged
        case triaged
        case closed
    }

    public var id: CaseID
    public var status: Status
    public var filedAt: Date
    public var report: CaseEvent.ReportFiled
    public var acknowledgedAt: Date?
    public var triage: CaseEvent.ReportTriaged?
    public var referrals: [Referral]
    public var conferences: [CaseConference]
    public var decisions: [ConferenceDecision]
    /// The latest identification concluded in the case, about any of its people.
    public var identification: IdentificationOutcome?
    /// The latest identification concluded about each person (one concluded for every person
    /// counts for each of them).
    public var outcomes: [SubjectID: IdentificationOutcome] = [:]
    public var assistance: [AssistanceRecord]
    public var closedAt: Date?
    public var closeReason: CaseText?
    /// When each person's personal data was erased (their key destroyed).
    public var erasures: [SubjectID: Date] = [:]
    /// When the first-named person's personal data was erased: the case's texts were sealed
    /// under their key, so from then on it takes no text.
    public var personalDataErasedAt: Date? { erasures[report.subject.id] }
    /// Institutions that may see the case: the reporter, everyone referred to or from, everyone
    /// invited to a conference. (The Center and auditors see every case besides.)
    public var parties: Set<InstitutionID>
    /// The number of events folded: the stream version, the case's ETag.
    public var version: Int64

    public var isClosed: Bool { status == .closed }

    public func referral(_ id: ReferralID) -> Referral? { referrals.first { $0.id == id } }
    public func conference(_ id: ConferenceID) -> CaseConference? { conferences.first { $0.id == id } }
    public func decision(_ id: DecisionID) -> ConferenceDecision? { decisions.first { $0.id == id } }
}

extension Case {
    /// The case after `event`, recorded at `time`. Pure and total: events are facts already
    /// accepted by ``CaseDecider``, so this never refuses one. An event for something unknown
    /// (which a correct history does not contain) leaves the case unchanged.
    public static func evolve(_ state: Case?, _ event: CaseEvent, at time: Date) -> Case? {
        guard var state else {
            guard case .reportFiled(let report) = event else { return nil }
            return Case(
                id: report.caseID,
                status: .reported,
                filedAt: time,
                report: report,
                acknowledgedAt: nil,
                triage: nil,
                referrals: [],
                conferences: [],
                decisions: [],
                identification: nil,
                assistance: [],
                closedAt: nil,
                closeReason: nil,
                parties: [report.reportingInstitution],
                version: 1
            )
        }
        state.version += 1
        switch event {
        case .reportFiled:
            break
        case .reportAcknowledged:
            state.status = state.status.after(event, acknowledged: true, triaged: state.triage != nil)
            state.acknowledgedAt = time
        case .reportTriaged(let triage):
            state.status = state.status.after(event, acknowledged: state.acknowledgedAt != nil, triaged: true)
            state.triage = triage
        case .referralSent(let sent):
            state.referrals.append(
                Referral(
                    id: sent.referral,
                    from: sent.from,
                    to: sent.to,
                    reason: sent.reason,
                    requestedServices: sent.requestedServices,
                    urgency: sent.urgency,
                    due: sent.due,
                    sentAt: time,
                    status: .requested,
                    statusChangedAt: time,
                    note: nil
                )
            )
            state.parties.insert(sent.from)
            state.parties.insert(sent.to)
        case .referralReceived(let step): state.setReferral(step, .received, at: time)
        case .referralAccepted(let step): state.setReferral(step, .accepted, at: time)
        case .referralDeclined(let step): state.setReferral(step, .declined, at: time)
        case .referralCompleted(let step): state.setReferral(step, .completed, at: time)
        case .referralFailed(let step): state.setReferral(step, .failed, at: time)
        case .referralWithdrawn(let step): state.setReferral(step, .withdrawn, at: time)
        case .referralEnteredInError(let step): state.setReferral(step, .enteredInError, at: time)
        case .conferenceScheduled(let scheduled):
            state.conferences.append(
                CaseConference(
                    id: scheduled.conference,
                    convenor: scheduled.convenor,
                    at: scheduled.at,
                    invited: scheduled.invited,
                    attended: [],
                    status: .scheduled,
                    statusChangedAt: time
                )
            )
            state.parties.insert(scheduled.convenor)
            state.parties.formUnion(scheduled.invited)
        case .conferenceHeld(let held):
            if let index = state.conferences.firstIndex(where: { $0.id == held.conference }) {
                state.conferences[index].status = .held
                state.conferences[index].attended = held.attended
                state.conferences[index].statusChangedAt = time
            }
        case .conferenceCancelled(let cancelled):
            if let index = state.conferences.firstIndex(where: { $0.id == cancelled.conference }) {
                state.conferences[index].status = .cancelled
                state.conferences[index].statusChangedAt = time
            }
        case .decisionRecorded(let recorded):
            state.decisions.append(
                ConferenceDecision(
                    id: recorded.decision,
                    conference: recorded.conference,
                    type: recorded.type,
                    responsible: recorded.responsible,
                    due: recorded.due,
                    note: recorded.note,
                    implementedAt: nil
                )
            )
        case .decisionImplemented(let implemented):
            if let index = state.decisions.firstIndex(where: { $0.id == implemented.decision }) {
                state.decisions[index].implementedAt = time
            }
        case .identificationConcluded(let concluded):
            state.identification = concluded.outcome
            for subject in state.report.subjects where concluded.subject == nil || concluded.subject == subject.id {
                state.outcomes[subject.id] = concluded.outcome
            }
        case .assistanceProvided(let provided):
            state.assistance.append(AssistanceRecord(kind: provided.kind, provider: provided.provider, at: time, subject: provided.subject))
        case .caseClosed(let closed):
            state.status = state.status.after(event, acknowledged: state.acknowledgedAt != nil, triaged: state.triage != nil)
            state.closedAt = time
            state.closeReason = closed.reason
        case .personalDataErased(let erased):
            if state.erasures[erased.subject] == nil { state.erasures[erased.subject] = time }
        case .caseReopened:
            state.status = state.status.after(event, acknowledged: state.acknowledgedAt != nil, triaged: state.triage != nil)
            state.closedAt = nil
            state.closeReason = nil
        }
        return state
    }

    private mutating func setReferral(_ step: CaseEvent.ReferralStep, _ status: Referral.Status, at time: Date) {
        guard let index = referrals.firstIndex(where: { $0.id == step.referral }) else { return }
        referrals[index].status = status
        referrals[index].statusChangedAt = time
        referrals[index].note = step.note ?? referrals[index].note
    }

    /// Folds a whole history.
    public static func replay(_ events: some Sequence<(event: CaseEvent, at: Date)>) -> Case? {
        events.reduce(nil) { evolve($0, $1.event, at: $1.at) }
    }
}
