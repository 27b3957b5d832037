import Foundation

/// Where a command to a case is decided: the case as it stands and a command give the events
/// to record, or a ``CaseError``. Pure: the same inputs always give the same answer, so every
/// rule is tested without a database.
public enum CaseDecider {
    public static func decide(_ command: CaseCommand, on state: Case?, context: DecisionContext) throws(CaseError) -> [CaseEvent] {
        try CaseLimits.check(command)
        if case .fileReport(let report) = command {
            guard state == nil else { throw .caseAlreadyExists(report.caseID) }
            return [.reportFiled(try file(report, context))]
        }
        guard let state else { throw .caseNotFound }
        let actor = context.actor
        if case let .erasePersonalData(legalBasis, reference, subject) = command {
            // An admin's act on the data protection side: no party to the case, never sees it.
            guard actor.role == .admin else { throw .roleMayNot(actor.role, action: "erase personal data") }
            try requireText(legalBasis, "the legal basis")
            try requireText(reference, "the reference of the erasure request")
            let people = try subjects(subject, of: state)
            let remaining = people.filter { state.erasures[$0] == nil }
            guard !remaining.isEmpty else { throw .personalDataAlreadyErased(on: people.compactMap { state.erasures[$0] }.max() ?? state.filedAt) }
            return remaining.map { .personalDataErased(.init(subject: $0, legalBasis: legalBasis, reference: reference)) }
        }
        guard actor.role == .reporter || actor.role == .coordinator else {
            throw .roleMayNot(actor.role, action: "change a case")
        }
        // To anyone who is neither a party nor the Center the case does not exist.
        guard context.isCenter || state.parties.contains(actor.institution) else { throw .caseNotFound }
        let me = actor.institution

        switch command {
        case .fileReport:
            preconditionFailure("handled above")

        case .acknowledge:
            try requireCenter(context, "acknowledge a report")
            try requireOpen(state)
            if let on = state.acknowledgedAt { throw .alreadyAcknowledged(on: on) }
            return [.reportAcknowledged(.init(by: me))]

        case let .triage(confirmedRisk, caseManager, note):
            try requireCenter(context, "triage a report")
            try requireOpen(state)
            guard state.acknowledgedAt != nil else { throw .notAcknowledged }
            return [.reportTriaged(.init(confirmedRisk: confirmedRisk, caseManager: caseManager, note: try optional(note, "the note", state)))]

        case .sendReferral(let send):
            try requireOpen(state)
            guard state.referral(send.referral) == nil else { throw .referralExists(send.referral) }
            guard send.to != me else { throw .referralToSelf }
            try requireActive(send.to, context)
            let reason = try required(send.reason, "the reason for the referral", state)
            guard send.due > context.now else { throw .dueInThePast }
            return [
                .referralSent(
                    .init(
                        referral: send.referral,
                        from: me,
                        to: send.to,
                        reason: reason,
                        requestedServices: send.requestedServices,
                        urgency: send.urgency,
                        due: send.due
                    )
                )
            ]

        case .receiveReferral(let id):
            let referral = try referralForReceiver(id, state, context)
            try require(referral, in: [.requested], "received")
            return [.referralReceived(.init(referral: id, by: me, note: nil))]

        case let .acceptReferral(id, note):
            let referral = try referralForReceiver(id, state, context)
            try require(referral, in: [.requested, .received], "accepted")
            return [.referralAccepted(.init(referral: id, by: me, note: try optional(note, "the note", state)))]

        case let .declineReferral(id, reason):
            let referral = try referralForReceiver(id, state, context)
            try require(referral, in: [.requested, .received], "declined")
            return [.referralDeclined(.init(referral: id, by: me, note: try required(reason, "the reason for declining", state)))]

        case let .completeReferral(id, outcome):
            let referral = try referralForReceiver(id, state, context)
            try require(referral, in: [.accepted], "completed")
            return [.referralCompleted(.init(referral: id, by: me, note: try required(outcome, "the outcome", state)))]

        case let .failReferral(id, reason):
            let referral = try referralForReceiver(id, state, context)
            try require(referral, in: [.accepted], "marked failed")
            return [.referralFailed(.init(referral: id, by: me, note: try required(reason, "the reason it failed", state)))]

        case let .withdrawReferral(id, reason):
            let referral = try referralForSender(id, state, context)
            try require(referral, in: [.requested, .received, .accepted], "withdrawn")
            return [.referralWithdrawn(.init(referral: id, by: me, note: try optional(reason, "the reason", state)))]

        case let .markReferralEnteredInError(id, reason):
            let referral = try referralForSender(id, state, context)
            guard referral.status != .enteredInError else {
                throw .referralNotInState(id, status: referral.status, since: referral.statusChangedAt, wanted: "marked entered in error again")
            }
            return [.referralEnteredInError(.init(referral: id, by: me, note: try required(reason, "the reason for the correction", state)))]

        case let .scheduleConference(id, at, invited):
            try requireOpen(state)
            guard state.conference(id) == nil else { throw .conferenceExists(id) }
            for institution in invited { try requireActive(institution, context) }
            return [.conferenceScheduled(.init(conference: id, convenor: me, at: at, invited: Self.unique(invited)))]

        case let .recordConferenceHeld(id, attended):
            try requireOpen(state)
            let conference = try conferenceForConvenor(id, state, context)
            guard conference.status == .scheduled else { throw .conferenceNotInState(id, status: conference.status, wanted: "held") }
            let allowed = Set(conference.invited).union([conference.convenor])
            for institution in attended where !allowed.contains(institution) { throw .attendeeNotInvited(institution) }
            return [.conferenceHeld(.init(conference: id, attended: Self.unique(attended)))]

        case let .recordDecision(conferenceID, decisionID, type, responsible, due, note):
            try requireOpen(state)
            let conference = try conferenceForConvenor(conferenceID, state, context)
            guard conference.status == .held else {
                throw .conferenceNotInState(conferenceID, status: conference.status, wanted: "the place of a decision until it is held")
            }
            guard state.decision(decisionID) == nil else { throw .decisionExists(decisionID) }
            guard conference.attended.contains(responsible) || context.institutions[responsible]?.isCenter == true else {
                throw .responsibleDidNotAttend(responsible)
            }
            if let due, due <= context.now { throw .dueInThePast }
            return [
                .decisionRecorded(
                    .init(
                        conference: conferenceID,
                        decision: decisionID,
                        type: type,
                        responsible: responsible,
                        due: due,
                        note: try optional(note, "the note", state)
                    )
                )
            ]

        case let .cancelConference(id, reason):
            try requireOpen(state)
            let conference = try conferenceForConvenor(id, state, context)
            guard conference.status == .scheduled else { throw .conferenceNotInState(id, status: conference.status, wanted: "cancelled") }
            return [.conferenceCancelled(.init(conference: id, reason: try required(reason, "the reason for cancelling", state)))]

        case let .markDecisionImplemented(id, note):
            try requireOpen(state)
            guard let decision = state.decision(id) else { throw .decisionNotFound(id) }
            guard decision.responsible == me || context.isCenter else { throw .onlyResponsible(id) }
            if let on = decision.implementedAt { throw .decisionAlreadyImplemented(id, on: on) }
            return [.decisionImplemented(.init(decision: id, by: me, note: try optional(note, "the note", state)))]

        case let .concludeIdentification(outcome, note, subject):
            try requireCenter(context, "conclude identification")
            try requireOpen(state)
            _ = try subjects(subject, of: state)
            return [.identificationConcluded(.init(outcome: outcome, note: try optional(note, "the note", state), subject: subject))]

        case let .provideAssistance(kind, provider, note, subject):
            try requireOpen(state)
            guard provider == me || context.isCenter else { throw .notAParty }
            try requireActive(provider, context)
            _ = try subjects(subject, of: state)
            return [.assistanceProvided(.init(kind: kind, provider: provider, note: try optional(note, "the note", state), subject: subject))]

        case .close(let reason):
            try requireCenter(context, "close a case")
            try requireOpen(state)
            let reason = try required(reason, "the reason for closing", state)
            let open = state.referrals.filter { $0.status.isOpen }.count
            guard open == 0 else { throw .openReferrals(count: open) }
            return [.caseClosed(.init(reason: reason))]

        case .reopen(let reason):
            try requireCenter(context, "reopen a case")
            guard state.isClosed else { throw .caseNotClosed }
            return [.caseReopened(.init(reason: try required(reason, "the reason for reopening", state)))]

        case .erasePersonalData:
            preconditionFailure("handled above")
        }
    }

