import Foundation
import SponaDomain
import SponaProjections
import Testing

/// The breakdowns' rules, folded from the events the domain decides, without a database.
@Suite("Breakdowns folded from a case's events")
struct BreakdownFoldTests {
    /// The statistics folded from the desk's history.
    static func fold(_ desk: Desk, trainings: [TrainingHeld] = []) -> StatisticsFold {
        var fold = StatisticsFold()
        for training in trainings { fold.apply(training: training) }
        for institution in [desk.center, desk.school, desk.socialWork, desk.police] {
            fold.apply(
                institution: institution.id,
                .registered(
                    .init(id: institution.id, nameLatin: institution.nameLatin, sector: institution.sector, municipality: institution.municipality)
                )
            )
        }
        for (event, at) in desk.history { fold.apply(case: desk.caseID, event, at: at) }
        return fold
    }

    /// The counts of one dimension, by value, over every month.
    static func counts(_ fold: StatisticsFold, _ dimension: Breakdown.Dimension) -> [String: Int] {
        var counts: [String: Int] = [:]
        for (key, count) in fold.breakdowns where key.dimension == dimension { counts[key.value, default: 0] += count }
        return counts.filter { $0.value != 0 }
    }

    @Test("a report counts once by gender, age group, each form named and the reporter's sector")
    func reportCounts() throws {
        var desk = Desk()
        try desk.file()
        let fold = Self.fold(desk)
        #expect(Self.counts(fold, .gender) == ["female": 1])
        #expect(Self.counts(fold, .ageGroup) == ["child_14_17": 1])
        #expect(Self.counts(fold, .exploitation) == ["labour": 1])
        #expect(Self.counts(fold, .reporterSector) == ["education": 1])
    }

    @Test("each step of a referral counts once, and a referral entered in error takes every step back")
    func referralSteps() throws {
        var desk = Desk()
        try desk.file()
        try desk.run(.acknowledge, as: desk.center)
        let kept = CaseCommand.SendReferral(to: desk.socialWork.id, reason: "assessment", due: desk.now + 86_400)
        let wrong = CaseCommand.SendReferral(to: desk.police.id, reason: "check", due: desk.now + 86_400)
        try desk.run(.sendReferral(kept), as: desk.center)
        try desk.run(.sendReferral(wrong), as: desk.center)
        try desk.run(.receiveReferral(kept.referral), as: desk.socialWork)
        try desk.run(.acceptReferral(kept.referral, note: nil), as: desk.socialWork)
        try desk.run(.receiveReferral(wrong.referral), as: desk.police)
        try desk.run(.declineReferral(wrong.referral, reason: "not ours"), as: desk.police)
        #expect(Self.counts(Self.fold(desk), .referrals) == ["received": 2, "accepted": 1, "declined": 1])

        try desk.run(.markReferralEnteredInError(wrong.referral, reason: "sent for another child"), as: desk.center)
        #expect(Self.counts(Self.fold(desk), .referrals) == ["received": 1, "accepted": 1])
    }

    @Test("conferences and decisions count by type, and a decision is late when implemented after its due date")
    func conferencesAndDecisions() throws {
        var desk = Desk()
        try desk.file()
        try desk.run(.acknowledge, as: desk.center)
        let conference = ConferenceID()
        try desk.run(.scheduleConference(conference, at: desk.now + 86_400, invited: [desk.socialWork.id, desk.police.id]), as: desk.center)
        try desk.run(.recordConferenceHeld(conference, attended: [desk.socialWork.id, desk.police.id]), as: desk.center)
        let onTime = DecisionID()
        let late = DecisionID()
        let undated = DecisionID()
        try desk.run(
            .recordDecision(conference, onTime, type: .shelterPlacement, responsible: desk.socialWork.id, due: desk.now + 86_400, note: nil),
            as: desk.center
        )
        try desk.run(
            .recordDecision(conference, late, type: .legalAid, responsible: desk.police.id, due: desk.now + 3_601, note: nil),
            as: desk.center
        )
        try desk.run(.recordDecision(conference, undated, type: .legalAid, responsible: desk.police.id, due: nil, note: nil), as: desk.center)
        try desk.run(.markDecisionImplemented(onTime, note: nil), as: desk.socialWork)
        // Each step of the desk is an hour later: past the second decision's due time.
        try desk.run(.markDecisionImplemented(late, note: nil), as: desk.police)
        try desk.run(.markDecisionImplemented(undated, note: nil), as: desk.police)

        let fold = Self.fold(desk)
        #expect(Self.counts(fold, .conferences) == ["scheduled": 1, "held": 1])
        #expect(Self.counts(fold, .decisions) == ["shelter_placement": 1, "legal_aid": 2])
        #expect(Self.counts(fold, .decisionsImplemented) == ["on_time": 2, "late": 1])
    }

