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
    /// About one person of the case (`subject`), or every person of it (nil).
    case concludeIdentification(IdentificationOutcome, note: String?, subject: SubjectID? = nil)
    /// For one person of the case (`subject`), or every person of it (nil).
    case provideAssistance(AssistanceKind, provider: InstitutionID, note: String?, subject: SubjectID? = nil)
    case close(reason: String)
    case reopen(reason: String)
    /// Crypto-shredding of one person's personal data (`subject`), or of every person's not
    /// erased yet (nil), by an admin with a legal basis. The application destroys the keys;
    /// this records that it did and why.
    case erasePersonalData(legalBasis: String, reference: String, subject: SubjectID? = nil)

    public struct FileReport: Hashable, Sendable, Encodable {
        public var caseID: CaseID
        public var municipality: MunicipalityCode
        public var channel: ReportChannel
        /// The first person the report is about, and their sealed personal data.
        public var subject: SubjectProfile
        public var personalData: SealedPersonalData?
        /// Everyone else it is about (nil or empty: nobody else).
        public var otherSubjects: [CaseSubject]?
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
            otherSubjects: [CaseSubject] = [],
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
            // Absent rather than empty: a one-person report keeps the fingerprint it always had.
            self.otherSubjects = otherSubjects.isEmpty ? nil : otherSubjects
            self.locations = locations
            self.exploitation = exploitation
            self.indicators = indicators
            self.urgency = urgency
            self.reporterTrained = reporterTrained
        }

        /// Everyone the report is about, the first named first.
        public var subjects: [CaseSubject] { [CaseSubject(profile: subject, personalData: personalData)] + (otherSubjects ?? []) }
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
