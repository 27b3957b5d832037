import Foundation
import Testing

@testable import SponaDomain

/// Every refusal the rules know, each from a state where it must happen.
@Suite("Refused transitions")
struct RefusedTransitionTests {
    let n = Network()

    /// A triaged case with one referral from the Center to the social work centre.
    func caseWithReferral() throws -> (Journey, ReferralID) {
        var journey = Journey(network: n)
        _ = try prokupljeReport(&journey)
        try journey.run(.acknowledge, as: n.center)
        try journey.run(.triage(confirmedRisk: .high, caseManager: "c-1", note: nil), as: n.center)
        let referral = CaseCommand.SendReferral(to: n.socialWork.id, reason: "assessment", due: journey.now + 86_400)
        try journey.run(.sendReferral(referral), as: n.center)
        return (journey, referral.referral)
    }

    func expectRefusal(
        _ journey: Journey,
        _ command: CaseCommand,
        as institution: Institution,
        role: Role? = nil,
        _ expected: CaseError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var copy = journey
        let before = copy.history.count
        #expect(throws: expected, sourceLocation: sourceLocation) { try copy.run(command, as: institution, role: role) }
        #expect(copy.history.count == before, "nothing is recorded", sourceLocation: sourceLocation)
    }

    @Test("a declined referral cannot be accepted, and the message says when it was declined")
    func acceptDeclined() throws {
        var (journey, referral) = try caseWithReferral()
        try journey.run(.declineReferral(referral, reason: "no capacity"), as: n.socialWork)
        let declinedAt = journey.now
        var copy = journey
        let error = #expect(throws: CaseError.self) { try copy.run(.acceptReferral(referral, note: nil), as: n.socialWork) }
        #expect(error == .referralNotInState(referral, status: .declined, since: declinedAt, wanted: "accepted"))
        #expect(error?.description.hasPrefix("referral R-\(referral.description.prefix(8)) was declined on ") == true)
        #expect(error?.description.hasSuffix("; it cannot be accepted") == true)
    }

    @Test("referral steps out of order are refused")
    func referralOrder() throws {
        var (journey, referral) = try caseWithReferral()
        expectRefusal(
            journey,
            .completeReferral(referral, outcome: "done"),
            as: n.socialWork,
            .referralNotInState(referral, status: .requested, since: journey.now, wanted: "completed")
        )
        expectRefusal(
            journey,
            .failReferral(referral, reason: "x"),
            as: n.socialWork,
            .referralNotInState(referral, status: .requested, since: journey.now, wanted: "marked failed")
        )
        try journey.run(.receiveReferral(referral), as: n.socialWork)
        expectRefusal(
            journey,
            .receiveReferral(referral),
            as: n.socialWork,
            .referralNotInState(referral, status: .received, since: journey.now, wanted: "received")
        )
        try journey.run(.acceptReferral(referral, note: nil), as: n.socialWork)
        expectRefusal(
            journey,
            .declineReferral(referral, reason: "changed our mind"),
            as: n.socialWork,
            .referralNotInState(referral, status: .accepted, since: journey.now, wanted: "declined")
        )
        try journey.run(.withdrawReferral(referral, reason: "no longer needed"), as: n.center)
        expectRefusal(
            journey,
            .completeReferral(referral, outcome: "done"),
            as: n.socialWork,
            .referralNotInState(referral, status: .withdrawn, since: journey.now, wanted: "completed")
        )
        expectRefusal(
            journey,
            .withdrawReferral(referral, reason: nil),
            as: n.center,
            .referralNotInState(referral, status: .withdrawn, since: journey.now, wanted: "withdrawn")
        )
        try journey.run(.markReferralEnteredInError(referral, reason: "sent to the wrong centre"), as: n.center)
        expectRefusal(
            journey,
            .markReferralEnteredInError(referral, reason: "again"),
            as: n.center,
            .referralNotInState(referral, status: .enteredInError, since: journey.now, wanted: "marked entered in error again")
        )
    }

    @Test("only the receiver acts on a referral, only the sender withdraws it")
    func referralRoles() throws {
        let (journey, referral) = try caseWithReferral()
        // The school is a party (it reported) but not the receiver.
        expectRefusal(journey, .acceptReferral(referral, note: nil), as: n.school, .onlyReceiver(referral))
        expectRefusal(journey, .withdrawReferral(referral, reason: nil), as: n.school, .onlySender(referral))
        let missing = ReferralID()
        expectRefusal(journey, .acceptReferral(missing, note: nil), as: n.socialWork, .referralNotFound(missing))
    }

