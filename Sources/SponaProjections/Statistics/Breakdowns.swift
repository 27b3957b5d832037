import Foundation
import SponaDomain

/// The figures an annual report is made of, per municipality and month: reports by the
/// subject's gender, age group and form of exploitation; outcomes of identification; persons
/// identified as victims and persons assisted, by gender, age group, form and kind of
/// assistance. Counts of cases (one subject each), never anything about the person.
///
/// A case counts where it was reported, and each figure in the month it became true:
/// an outcome in the month it was concluded (a later, different conclusion moves the case from
/// the old outcome's month to the new one's, so corrections move the counts both ways); a kind
/// of assistance once per case, in the month it was first given.
public enum Breakdown {
    public enum Dimension: String, CaseIterable, Sendable {
        case gender
        case ageGroup = "age_group"
        case exploitation
        case outcome
        case assistance
        case identifiedByGender = "identified_gender"
        case identifiedByAgeGroup = "identified_age_group"
        case identifiedByExploitation = "identified_exploitation"
        case assistedByGender = "assisted_gender"
        case assistedByAgeGroup = "assisted_age_group"
        /// Reports by the sector of the institution that filed them (as registered then).
        case reporterSector = "reporter_sector"

        /// Its columns, in order: every value, also those with nothing counted.
        public var values: [String] {
            switch self {
            case .gender, .identifiedByGender, .assistedByGender: Gender.allCases.map(\.rawValue)
            case .ageGroup, .identifiedByAgeGroup, .assistedByAgeGroup: AgeGroup.allCases.map(\.rawValue)
            case .exploitation, .identifiedByExploitation: ExploitationForm.allCases.map(\.rawValue)
            case .outcome: IdentificationOutcome.allCases.map(\.rawValue)
            case .assistance: AssistanceKind.allCases.map(\.rawValue)
            case .reporterSector: Sector.allCases.map(\.rawValue)
            }
        }
    }

    public struct Key: Hashable, Sendable {
        public var municipality: MunicipalityCode
        public var month: String
        public var dimension: Dimension
        public var value: String

        public init(municipality: MunicipalityCode, month: String, dimension: Dimension, value: String) {
            self.municipality = municipality
            self.month = month
            self.dimension = dimension
            self.value = value
        }
    }

    /// What the fold keeps of a case between its events (the projection's `stat_cases` row).
    public struct CaseFacts: Hashable, Sendable {
        public var municipality: MunicipalityCode
        public var gender: String
        public var ageGroup: String
        public var exploitation: [String]
        /// The outcome it counts under, and the month it was concluded.
        public var outcome: String?
        public var outcomeMonth: String?
        /// The kinds of assistance given so far.
        public var assistance: [String]

        public init(
            municipality: MunicipalityCode,
            gender: String,
            ageGroup: String,
            exploitation: [String],
            outcome: String? = nil,
            outcomeMonth: String? = nil,
            assistance: [String] = []
        ) {
            self.municipality = municipality
            self.gender = gender
            self.ageGroup = ageGroup
            self.exploitation = exploitation
            self.outcome = outcome
            self.outcomeMonth = outcomeMonth
            self.assistance = assistance
        }
    }

    /// What `event` adds to the breakdowns (or takes back), and the case's facts after it;
    /// `sector` is an institution's sector as registered.
    public static func apply(
        _ event: CaseEvent,
        to facts: CaseFacts?,
        at time: Date,
        sector: (InstitutionID) -> Sector? = { _ in nil }
    ) -> (facts: CaseFacts?, deltas: [(Key, Int)]) {
        let month = StatisticsRules.month(time)
        switch event {
        case .reportFiled(let report):
            let forms = Array(Set(report.exploitation.map(\.rawValue))).sorted()
            let filed = CaseFacts(
                municipality: report.municipality,
                gender: report.subject.gender.rawValue,
                ageGroup: report.subject.ageGroup.rawValue,
                exploitation: forms
            )
            func key(_ dimension: Dimension, _ value: String) -> (Key, Int) {
                (Key(municipality: report.municipality, month: month, dimension: dimension, value: value), 1)
            }
            var deltas = [key(.gender, filed.gender), key(.ageGroup, filed.ageGroup)] + forms.map { key(.exploitation, $0) }
            if let reporter = sector(report.reportingInstitution) { deltas.append(key(.reporterSector, reporter.rawValue)) }
            return (filed, deltas)

        case .identificationConcluded(let concluded):
            guard var facts else { return (nil, []) }
            let outcome = concluded.outcome.rawValue
            guard facts.outcome != outcome else { return (facts, []) }
            var deltas: [(Key, Int)] = []
            if let previous = facts.outcome, let previousMonth = facts.outcomeMonth {
                deltas += outcomeCells(of: facts, outcome: previous, month: previousMonth).map { ($0, -1) }
            }
            facts.outcome = outcome
            facts.outcomeMonth = month
            deltas += outcomeCells(of: facts, outcome: outcome, month: month).map { ($0, 1) }
            return (facts, deltas)

        case .assistanceProvided(let provided):
            guard var facts else { return (nil, []) }
            let kind = provided.kind.rawValue
            guard !facts.assistance.contains(kind) else { return (facts, []) }
            func key(_ dimension: Dimension, _ value: String) -> (Key, Int) {
                (Key(municipality: facts.municipality, month: month, dimension: dimension, value: value), 1)
            }
            // A person counts as assisted once, in the month of their first assistance.
            var deltas = [key(.assistance, kind)]
            if facts.assistance.isEmpty { deltas += [key(.assistedByGender, facts.gender), key(.assistedByAgeGroup, facts.ageGroup)] }
            facts.assistance = (facts.assistance + [kind]).sorted()
            return (facts, deltas)

        default:
            return (facts, [])
        }
    }

    /// The cells a case counts in under an outcome.
    private static func outcomeCells(of facts: CaseFacts, outcome: String, month: String) -> [Key] {
        func key(_ dimension: Dimension, _ value: String) -> Key {
            Key(municipality: facts.municipality, month: month, dimension: dimension, value: value)
        }
        var keys = [key(.outcome, outcome)]
        if outcome == IdentificationOutcome.identifiedVictim.rawValue {
            keys += [key(.identifiedByGender, facts.gender), key(.identifiedByAgeGroup, facts.ageGroup)]
            keys += facts.exploitation.map { key(.identifiedByExploitation, $0) }
        }
        return keys
    }
}
