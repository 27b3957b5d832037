import Foundation
import Testing

@testable import SponaDomain

/// A school in Prokuplje reports a girl at risk; the Center takes it from there.
func prokupljeReport(_ journey: inout Journey) throws -> CaseID {
    let report = CaseCommand.FileReport(
        municipality: MunicipalityCode(rawValue: "prokuplje"),
        channel: .app,
        subject: SubjectProfile(ageGroup: .child14to17, gender: .female, citizenship: "RS"),
        locations: [
            Location(role: .residence, municipality: MunicipalityCode(rawValue: "prokuplje")),
            Location(role: .recruitment, municipality: MunicipalityCode(rawValue: "prokuplje")),
            Location(role: .exploitation, country: "DE"),
        ],
        exploitation: [.sexual],
        indicators: ["VR-05", "VR-01", "VR-03", "EX-04", "EX-05"].map(IndicatorID.init(rawValue:)),
        urgency: .urgent,
        reporterTrained: true
    )
    try journey.run(.fileReport(report), as: journey.network.school)
    return report.caseID
}

@Suite("A case's journey through the network")
struct CaseJourneyTests {
    @Test("report, triage, two referrals, a conference, decisions, identification, assistance, close")
    func wholeJourney() throws {
        let n = Network()
        var journey = Journey(network: n)
        let caseID = try prokupljeReport(&journey)
        #expect(journey.state?.status == .reported)
        #expect(journey.state?.report.risk.level == .medium)

        try journey.run(.acknowledge, as: n.center)
        try journey.run(.triage(confirmedRisk: .high, caseManager: "coordinator-7", note: nil), as: n.center)

        let toSocialWork = CaseCommand.SendReferral(
            to: n.socialWork.id,
            reason: "protective assessment of the family",
            requestedServices: [.assessment],
            urgency: .urgent,
            due: journey.now + 86_400 * 3
        )
        let toPolice = CaseCommand.SendReferral(
            to: n.police.id,
            reason: "check the adult who contacts her online",
            urgency: .urgent,
            due: journey.now + 86_400 * 2
        )
        try journey.run(.sendReferral(toSocialWork), as: n.center)
        try journey.run(.sendReferral(toPolice), as: n.center)
        try journey.run(.receiveReferral(toSocialWork.referral), as: n.socialWork)
        try journey.run(.acceptReferral(toSocialWork.referral, note: nil), as: n.socialWork)
        try journey.run(.declineReferral(toPolice.referral, reason: "already investigated under case 12/25"), as: n.police)

        let conference = ConferenceID()
        try journey.run(
            .scheduleConference(conference, at: journey.now + 86_400, invited: [n.school.id, n.socialWork.id, n.police.id, n.health.id]),
            as: n.center
        )
        try journey.run(
            .recordConferenceHeld(conference, attended: [n.center.id, n.school.id, n.socialWork.id, n.police.id, n.health.id]),
            as: n.center
        )
        let shelter = DecisionID()
        let videoLink = DecisionID()
        try journey.run(
            .recordDecision(conference, shelter, type: .shelterPlacement, responsible: n.socialWork.id, due: journey.now + 86_400, note: nil),
            as: n.center
        )
        try journey.run(
            .recordDecision(conference, videoLink, type: .testimonyByVideoLink, responsible: n.police.id, due: nil, note: nil),
            as: n.center
        )
        try journey.run(.markDecisionImplemented(shelter, note: nil), as: n.socialWork)
        try journey.run(.markDecisionImplemented(videoLink, note: nil), as: n.police)

        try journey.run(.concludeIdentification(.identifiedVictim, note: nil), as: n.center)
        try journey.run(.provideAssistance(.shelter, provider: n.socialWork.id, note: nil), as: n.socialWork)
        try journey.run(.completeReferral(toSocialWork.referral, outcome: "placed in the shelter"), as: n.socialWork)
        try journey.run(.close(reason: "assistance plan in place"), as: n.center)

        let state = try #require(journey.state)
        #expect(state.id == caseID)
        #expect(state.status == .closed)
        #expect(state.version == Int64(journey.history.count))
        #expect(state.referrals.map(\.status) == [.completed, .declined])
        #expect(state.referrals[1].note == .written("already investigated under case 12/25"))
        #expect(state.conferences.first?.status == .held)
        #expect(state.decisions.allSatisfy { $0.implementedAt != nil })
        #expect(state.identification == .identifiedVictim)
        #expect(state.assistance.map(\.kind) == [.shelter])
        #expect(state.parties == [n.school.id, n.center.id, n.socialWork.id, n.police.id, n.health.id])

        // The stored form round-trips: texts are stored sealed (here by a stand-in that only
        // encodes them; the application seals with the subject's key), and replaying the
        // decoded events gives the same case.
        let seal: (CaseText) -> CaseText = { .sealed(ciphertext: Data(($0.plain ?? "").utf8).base64EncodedString(), keyID: "subject") }
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        let decoded = try journey.history.map { entry in
            let stored = entry.event.mapTexts(seal)
            return (
                event: try CaseEvent(
                    typeName: stored.typeName,
                    schemaVersion: stored.schemaVersion,
                    payload: stored.encodePayload(with: encoder),
                    decoder: decoder
                ), at: entry.at
            )
        }
        #expect(Case.replay(decoded) == state.mapTexts(seal))
        // A text as written is never stored: encoding it fails.
        let unsealed = try #require(journey.history.first { !$0.event.texts.isEmpty }?.event)
        #expect(throws: EncodingError.self) { try unsealed.encodePayload(with: encoder) }

        try journey.run(.reopen(reason: "new information from the school"), as: n.center)
        #expect(journey.state?.status == .triaged)
    }

    @Test("the report records the catalogue and rule versions it was scored with")
    func reportRecordsScoringVersions() throws {
        var journey = Journey(network: Network())
        _ = try prokupljeReport(&journey)
        guard case .reportFiled(let filed)? = journey.history.first?.event else {
            Issue.record("no report")
            return
        }
        #expect(filed.risk.catalogueVersion == "2025.1")
        #expect(filed.risk.ruleVersion == "2025.1")
        #expect(filed.indicators == filed.indicators.sorted())
    }
}