    @Test("an outcome counts once, in its month; a different conclusion moves the case, the same one changes nothing")
    func outcomesMove() throws {
        var desk = Desk()
        try desk.file()
        try desk.run(.concludeIdentification(.identifiedVictim, note: nil), as: desk.center)
        try desk.run(.concludeIdentification(.identifiedVictim, note: nil), as: desk.center)
        var fold = Self.fold(desk)
        #expect(Self.counts(fold, .outcome) == ["identified_victim": 1])
        #expect(Self.counts(fold, .identifiedByExploitation) == ["labour": 1])
        try desk.run(.concludeIdentification(.atRiskPrevention, note: nil), as: desk.center)
        fold = Self.fold(desk)
        #expect(Self.counts(fold, .outcome) == ["at_risk_prevention": 1])
        #expect(Self.counts(fold, .identifiedByGender).isEmpty)
    }

    @Test(
        "a report about three people counts three persons and one report; an outcome or assistance for one person moves only theirs, for nobody named everyone's"
    )
    func severalPeople() throws {
        var desk = Desk()
        let brother = SubjectProfile(ageGroup: .child0to13, gender: .male)
        let mother = SubjectProfile(ageGroup: .adult26plus, gender: .female)
        try desk.file(others: [brother, mother])
        var fold = Self.fold(desk)
        #expect(Self.counts(fold, .gender) == ["female": 2, "male": 1])
        #expect(Self.counts(fold, .ageGroup) == ["child_14_17": 1, "child_0_13": 1, "adult_26_plus": 1])
        #expect(Self.counts(fold, .exploitation) == ["labour": 1])
        #expect(fold.municipalities.values.compactMap { $0[.reports] }.reduce(0, +) == 1)
        #expect(fold.municipalities.values.compactMap { $0[.children] }.reduce(0, +) == 2)

        // Everyone identified, then the mother found not to be a victim: two persons remain.
        try desk.run(.concludeIdentification(.identifiedVictim, note: nil), as: desk.center)
        #expect(Self.counts(Self.fold(desk), .outcome) == ["identified_victim": 3])
        try desk.run(.concludeIdentification(.notAVictim, note: nil, subject: mother.id), as: desk.center)
        fold = Self.fold(desk)
        #expect(Self.counts(fold, .outcome) == ["identified_victim": 2, "not_a_victim": 1])
        #expect(Self.counts(fold, .identifiedByAgeGroup) == ["child_14_17": 1, "child_0_13": 1])
        #expect(Self.counts(fold, .identifiedByExploitation) == ["labour": 2])
        #expect(fold.municipalities.values.compactMap { $0[.identifiedVictims] }.reduce(0, +) == 2)

        // Schooling for the boy alone; shelter for all three.
        try desk.run(.provideAssistance(.education, provider: desk.socialWork.id, note: nil, subject: brother.id), as: desk.center)
        try desk.run(.provideAssistance(.shelter, provider: desk.socialWork.id, note: nil), as: desk.center)
        fold = Self.fold(desk)
        #expect(Self.counts(fold, .assistance) == ["education": 1, "shelter": 3])
        #expect(Self.counts(fold, .assistedByGender) == ["female": 2, "male": 1])

        // The staff's view counts the same people.
        #expect(desk.report?.persons.count == 3)
        #expect(desk.report?.persons.filter { $0.identification == "identified_victim" }.count == 2)
        #expect(desk.report?.persons.allSatisfy(\.assisted) == true)
    }