    // MARK: Filing

    private static func file(_ report: CaseCommand.FileReport, _ context: DecisionContext) throws(CaseError) -> CaseEvent.ReportFiled {
        let actor = context.actor
        guard actor.role == .reporter || actor.role == .coordinator else { throw .roleMayNot(actor.role, action: "file a report") }
        guard let institution = context.actingInstitution else { throw .unknownInstitution(actor.institution) }
        guard institution.isActive else { throw .inactiveInstitution(institution.id, name: institution.nameLatin) }
        guard context.geography.municipality(report.municipality) != nil else { throw .unknownMunicipality(report.municipality.rawValue) }
        for location in report.locations {
            switch (location.municipality, location.country) {
            case (let code?, nil):
                guard context.geography.municipality(code) != nil else { throw .unknownMunicipality(code.rawValue) }
            case (nil, let country?):
                guard country.count == 2, country.allSatisfy({ $0.isASCII && $0.isUppercase }) else { throw .badCountry(country) }
            default:
                throw .locationNeedsOnePlace(location.role)
            }
        }
        var named: Set<SubjectID> = []
        for subject in report.subjects {
            guard named.insert(subject.id).inserted else { throw .subjectNamedTwice(subject.id) }
            if let citizenship = subject.profile.citizenship,
                !(citizenship.count == 2 && citizenship.allSatisfy({ $0.isASCII && $0.isUppercase }))
            {
                throw .badCountry(citizenship)
            }
        }
        for indicator in report.indicators where context.catalogue.indicators[indicator] == nil {
            throw .unknownIndicator(indicator.rawValue)
        }
        let indicators = Array(Set(report.indicators)).sorted()
        return CaseEvent.ReportFiled(
            caseID: report.caseID,
            reportingInstitution: institution.id,
            municipality: report.municipality,
            channel: report.channel,
            subjects: report.subjects,
            locations: report.locations,
            exploitation: Array(Set(report.exploitation)).sorted { $0.rawValue < $1.rawValue },
            indicators: indicators,
            // A child among them makes the indicators read as for a child.
            risk: context.catalogue.assess(
                Set(indicators),
                ageGroup: report.subjects.first(where: { $0.profile.ageGroup.isChild })?.profile.ageGroup ?? report.subject.ageGroup
            ),
            urgency: report.urgency,
            reporterTrained: report.reporterTrained
        )
    }

