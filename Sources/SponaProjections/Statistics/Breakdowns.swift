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
        /// Referrals' steps: each referral counted once per step, in the month it was taken;
        /// a referral entered in error takes all of its steps back.
        case referrals
        /// Case conferences scheduled, held and cancelled.
        case conferences
        /// Decisions of case conferences, by type.
        case decisions
        /// Decisions implemented by their due date, or after it.
        case decisionsImplemented = "decisions_implemented"

        /// Its columns, in order: every value, also those with nothing counted.
        public var values: [String] {
            switch self {
            case .gender, .identifiedByGender, .assistedByGender: Gender.allCases.map(\.rawValue)
            case .ageGroup, .identifiedByAgeGroup, .assistedByAgeGroup: AgeGroup.allCases.map(\.rawValue)
            case .exploitation, .identifiedByExploitation: ExploitationForm.allCases.map(\.rawValue)
            case .outcome: IdentificationOutcome.allCases.map(\.rawValue)
            case .assistance: AssistanceKind.allCases.map(\.rawValue)
            case .reporterSector: Sector.allCases.map(\.rawValue)
            case .referrals: ["received", "accepted", "declined", "completed", "failed", "withdrawn"]
            case .conferences: ["scheduled", "held", "cancelled"]
            case .decisions: DecisionType.allCases.map(\.rawValue)
            case .decisionsImplemented: ["on_time", "late"]
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

    /// What an event adds to a cell: `record` is what is counted (a referral, a conference, a
    /// decision), nil for the case itself; its key goes into the cell key (see ``Disclosure``).
    public struct Delta: Sendable {
        public var key: Key
        public var count: Int
        public var record: UUID?
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
        /// The referral steps counted so far, as "referral|step|month": what a correction takes back.
        public var referralSteps: [String] = []
        /// The decisions not yet implemented, as "decision|due" (seconds since 1970, or empty).
        public var decisionsDue: [String] = []

        public init(
            municipality: MunicipalityCode,
            gender: String,
            ageGroup: String,
            exploitation: [String],
            outcome: String? = nil,
            outcomeMonth: String? = nil,
            assistance: [String] = [],
            referralSteps: [String] = [],
            decisionsDue: [String] = []
        ) {
            self.municipality = municipality
            self.gender = gender
            self.ageGroup = ageGroup
            self.exploitation = exploitation
            self.outcome = outcome
            self.outcomeMonth = outcomeMonth
            self.assistance = assistance
            self.referralSteps = referralSteps
            self.decisionsDue = decisionsDue
        }
    }

    /// What `event` adds to the breakdowns (or takes back), and the case's facts after it;
    /// `sector` is an institution's sector as registered.
    public static func apply(
        _ event: CaseEvent,
        to facts: CaseFacts?,
        at time: Date,
        sector: (InstitutionID) -> Sector? = { _ in nil }
    ) -> (facts: CaseFacts?, deltas: [Delta]) {
        let month = StatisticsRules.month(time)
        func cell(_ facts: CaseFacts, _ dimension: Dimension, _ value: String, _ count: Int = 1, record: UUID? = nil) -> Delta {
            Delta(key: Key(municipality: facts.municipality, month: month, dimension: dimension, value: value), count: count, record: record)
        }
        switch event {
        case .reportFiled(let report):
            let forms = Array(Set(report.exploitation.map(\.rawValue))).sorted()
            let filed = CaseFacts(
                municipality: report.municipality,
                gender: report.subject.gender.rawValue,
                ageGroup: report.subject.ageGroup.rawValue,
                exploitation: forms
            )
            var deltas = [cell(filed, .gender, filed.gender), cell(filed, .ageGroup, filed.ageGroup)] + forms.map { cell(filed, .exploitation, $0) }
            if let reporter = sector(report.reportingInstitution) { deltas.append(cell(filed, .reporterSector, reporter.rawValue)) }
            return (filed, deltas)

        case .identificationConcluded(let concluded):
            guard var facts else { return (nil, []) }
            let outcome = concluded.outcome.rawValue
            guard facts.outcome != outcome else { return (facts, []) }
            var deltas: [Delta] = []
            if let previous = facts.outcome, let previousMonth = facts.outcomeMonth {
                deltas += outcomeCells(of: facts, outcome: previous, month: previousMonth).map { Delta(key: $0, count: -1) }
            }
            facts.outcome = outcome
            facts.outcomeMonth = month
            deltas += outcomeCells(of: facts, outcome: outcome, month: month).map { Delta(key: $0, count: 1) }
            return (facts, deltas)

        case .assistanceProvided(let provided):
            guard var facts else { return (nil, []) }
            let kind = provided.kind.rawValue
            guard !facts.assistance.contains(kind) else { return (facts, []) }
            // A person counts as assisted once, in the month of their first assistance.
            var deltas = [cell(facts, .assistance, kind)]
            if facts.assistance.isEmpty {
                deltas += [cell(facts, .assistedByGender, facts.gender), cell(facts, .assistedByAgeGroup, facts.ageGroup)]
            }
            facts.assistance = (facts.assistance + [kind]).sorted()
            return (facts, deltas)

        case .referralReceived(let step), .referralAccepted(let step), .referralDeclined(let step), .referralCompleted(let step),
            .referralFailed(let step), .referralWithdrawn(let step):
            guard var facts, let value = Self.referralStep(event) else { return (facts, []) }
            let id = step.referral.rawValue.uuidString.lowercased()
            guard !facts.referralSteps.contains(where: { $0.hasPrefix("\(id)|\(value)|") }) else { return (facts, []) }
            facts.referralSteps.append("\(id)|\(value)|\(month)")
            return (facts, [cell(facts, .referrals, value, record: step.referral.rawValue)])

        case .referralEnteredInError(let step):
            // Never sent, in truth: every step it was counted for is taken back where it was counted.
            guard var facts else { return (nil, []) }
            let id = step.referral.rawValue.uuidString.lowercased()
            var deltas: [Delta] = []
            for entry in facts.referralSteps where entry.hasPrefix(id + "|") {
                let parts = entry.split(separator: "|").map(String.init)
                guard parts.count == 3 else { continue }
                let key = Key(municipality: facts.municipality, month: parts[2], dimension: .referrals, value: parts[1])
                deltas.append(Delta(key: key, count: -1, record: step.referral.rawValue))
            }
            facts.referralSteps.removeAll { $0.hasPrefix(id + "|") }
            return (facts, deltas)

        case .conferenceScheduled(let scheduled):
            guard let facts else { return (nil, []) }
            return (facts, [cell(facts, .conferences, "scheduled", record: scheduled.conference.rawValue)])
        case .conferenceHeld(let held):
            guard let facts else { return (nil, []) }
            return (facts, [cell(facts, .conferences, "held", record: held.conference.rawValue)])
        case .conferenceCancelled(let cancelled):
            guard let facts else { return (nil, []) }
            return (facts, [cell(facts, .conferences, "cancelled", record: cancelled.conference.rawValue)])

        case .decisionRecorded(let recorded):
            guard var facts else { return (nil, []) }
            let due = recorded.due.map { String(Int64($0.timeIntervalSince1970.rounded(.down))) } ?? ""
            facts.decisionsDue.append("\(recorded.decision.rawValue.uuidString.lowercased())|\(due)")
            return (facts, [cell(facts, .decisions, recorded.type.rawValue, record: recorded.decision.rawValue)])

        case .decisionImplemented(let implemented):
            guard var facts else { return (nil, []) }
            let id = implemented.decision.rawValue.uuidString.lowercased()
            guard let index = facts.decisionsDue.firstIndex(where: { $0.hasPrefix(id + "|") }) else { return (facts, []) }
            let due = facts.decisionsDue.remove(at: index).split(separator: "|", omittingEmptySubsequences: false).last.flatMap { Int64($0) }
            // A decision without a due date is on time whenever it is implemented.
            let late = due.map { Int64(time.timeIntervalSince1970.rounded(.down)) > $0 } ?? false
            return (facts, [cell(facts, .decisionsImplemented, late ? "late" : "on_time", record: implemented.decision.rawValue)])

        default:
            return (facts, [])
        }
    }

    /// The step a referral event counts as.
    static func referralStep(_ event: CaseEvent) -> String? {
        switch event {
        case .referralReceived: "received"
        case .referralAccepted: "accepted"
        case .referralDeclined: "declined"
        case .referralCompleted: "completed"
        case .referralFailed: "failed"
        case .referralWithdrawn: "withdrawn"
        default: nil
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
