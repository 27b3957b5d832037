import Foundation

/// What someone asks to happen to a case. ``CaseDecider/decide(_:on:context:)`` turns a
/// command and the case as it stands into events, or refuses with a ``CaseError``.
/// Encodable for the idempotency fingerprint (the application's canonical form of a request).
public enum CaseCommand: Hashable, Sendable, Encodable {
    case fileReport(FileReport)
    case acknowledge
    case triage(confirmedRisk: RiskLevel, caseManager: String, note: String?)
    case sendReferral(SendReferral)
    case receiveReferral(ReferralID)
    case acceptReferral(ReferralID, note: String?)
    case declineReferral(ReferralID, reason: String)
    case completeReferral(ReferralID, outcome: String)
    case failReferral(ReferralID, reason: String)
    case withdrawReferral(ReferralID, reason: String?)
    case markReferralEnteredInError(ReferralID, reason: String)
    case scheduleConference(ConferenceID, at: Date, invited: [InstitutionID])
    case recordConferenceHeld(ConferenceID, attended: [InstitutionID])
    case recordDecision(ConferenceID, DecisionID, type: DecisionType, responsible: InstitutionID, due: Date?, note: String?)
    case cancelConference(ConferenceID, reason: String)
    case markDecisionImplemented(DecisionID, note: String?)
    case concludeIdentification(IdentificationOutcome, note: String?)
    case provideAssistance(AssistanceKind, provider: InstitutionID, note: String?)
    case close(reason: String)
    case reopen(reason: String)
    /// Crypto-shredding of the subject's personal data (an admin, with a legal basis). The
    /// application destroys the key; this records that it did and why.
    case erasePersonalData(legalBasis: String, reference: String)

    public struct FileReport: Hashable, Sendable, Encodable {
        public var caseID: CaseID
        public var municipality: MunicipalityCode
        public var channel: ReportChannel
        public var subject: SubjectProfile
        public var personalData: SealedPersonalData?
        public var locations: [Location]
        public var exploitation: [ExploitationForm]
        public var indicators: [IndicatorID]
        public var urgency: Urgency
        public var reporterTrained: Bool

        public init(
            caseID: CaseID = CaseID(),
            municipality: MunicipalityCode,
            channel: ReportChannel,
            subject: SubjectProfile,
            personalData: SealedPersonalData? = nil,
            locations: [Location] = [],
            exploitation: [ExploitationForm] = [],
            indicators: [IndicatorID] = [],
            urgency: Urgency = .routine,
            reporterTrained: Bool = false
        ) {
            self.caseID = caseID
            self.municipality = municipality
            self.channel = channel
            self.subject = subject
            self.personalData = personalData
            self.locations = locations
            self.exploitation = exploitation
            self.indicators = indicators
            self.urgency = urgency
            self.reporterTrained = reporterTrained
        }
    }

    public struct SendReferral: Hashable, Sendable, Encodable {
        public var referral: ReferralID
        public var to: InstitutionID
        public var reason: String
        public var requestedServices: [RequestedService]
        public var urgency: Urgency
        public var due: Date

        public init(
            referral: ReferralID = ReferralID(),
            to: InstitutionID,
            reason: String,
            requestedServices: [RequestedService] = [],
            urgency: Urgency = .routine,
            due: Date
        ) {
            self.referral = referral
            self.to = to
            self.reason = reason
            self.requestedServices = requestedServices
            self.urgency = urgency
            self.due = due
        }
    }
}

/// What a decision needs to know beyond the case: who acts, when, and the few institutions
/// the command names. The application layer fetches these; the decider does no I/O.
public struct DecisionContext: Sendable {
    public var actor: Actor
    public var now: Date
    /// The acting institution and every institution the command names, by id.
    public var institutions: [InstitutionID: Institution]
    public var geography: Geography
    public var catalogue: IndicatorCatalogue

    public init(actor: Actor, now: Date, institutions: [InstitutionID: Institution], geography: Geography, catalogue: IndicatorCatalogue = .current) {
        self.actor = actor
        self.now = now
        self.institutions = institutions
        self.geography = geography
        self.catalogue = catalogue
    }

    var actingInstitution: Institution? { institutions[actor.institution] }
    /// The Center acting through its coordinators.
    var isCenter: Bool { actor.role == .coordinator && actingInstitution?.isCenter == true }
}
