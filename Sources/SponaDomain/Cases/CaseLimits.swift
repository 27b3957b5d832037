import Foundation

/// The realistic size of everything a command to a case carries. What a command records stays
/// in the history for ever and every reader folds it, so nothing unbounded gets in: a report
/// with thousands of places would make a million place-flow rows.
public enum CaseLimits {
    /// Notes, reasons, outcomes, a case manager's name: characters as a person counts them.
    public static let maxTextCharacters = 2_000
    /// Places of a report (residence, recruitment, transit, exploitation): 10 recruitment and
    /// 10 exploitation places make at most 100 place flows.
    public static let maxLocations = 20
    public static let maxLocationsPerRole = 10
    public static let maxIndicators = 200
    public static let maxRequestedServices = RequestedService.allCases.count
    public static let maxActorIDCharacters = 200
    /// People one report is about: a family, a group of workers found together.
    public static let maxSubjects = 50
    /// Institutions invited to, or attending, one conference.
    public static let maxConferenceInstitutions = 100

    /// Refuses a command whose texts or lists are larger than the limits.
    static func check(_ command: CaseCommand) throws(CaseError) {
        switch command {
        case .fileReport(let report):
            try places(report.locations)
            try list(report.indicators.count, maxIndicators, "indicators")
            try people(report.subjects.count)
            for subject in report.subjects {
                try list(subject.profile.vulnerableGroups.count, VulnerableGroup.allCases.count, "vulnerable groups")
                for group in subject.profile.vulnerableGroups where VulnerableGroup(rawValue: group) == nil {
                    throw .unknownVulnerableGroup(group)
                }
            }
        case let .triage(_, caseManager, note):
            guard isActorID(caseManager) else { throw .badActorID(caseManager) }
            try text(note, "the note")
        case .sendReferral(let send):
            try text(send.reason, "the reason for the referral")
            try list(send.requestedServices.count, maxRequestedServices, "requested services")
        case .receiveReferral, .acknowledge:
            break
        case let .acceptReferral(_, note), let .markDecisionImplemented(_, note), let .concludeIdentification(_, note, _),
            let .provideAssistance(_, _, note, _), let .recordDecision(_, _, _, _, _, note):
            try text(note, "the note")
        case let .declineReferral(_, reason), let .failReferral(_, reason), let .markReferralEnteredInError(_, reason),
            let .cancelConference(_, reason), let .close(reason), let .reopen(reason):
            try text(reason, "the reason")
        case let .withdrawReferral(_, reason):
            try text(reason, "the reason")
        case let .completeReferral(_, outcome):
            try text(outcome, "the outcome")
        case let .scheduleConference(_, _, institutions), let .recordConferenceHeld(_, institutions):
            try list(institutions.count, maxConferenceInstitutions, "institutions")
        case let .erasePersonalData(legalBasis, reference, _):
            try text(legalBasis, "the legal basis")
            try text(reference, "the reference")
        }
    }

    /// What a reader checks of a stored report before folding it: the places, the one list
    /// whose size multiplies (recruitment × exploitation place flows). A report recorded before
    /// these limits existed is then named by the reader instead of filling its tables.
    public static func checkStored(_ report: CaseEvent.ReportFiled) throws(CaseError) {
        try places(report.locations)
        guard !report.subjects.isEmpty else { throw .noSubject }
        try people(report.subjects.count)
    }

    /// How many people one report may name: also checked by the HTTP edge before it seals
    /// anyone's personal data.
    public static func people(_ count: Int) throws(CaseError) {
        try list(count, maxSubjects, "people in one report")
    }

    private static func places(_ locations: [Location]) throws(CaseError) {
        try list(locations.count, maxLocations, "locations")
        for role in Location.Role.allCases {
            try list(locations.filter { $0.role == role }.count, maxLocationsPerRole, "\(role.rawValue) locations")
        }
    }

    private static func text(_ value: String?, _ field: String, limit: Int = maxTextCharacters) throws(CaseError) {
        guard let value else { return }
        // Scalars bound characters from above: count the characters only when it matters.
        if value.unicodeScalars.count > limit, value.count > limit { throw .tooLong(field: field, limit: limit) }
    }

    /// An actor id as tokens carry it (`coordinator-7`, `operator:ana`, `ana@center.rs`): no
    /// spaces, so no sentence about anyone fits in it.
    public static func isActorID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= maxActorIDCharacters
            && text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "._-:@".unicodeScalars.contains($0))
            }
    }

    private static func list(_ count: Int, _ limit: Int, _ field: String) throws(CaseError) {
        guard count <= limit else { throw .tooMany(field: field, limit: limit) }
    }
}

/// Groups at higher risk of trafficking that a report may mark its subject as belonging to: a
/// closed list of codes, never free text (free text in the clear would be personal data
/// recorded for ever, beyond the reach of erasure).
public enum VulnerableGroup: String, CaseIterable, Codable, Sendable {
    /// Roma, Ashkali and Egyptian communities.
    case roma
    /// A child in residential or foster care.
    case childInCare = "child_in_care"
    /// A child or young person who has left care.
    case careLeaver = "care_leaver"
    case unaccompaniedMinor = "unaccompanied_minor"
    case asylumSeeker = "asylum_seeker"
    case refugee
    case streetSituation = "street_situation"
    case disability
    case substanceUse = "substance_use"
    case domesticViolence = "domestic_violence"
    case extremePoverty = "extreme_poverty"
    case outOfSchool = "out_of_school"
    case undocumented
    case lgbtiq
    case other
}