    @Test("sending a referral: not to oneself, not to an inactive institution, not due in the past, with a reason")
    func sendingRules() throws {
        let (journey, _) = try caseWithReferral()
        let due = journey.now + 86_400
        expectRefusal(journey, .sendReferral(.init(to: n.center.id, reason: "x", due: due)), as: n.center, .referralToSelf)
        expectRefusal(
            journey,
            .sendReferral(.init(to: n.closed.id, reason: "x", due: due)),
            as: n.center,
            .inactiveInstitution(n.closed.id, name: n.closed.nameLatin)
        )
        let unknown = InstitutionID()
        expectRefusal(journey, .sendReferral(.init(to: unknown, reason: "x", due: due)), as: n.center, .unknownInstitution(unknown))
        expectRefusal(journey, .sendReferral(.init(to: n.police.id, reason: "x", due: journey.now - 1)), as: n.center, .dueInThePast)
        expectRefusal(
            journey,
            .sendReferral(.init(to: n.police.id, reason: "  ", due: due)),
            as: n.center,
            .missingText(field: "the reason for the referral")
        )
    }

    @Test("only the Center acknowledges, triages, identifies, closes and reopens")
    func centerOnly() throws {
        var journey = Journey(network: n)
        _ = try prokupljeReport(&journey)
        expectRefusal(journey, .acknowledge, as: n.school, .onlyTheCenter(action: "acknowledge a report"))
        expectRefusal(journey, .concludeIdentification(.identifiedVictim, note: nil), as: n.school, .onlyTheCenter(action: "conclude identification"))
        expectRefusal(journey, .close(reason: "x"), as: n.school, .onlyTheCenter(action: "close a case"))
        // A Center staff member with the reporter role is not acting as the Center, and the
        // Center is no party of this case: for that token the case does not exist.
        expectRefusal(journey, .concludeIdentification(.identifiedVictim, note: nil), as: n.center, role: .reporter, .caseNotFound)
        expectRefusal(journey, .triage(confirmedRisk: .high, caseManager: "c", note: nil), as: n.center, .notAcknowledged)
        try journey.run(.acknowledge, as: n.center)
        expectRefusal(journey, .acknowledge, as: n.center, .alreadyAcknowledged(on: journey.now))
        expectRefusal(journey, .reopen(reason: "x"), as: n.center, .caseNotClosed)
    }

    @Test("to an institution that is not a party, the case does not exist; analysts and auditors change nothing")
    func outsiders() throws {
        let (journey, _) = try caseWithReferral()
        expectRefusal(journey, .provideAssistance(.information, provider: n.outsider.id, note: nil), as: n.outsider, .caseNotFound)
        expectRefusal(journey, .acknowledge, as: n.center, role: .analyst, .roleMayNot(.analyst, action: "change a case"))
        expectRefusal(journey, .acknowledge, as: n.center, role: .auditor, .roleMayNot(.auditor, action: "change a case"))
        let fresh = Journey(network: n)
        expectRefusal(fresh, .acknowledge, as: n.center, .caseNotFound)
    }

    @Test("a closed case takes no steps until reopened; it cannot close with open referrals")
    func closing() throws {
        var (journey, referral) = try caseWithReferral()
        expectRefusal(journey, .close(reason: "done"), as: n.center, .openReferrals(count: 1))
        try journey.run(.withdrawReferral(referral, reason: nil), as: n.center)
        expectRefusal(journey, .close(reason: " "), as: n.center, .missingText(field: "the reason for closing"))
        try journey.run(.close(reason: "done"), as: n.center)
        let closedAt = journey.now
        expectRefusal(journey, .provideAssistance(.information, provider: n.school.id, note: nil), as: n.school, .caseClosed(since: closedAt))
        expectRefusal(
            journey,
            .sendReferral(.init(to: n.police.id, reason: "x", due: journey.now + 10_000)),
            as: n.school,
            .caseClosed(since: closedAt)
        )
        expectRefusal(journey, .close(reason: "again"), as: n.center, .caseClosed(since: closedAt))
        var reopened = journey
        try reopened.run(.reopen(reason: "new facts"), as: n.center)
        #expect(reopened.state?.isClosed == false)
    }

    @Test("conferences: decide only when held, hold only once, cancel only before, attendees were invited")
    func conferences() throws {
        var (journey, _) = try caseWithReferral()
        let conference = ConferenceID()
        let decision = DecisionID()
        try journey.run(.scheduleConference(conference, at: journey.now + 3600, invited: [n.school.id, n.police.id]), as: n.center)
        expectRefusal(journey, .scheduleConference(conference, at: journey.now, invited: []), as: n.center, .conferenceExists(conference))
        expectRefusal(
            journey,
            .recordDecision(conference, decision, type: .shelterPlacement, responsible: n.school.id, due: nil, note: nil),
            as: n.center,
            .conferenceNotInState(conference, status: .scheduled, wanted: "the place of a decision until it is held")
        )
        expectRefusal(journey, .recordConferenceHeld(conference, attended: [n.health.id]), as: n.center, .attendeeNotInvited(n.health.id))
        expectRefusal(
            journey,
            .recordConferenceHeld(ConferenceID(rawValue: decision.rawValue), attended: []),
            as: n.center,
            .conferenceNotFound(ConferenceID(rawValue: decision.rawValue))
        )
        try journey.run(.recordConferenceHeld(conference, attended: [n.school.id]), as: n.center)
        expectRefusal(
            journey,
            .recordConferenceHeld(conference, attended: [n.school.id]),
            as: n.center,
            .conferenceNotInState(conference, status: .held, wanted: "held")
        )
        expectRefusal(
            journey,
            .cancelConference(conference, reason: "x"),
            as: n.center,
            .conferenceNotInState(conference, status: .held, wanted: "cancelled")
        )
        expectRefusal(
            journey,
            .recordDecision(conference, decision, type: .shelterPlacement, responsible: n.police.id, due: nil, note: nil),
            as: n.center,
            .responsibleDidNotAttend(n.police.id)
        )
        try journey.run(
            .recordDecision(conference, decision, type: .preventionProgramme, responsible: n.school.id, due: nil, note: nil),
            as: n.center
        )
        expectRefusal(
            journey,
            .recordDecision(conference, decision, type: .other, responsible: n.school.id, due: nil, note: nil),
            as: n.center,
            .decisionExists(decision)
        )
        expectRefusal(journey, .markDecisionImplemented(decision, note: nil), as: n.socialWork, .onlyResponsible(decision))
        try journey.run(.markDecisionImplemented(decision, note: nil), as: n.school)
        expectRefusal(journey, .markDecisionImplemented(decision, note: nil), as: n.school, .decisionAlreadyImplemented(decision, on: journey.now))
        let missing = DecisionID()
        expectRefusal(journey, .markDecisionImplemented(missing, note: nil), as: n.school, .decisionNotFound(missing))
    }