    // MARK: Rules shared by several commands

    /// The people a command is about: `subject`, which must be one of the case's, or all of
    /// them (nil).
    private static func subjects(_ subject: SubjectID?, of state: Case) throws(CaseError) -> [SubjectID] {
        guard let subject else { return state.report.subjects.map(\.id) }
        guard state.report.subject(subject) != nil else { throw .subjectNotFound(subject) }
        return [subject]
    }

    private static func requireCenter(_ context: DecisionContext, _ action: String) throws(CaseError) {
        guard context.isCenter else { throw .onlyTheCenter(action: action) }
    }

    private static func requireOpen(_ state: Case) throws(CaseError) {
        if state.isClosed { throw .caseClosed(since: state.closedAt ?? state.filedAt) }
    }

    private static func requireText(_ text: String, _ field: String) throws(CaseError) {
        guard !isBlank(text) else { throw .missingText(field: field) }
    }

    /// A text the command must carry, as the event records it. Once the subject's personal
    /// data is erased a case takes no text (it could not be sealed, and in the clear no
    /// erasure would reach it), so then it is not required and must be left out.
    private static func required(_ text: String, _ field: String, _ state: Case) throws(CaseError) -> CaseText? {
        if state.personalDataErasedAt == nil { try requireText(text, field) }
        return try optional(text, field, state)
    }

    /// A text the command may carry: none when blank; refused once personal data is erased.
    private static func optional(_ text: String?, _ field: String, _ state: Case) throws(CaseError) -> CaseText? {
        guard let text, !isBlank(text) else { return nil }
        if let erasedOn = state.personalDataErasedAt { throw .textAfterErasure(field: field, erasedOn: erasedOn) }
        return .written(text)
    }

    private static func isBlank(_ text: String) -> Bool { text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }

    private static func requireActive(_ id: InstitutionID, _ context: DecisionContext) throws(CaseError) {
        guard let institution = context.institutions[id] else { throw .unknownInstitution(id) }
        guard institution.isActive else { throw .inactiveInstitution(id, name: institution.nameLatin) }
    }

    private static func require(_ referral: Referral, in allowed: Set<Referral.Status>, _ wanted: String) throws(CaseError) {
        guard allowed.contains(referral.status) else {
            throw .referralNotInState(referral.id, status: referral.status, since: referral.statusChangedAt, wanted: wanted)
        }
    }

    private static func referralForReceiver(_ id: ReferralID, _ state: Case, _ context: DecisionContext) throws(CaseError) -> Referral {
        try requireOpen(state)
        guard let referral = state.referral(id) else { throw .referralNotFound(id) }
        guard referral.to == context.actor.institution else { throw .onlyReceiver(id) }
        return referral
    }

    private static func referralForSender(_ id: ReferralID, _ state: Case, _ context: DecisionContext) throws(CaseError) -> Referral {
        try requireOpen(state)
        guard let referral = state.referral(id) else { throw .referralNotFound(id) }
        guard referral.from == context.actor.institution || context.isCenter else { throw .onlySender(id) }
        return referral
    }

    private static func conferenceForConvenor(_ id: ConferenceID, _ state: Case, _ context: DecisionContext) throws(CaseError) -> CaseConference {
        guard let conference = state.conference(id) else { throw .conferenceNotFound(id) }
        guard conference.convenor == context.actor.institution || context.isCenter else { throw .notAParty }
        return conference
    }

    private static func unique(_ ids: [InstitutionID]) -> [InstitutionID] {
        var seen = Set<InstitutionID>()
        return ids.filter { seen.insert($0).inserted }
    }
}
