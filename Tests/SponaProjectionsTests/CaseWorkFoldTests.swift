import Foundation
import SponaDomain
import SponaProjections
import Testing

/// The Center and three institutions of Prokuplje, and a case advanced through the domain's own
/// decider: the fold is fed exactly the events the application would store.
struct Desk {
    static let prokuplje = MunicipalityCode(rawValue: "prokuplje")
    let center = Institution(id: .center, nameLatin: "Centar", sector: .socialProtection, municipality: nil, isCenter: true)
    let school = Institution(id: InstitutionID(), nameLatin: "OŠ Prokuplje", sector: .education, municipality: prokuplje)
    let socialWork = Institution(id: InstitutionID(), nameLatin: "CSR Prokuplje", sector: .socialProtection, municipality: prokuplje)
    let police = Institution(id: InstitutionID(), nameLatin: "PU Prokuplje", sector: .police, municipality: prokuplje)

    var history: [(event: CaseEvent, at: Date)] = []
    var now = Date(timeIntervalSince1970: 1_743_500_000)
    var fold = CaseWorkProjection.Fold()
    let caseID = CaseID()

    var state: Case? { Case.replay(history) }

    /// The reference data the project ships, read from the package.
    static let geography: Geography = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        func text(_ name: String) -> String { (try? String(contentsOf: root.appendingPathComponent("Reference/\(name)"), encoding: .utf8)) ?? "" }
        return try! Geography(
            districtsCSV: text("districts.csv"),
            municipalitiesCSV: text("municipalities.csv"),
            aliasesCSV: text("place-aliases.csv")
        )
    }()

    /// Decides `command` as `institution` would, and folds what it records.
    mutating func run(_ command: CaseCommand, as institution: Institution) throws {
        now += 3600
        let institutions = Dictionary(uniqueKeysWithValues: [center, school, socialWork, police].map { ($0.id, $0) })
        let context = DecisionContext(
            actor: Actor(
                id: "staff-\(institution.nameLatin.prefix(3))",
                institution: institution.id,
                role: institution.isCenter ? .coordinator : .reporter
            ),
            now: now,
            institutions: institutions,
            geography: Self.geography
        )
        for event in try CaseDecider.decide(command, on: state, context: context) {
            history.append((event, now))
            fold.apply(event, case: caseID.rawValue, at: now)
        }
    }

    /// Files the report: about a girl of 14 to 17, and `others` besides.
    mutating func file(others: [SubjectProfile] = []) throws {
        let report = CaseCommand.FileReport(
            caseID: caseID,
            municipality: Self.prokuplje,
            channel: .app,
            subject: SubjectProfile(ageGroup: .child14to17, gender: .female, citizenship: "RS"),
            otherSubjects: others.map { CaseSubject(profile: $0) },
            locations: [Location(role: .residence, municipality: Self.prokuplje)],
            exploitation: [.labour],
            indicators: [IndicatorID(rawValue: "VR-01")],
            urgency: .urgent,
            reporterTrained: false
        )
        try run(.fileReport(report), as: school)
    }

    var report: CaseWorkProjection.ReportRow? { fold.reports[caseID.rawValue] }
}

@Suite("The staff's views of a case (case_work), folded without a database")
struct CaseWorkFoldTests {
    @Test("a report's status in the view is the case's status after every step, closing and reopening included")
    func statusFollowsTheDomain() throws {
        var desk = Desk()
        try desk.file()
        var seen: [Case.Status] = []
        func check(_ desk: Desk) {
            #expect(desk.report?.status == desk.state?.status)
            if let status = desk.report?.status { seen.append(status) }
        }
        check(desk)
        try desk.run(.acknowledge, as: desk.center)
        check(desk)
        try desk.run(.close(reason: "no further action"), as: desk.center)
        check(desk)
        try desk.run(.reopen(reason: "new information from the school"), as: desk.center)
        check(desk)
        try desk.run(.triage(confirmedRisk: .high, caseManager: "coordinator-7", note: nil), as: desk.center)
        check(desk)
        try desk.run(.close(reason: "no further action"), as: desk.center)
        check(desk)
        try desk.run(.reopen(reason: "the family moved back"), as: desk.center)
        check(desk)
        #expect(seen == [.reported, .acknowledged, .closed, .acknowledged, .triaged, .closed, .triaged])
    }

    @Test("a referral is open work of the institution it went to until it is declined or completed")
    func referralsAreOpenWork() throws {
        var desk = Desk()
        try desk.file()
        try desk.run(.acknowledge, as: desk.center)
        let toSocialWork = CaseCommand.SendReferral(to: desk.socialWork.id, reason: "assessment", urgency: .urgent, due: desk.now + 86_400)
        let toPolice = CaseCommand.SendReferral(to: desk.police.id, reason: "check", urgency: .routine, due: desk.now + 86_400 * 3)
        try desk.run(.sendReferral(toSocialWork), as: desk.center)
        try desk.run(.sendReferral(toPolice), as: desk.center)
        #expect(desk.report?.referralsSent == 2)
        #expect(desk.fold.items[toSocialWork.referral.rawValue]?.institutionID == desk.socialWork.id.rawValue)
        #expect(desk.fold.items[toSocialWork.referral.rawValue]?.status == "requested")

        try desk.run(.receiveReferral(toSocialWork.referral), as: desk.socialWork)
        try desk.run(.acceptReferral(toSocialWork.referral, note: nil), as: desk.socialWork)
        #expect(desk.fold.items[toSocialWork.referral.rawValue]?.status == "accepted")

        try desk.run(.declineReferral(toPolice.referral, reason: "already investigated"), as: desk.police)
        #expect(desk.fold.items[toPolice.referral.rawValue] == nil)
        #expect(desk.fold.deletedItems.contains(toPolice.referral.rawValue))
        // Every referral still open in the case is open work, and nothing else is.
        let open = Set(desk.state?.referrals.filter(\.status.isOpen).map(\.id.rawValue) ?? [])
        #expect(Set(desk.fold.items.values.filter { $0.kind == "referral" }.map(\.itemID)) == open)

        try desk.run(.completeReferral(toSocialWork.referral, outcome: "assessed"), as: desk.socialWork)
        #expect(desk.fold.items.isEmpty)
    }

    @Test("events of a case the fold has no row for change nothing (a batch read the rows it needs)")
    func unknownCaseChangesNothing() throws {
        var desk = Desk()
        try desk.file()
        try desk.run(.acknowledge, as: desk.center)
        try desk.run(.close(reason: "no further action"), as: desk.center)
        var fold = CaseWorkProjection.Fold()
        for (event, at) in desk.history.dropFirst() { fold.apply(event, case: desk.caseID.rawValue, at: at) }
        #expect(fold.reports.isEmpty)
        #expect(fold.touchedReports.isEmpty)
    }
}
