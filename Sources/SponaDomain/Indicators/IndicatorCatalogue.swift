/// The screening checklists professionals tick when they suspect trafficking, and the rule
/// that turns what they ticked into a risk level.
///
/// Modelled on the ILO/European Commission operational indicators of trafficking (2009),
/// written in the project's own words: indicators fall into six elements, each indicator is
/// strong, medium or weak, and an element counts as present when enough of its indicators are.
/// The result is a *screening* level for triage. It is not identification, which only the
/// Center decides (``CaseCommand/concludeIdentification(_:)``).
///
/// Both the catalogue and the rule are versioned, and a report records the versions it was
/// scored with, so replaying history never changes a past score.
public enum IndicatorElement: String, Codable, Sendable, CaseIterable {
    case deceptiveRecruitment = "deceptive_recruitment"
    case coerciveRecruitment = "coercive_recruitment"
    case recruitmentAbusingVulnerability = "recruitment_abusing_vulnerability"
    case exploitativeConditions = "exploitative_conditions"
    case coercionAtDestination = "coercion_at_destination"
    case abuseOfVulnerabilityAtDestination = "abuse_of_vulnerability_at_destination"

    public var isRecruitment: Bool {
        self == .deceptiveRecruitment || self == .coerciveRecruitment || self == .recruitmentAbusingVulnerability
    }
    public var isDestination: Bool {
        self == .coercionAtDestination || self == .abuseOfVulnerabilityAtDestination
    }
}

public enum IndicatorStrength: String, Codable, Sendable, CaseIterable {
    case strong, medium, weak
}

public struct IndicatorID: RawRepresentable, Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

public struct Indicator: Hashable, Codable, Sendable {
    public var id: IndicatorID
    public var element: IndicatorElement
    public var strength: IndicatorStrength
    /// What the professional observes, in plain words.
    public var text: String
    /// The sectors whose checklist shows it.
    public var sectors: Set<Sector>
}

public enum RiskLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case low, medium, high

    private var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

public enum AgeGroup: String, Codable, Sendable, CaseIterable {
    case child0to13 = "child_0_13"
    case child14to17 = "child_14_17"
    case adult18to25 = "adult_18_25"
    case adult26plus = "adult_26_plus"
    case unknown

    public var isChild: Bool { self == .child0to13 || self == .child14to17 }
}

/// The outcome of screening, as recorded in the report event.
public struct RiskAssessment: Hashable, Codable, Sendable {
    public var catalogueVersion: String
    public var ruleVersion: String
    public var level: RiskLevel
    public var elementsPresent: [IndicatorElement]
    /// The indicators taken together meet the definition of a possible victim.
    public var possibleVictim: Bool
}

public struct IndicatorCatalogue: Sendable {
    public let version: String
    public let indicators: [IndicatorID: Indicator]

    public init(version: String, indicators: [Indicator]) {
        self.version = version
        self.indicators = Dictionary(uniqueKeysWithValues: indicators.map { ($0.id, $0) })
    }

    /// The checklist a sector's professionals see, in a stable order.
    public func checklist(for sector: Sector) -> [Indicator] {
        indicators.values.filter { $0.sectors.contains(sector) }.sorted { $0.id < $1.id }
    }

    /// The rule, version `2025.1`:
    /// - an element is present with two strong indicators, or one strong and one medium or
    ///   weak, or three medium, or two medium and one weak;
    /// - an adult is a possible victim when a recruitment element, exploitative conditions and
    ///   a destination element are present; a child when recruitment and exploitative conditions
    ///   are (no means are needed for a child); an unknown age is treated as a child's, the
    ///   safer reading;
    /// - high: a possible victim; medium: any element present or any strong indicator;
    ///   low: otherwise.
    public func assess(_ observed: Set<IndicatorID>, ageGroup: AgeGroup) -> RiskAssessment {
        var counts: [IndicatorElement: [IndicatorStrength: Int]] = [:]
        for id in observed {
            guard let indicator = indicators[id] else { continue }
            counts[indicator.element, default: [:]][indicator.strength, default: 0] += 1
        }
        func present(_ element: IndicatorElement) -> Bool {
            let strong = counts[element]?[.strong] ?? 0
            let medium = counts[element]?[.medium] ?? 0
            let weak = counts[element]?[.weak] ?? 0
            return strong >= 2 || (strong >= 1 && medium + weak >= 1) || medium >= 3 || (medium >= 2 && weak >= 1)
        }
        let elements = IndicatorElement.allCases.filter(present)
        let recruitment = elements.contains { $0.isRecruitment }
        let exploitation = elements.contains(.exploitativeConditions)
        let destination = elements.contains { $0.isDestination }
        let treatAsChild = ageGroup.isChild || ageGroup == .unknown
        let possibleVictim = treatAsChild ? (recruitment && exploitation) : (recruitment && exploitation && destination)
        let anyStrong = observed.contains { indicators[$0]?.strength == .strong }
        let level: RiskLevel = possibleVictim ? .high : (!elements.isEmpty || anyStrong) ? .medium : .low
        return RiskAssessment(
            catalogueVersion: version,
            ruleVersion: Self.ruleVersion,
            level: level,
            elementsPresent: elements,
            possibleVictim: possibleVictim
        )
    }

    public static let ruleVersion = "2025.1"
}