    @Test("a person who is not one of the case's, or one named twice, is refused; an erasure of one person leaves the others' data")
    func severalPeopleRefusals() throws {
        var desk = Desk()
        let brother = SubjectProfile(ageGroup: .child0to13, gender: .male)
        #expect(throws: CaseError.subjectNamedTwice(brother.id)) { try desk.file(others: [brother, brother]) }
        try desk.file(others: [brother])
        let stranger = SubjectID()
        #expect(throws: CaseError.subjectNotFound(stranger)) {
            try desk.run(.concludeIdentification(.identifiedVictim, note: nil, subject: stranger), as: desk.center)
        }
        let admin = Institution(id: .center, nameLatin: "Centar", sector: .socialProtection, municipality: nil, isCenter: true)
        let erase = CaseCommand.erasePersonalData(legalBasis: "GDPR Art. 17", reference: "R-1", subject: brother.id)
        let context = DecisionContext(
            actor: Actor(id: "admin-1", institution: admin.id, role: .admin),
            now: desk.now,
            institutions: [admin.id: admin],
            geography: Desk.geography
        )
        let erased = try CaseDecider.decide(erase, on: desk.state, context: context)
        #expect(erased.count == 1)
        desk.history += erased.map { ($0, desk.now) }
        #expect(desk.state?.erasures[brother.id] != nil)
        #expect(desk.state?.personalDataErasedAt == nil, "the first-named person's data, and the case's texts, stay")
        #expect(throws: CaseError.self) { try CaseDecider.decide(erase, on: desk.state, context: context) }
        // Everyone's: only the one not erased yet.
        let rest = try CaseDecider.decide(.erasePersonalData(legalBasis: "GDPR Art. 17", reference: "R-2"), on: desk.state, context: context)
        #expect(rest.count == 1)
    }

    @Test("a record's key is fixed by its id's lower-case text (SHA-256, first 32 bits): the same in every release and rebuild")
    func recordKeysAreFixed() throws {
        let pinned: [(String, Int64)] = [
            ("00000000-0000-0000-0000-000000000000", 2_930_006_698), ("8BF09D8B-8F68-546A-BE7F-E20797A1EA2B", 3_942_801_463),
            ("ffffffff-ffff-4fff-bfff-ffffffffffff", 1_188_239_893), ("30250f70-6123-5964-8f15-63571cf195f3", 2_403_448_847),
        ]
        for (text, key) in pinned {
            #expect(StatisticsRules.recordKey(try #require(UUID(uuidString: text))) == key, "\(text)")
        }
    }

    @Test("a declined referral counts for its flow between sectors in the month it was declined, and a correction takes it back")
    func declinedPerFlow() throws {
        var desk = Desk()
        try desk.file()
        try desk.run(.acknowledge, as: desk.center)
        let referral = CaseCommand.SendReferral(to: desk.police.id, reason: "check", due: desk.now + 86_400)
        try desk.run(.sendReferral(referral), as: desk.school)
        try desk.run(.declineReferral(referral.referral, reason: "not ours"), as: desk.police)
        var fold = Self.fold(desk)
        #expect(fold.sectorFlowsDeclined.values.reduce(0, +) == 1)
        #expect(fold.sectorFlowsDeclined.keys.allSatisfy { $0.from == .education && $0.to == .police })
        try desk.run(.markReferralEnteredInError(referral.referral, reason: "wrong child"), as: desk.school)
        fold = Self.fold(desk)
        #expect(fold.sectorFlowsDeclined.values.allSatisfy { $0 == 0 })
        #expect(fold.sectorFlows.values.allSatisfy { $0 == 0 })
    }

    @Test(
        "a report's wait for its first acknowledgement and a referral's wait for acceptance count in their classes, once; a correction takes the referral's back"
    )
    func timings() throws {
        var desk = Desk()
        try desk.file()
        // Each step of the desk is an hour later: acknowledged after an hour, which is "1h_to_4h".
        try desk.run(.acknowledge, as: desk.center)
        try desk.run(.close(reason: "no further action"), as: desk.center)
        try desk.run(.reopen(reason: "new information"), as: desk.center)
        let referral = CaseCommand.SendReferral(to: desk.socialWork.id, reason: "assessment", due: desk.now + 86_400 * 3)
        try desk.run(.sendReferral(referral), as: desk.center)
        try desk.run(.receiveReferral(referral.referral), as: desk.socialWork)
        desk.now += 86_400 * 2
        try desk.run(.acceptReferral(referral.referral, note: nil), as: desk.socialWork)
        var fold = Self.fold(desk)
        #expect(Self.counts(fold, .acknowledgementTime) == ["1h_to_4h": 1])
        #expect(Self.counts(fold, .acceptanceTime) == ["1d_to_3d": 1])

        try desk.run(.markReferralEnteredInError(referral.referral, reason: "sent for another child"), as: desk.center)
        fold = Self.fold(desk)
        #expect(Self.counts(fold, .acceptanceTime).isEmpty)
        #expect(Self.counts(fold, .referrals).isEmpty)
        #expect(Self.counts(fold, .acknowledgementTime) == ["1h_to_4h": 1])
    }

    @Test("the classes of a wait: each boundary belongs to the longer class")
    func durationClasses() {
        #expect(Breakdown.duration(0) == "under_1h")
        #expect(Breakdown.duration(3_599) == "under_1h")
        #expect(Breakdown.duration(3_600) == "1h_to_4h")
        #expect(Breakdown.duration(86_400) == "1d_to_3d")
        #expect(Breakdown.duration(7 * 86_400) == "over_7d")
        #expect(Breakdown.duration(-5) == "under_1h")
    }

    @Test(
        "a report counts as by trained staff from attendance when its institution took part in a training by the report's day, beside the reporter's statement"
    )
    func trainedByAttendance() throws {
        var desk = Desk()
        try desk.file()  // 2025-04-01, the reporter not stating a training
        func training(on day: String, for institutions: [InstitutionID]) -> TrainingHeld {
            TrainingHeld(date: day, host: Desk.prokuplje, participants: 20, women: 12, men: 8, institutions: institutions)
        }
        #expect(Self.counts(Self.fold(desk), .reporterTraining) == ["neither": 1])
        #expect(
            Self.counts(Self.fold(desk, trainings: [training(on: "2025-03-27", for: [desk.school.id])]), .reporterTraining) == ["attended_only": 1]
        )
        // A training after the report, or of another institution, does not count.
        #expect(Self.counts(Self.fold(desk, trainings: [training(on: "2025-05-02", for: [desk.school.id])]), .reporterTraining) == ["neither": 1])
        #expect(Self.counts(Self.fold(desk, trainings: [training(on: "2025-03-27", for: [desk.police.id])]), .reporterTraining) == ["neither": 1])
    }
}