    @Test("a report with an unknown municipality, indicator or country, or from an inactive institution, is refused")
    func badReports() throws {
        let journey = Journey(network: n)
        func report(_ change: (inout CaseCommand.FileReport) -> Void) -> CaseCommand {
            var report = CaseCommand.FileReport(
                municipality: MunicipalityCode(rawValue: "prokuplje"),
                channel: .app,
                subject: SubjectProfile(ageGroup: .child14to17, gender: .female)
            )
            change(&report)
            return .fileReport(report)
        }
        expectRefusal(journey, report { $0.municipality = MunicipalityCode(rawValue: "atlantis") }, as: n.school, .unknownMunicipality("atlantis"))
        expectRefusal(
            journey,
            report { $0.locations = [Location(role: .exploitation, municipality: MunicipalityCode(rawValue: "nowhere"))] },
            as: n.school,
            .unknownMunicipality("nowhere")
        )
        expectRefusal(journey, report { $0.locations = [Location(role: .transit, country: "Germany")] }, as: n.school, .badCountry("Germany"))
        expectRefusal(journey, report { $0.locations = [Location(role: .transit)] }, as: n.school, .locationNeedsOnePlace(.transit))
        expectRefusal(journey, report { $0.indicators = [IndicatorID(rawValue: "XX-99")] }, as: n.school, .unknownIndicator("XX-99"))
        expectRefusal(journey, report { _ in }, as: n.closed, .inactiveInstitution(n.closed.id, name: n.closed.nameLatin))
        expectRefusal(journey, report { _ in }, as: n.school, role: .analyst, .roleMayNot(.analyst, action: "file a report"))
        var filed = journey
        let command = report { _ in }
        try filed.run(command, as: n.school)
        guard case .fileReport(let again) = command else { return }
        expectRefusal(filed, command, as: n.school, .caseAlreadyExists(again.caseID))
    }

    @Test("once personal data is erased a case takes no text: notes are refused, reasons no longer required")
    func noTextAfterErasure() throws {
        var (journey, referral) = try caseWithReferral()
        try journey.run(.erasePersonalData(legalBasis: "GDPR Art. 17(1)(a)", reference: "DPA 1/26"), as: n.center, role: .admin)
        let erasedOn = journey.now
        expectRefusal(
            journey,
            .declineReferral(referral, reason: "no capacity"),
            as: n.socialWork,
            .textAfterErasure(field: "the reason for declining", erasedOn: erasedOn)
        )
        expectRefusal(
            journey,
            .acceptReferral(referral, note: "we take it"),
            as: n.socialWork,
            .textAfterErasure(field: "the note", erasedOn: erasedOn)
        )
        try journey.run(.declineReferral(referral, reason: ""), as: n.socialWork)
        try journey.run(.close(reason: "  "), as: n.center)
        guard case .caseClosed(let closed)? = journey.history.last?.event else {
            Issue.record("not closed")
            return
        }
        #expect(closed.reason == nil)
    }

    @Test("the case manager is named by an actor id, never by a sentence")
    func caseManagerIsAnID() throws {
        var journey = Journey(network: n)
        _ = try prokupljeReport(&journey)
        try journey.run(.acknowledge, as: n.center)
        expectRefusal(
            journey,
            .triage(confirmedRisk: .high, caseManager: "Ana, who knows the girl's mother", note: nil),
            as: n.center,
            .badActorID("Ana, who knows the girl's mother")
        )
        expectRefusal(journey, .triage(confirmedRisk: .high, caseManager: "", note: nil), as: n.center, .badActorID(""))
        try journey.run(.triage(confirmedRisk: .high, caseManager: "ana.petrovic@center.rs", note: nil), as: n.center)
    }
}
