import Testing

@testable import SponaDomain

@Suite("Screening indicators into a risk level")
struct RiskTests {
    let catalogue = IndicatorCatalogue.current
    func ids(_ raw: String...) -> Set<IndicatorID> { Set(raw.map(IndicatorID.init(rawValue:))) }

    @Test("an element is present with 2 strong, 1 strong + 1 other, 3 medium, or 2 medium + 1 weak")
    func elementPresence() {
        func present(_ observed: Set<IndicatorID>) -> Bool {
            catalogue.assess(observed, ageGroup: .adult26plus).elementsPresent.contains(.coercionAtDestination)
        }
        #expect(present(ids("CD-01", "CD-02")))  // two strong
        #expect(present(ids("CD-01", "CD-05")))  // strong + weak
        #expect(present(ids("CD-01", "CD-03")))  // strong + medium
        #expect(present(ids("CD-03", "CD-04", "CD-05")))  // two medium + weak
        let threeMedium = catalogue.assess(ids("EX-03", "EX-04", "EX-06"), ageGroup: .adult26plus)
        #expect(threeMedium.elementsPresent == [.exploitativeConditions])
        #expect(!present(ids("CD-01")))  // one strong alone
        #expect(!present(ids("CD-03", "CD-04")))  // two medium alone
        #expect(!present(ids("CD-05")))
    }

    @Test("a child needs recruitment and exploitation; an adult also a destination element")
    func childAndAdult() {
        let recruitmentAndExploitation = ids("DR-01", "DR-02", "EX-01", "EX-03")
        #expect(catalogue.assess(recruitmentAndExploitation, ageGroup: .child14to17).level == .high)
        #expect(catalogue.assess(recruitmentAndExploitation, ageGroup: .child14to17).possibleVictim)
        #expect(catalogue.assess(recruitmentAndExploitation, ageGroup: .adult18to25).level == .medium)
        #expect(catalogue.assess(recruitmentAndExploitation.union(ids("CD-01", "CD-02")), ageGroup: .adult18to25).level == .high)
        // Unknown age is read the safer way, as a child's.
        #expect(catalogue.assess(recruitmentAndExploitation, ageGroup: .unknown).level == .high)
    }

    @Test("nothing observed is low; one strong indicator is medium; unknown ids count for nothing")
    func lowAndMedium() {
        #expect(catalogue.assess([], ageGroup: .adult26plus).level == .low)
        #expect(catalogue.assess(ids("VR-03"), ageGroup: .adult26plus).level == .low)
        #expect(catalogue.assess(ids("EX-01"), ageGroup: .adult26plus).level == .medium)
        let assessment = catalogue.assess(ids("nonsense"), ageGroup: .child0to13)
        #expect(assessment.level == .low)
        #expect(assessment.catalogueVersion == "2025.1")
        #expect(assessment.ruleVersion == "2025.1")
    }

    @Test("each of the four main sectors has a checklist covering all six elements")
    func checklists() {
        for sector in [Sector.socialProtection, .health, .education, .police] {
            let elements = Set(catalogue.checklist(for: sector).map(\.element))
            #expect(elements == Set(IndicatorElement.allCases), "\(sector)")
        }
    }
}
