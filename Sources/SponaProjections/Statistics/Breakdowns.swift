import Foundation
import SponaDomain
import SponaEventStore

/// The figures an annual report is made of, per municipality and month: reports by the
/// subject's gender, age group and form of exploitation; outcomes of identification; persons
/// identified as victims and persons assisted, by gender, age group, form and kind of
/// assistance. Persons are counted from the people each report is about (a report about three
/// siblings counts three children), reports from cases; never anything about the person.
///
/// A case counts where it was reported, and each figure in the month it became true:
/// an outcome in the month it was concluded (a later, different conclusion moves the case from
/// the old outcome's month to the new one's, so corrections move the counts both ways); a kind
/// of assistance once per person, in the month it was first given.
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
        /// Reports by the time from filing to the first acknowledgement, in the month acknowledged.
        case acknowledgementTime = "acknowledgement_time"
        /// Referrals by the time from sending to acceptance, in the month accepted.
        case acceptanceTime = "acceptance_time"
        /// Reports by whether the reporting institution had taken part in a training by the day
        /// of the report (attendance recorded with the training), beside the reporter's own
        /// statement that they were trained.
        case reporterTraining = "reporter_training"

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
            case .acknowledgementTime, .acceptanceTime: Breakdown.durations.map(\.name)
            case .reporterTraining: ["attended_and_stated", "attended_only", "stated_only", "neither"]
            }
        }
    }

    /// How long something took, in classes rather than exact times: each class is a count,
    /// perturbed and suppressed like any other, and the classes a median or 90th percentile
    /// falls into can be read off them; an exact median of a few cases would be a person's.
    public static let durations: [(name: String, below: Int64)] = [
        ("under_1h", 3_600), ("1h_to_4h", 4 * 3_600), ("4h_to_24h", 86_400), ("1d_to_3d", 3 * 86_400), ("3d_to_7d", 7 * 86_400),
        ("over_7d", .max),
    ]

    public static func duration(_ seconds: Int64) -> String {
        durations.first { seconds < $0.below }?.name ?? "over_7d"
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

    /// What the fold keeps of each person of a case.
    public struct PersonFacts: Hashable, Sendable {
        public var id: SubjectID
        public var gender: String
        public var ageGroup: String
        /// The outcome they count under, and the month it was concluded.
        public var outcome: String?
        public var outcomeMonth: String?
        /// The kinds of assistance given them so far.
        public var assistance: [String] = []

        public init(id: SubjectID, gender: String, ageGroup: String, outcome: String? = nil, outcomeMonth: String? = nil, assistance: [String] = []) {
            self.id = id
            self.gender = gender
            self.ageGroup = ageGroup
            self.outcome = outcome
            self.outcomeMonth = outcomeMonth
            self.assistance = assistance
        }

        /// The month they were counted as an identified victim in; nil: they are not one.
        public var identifiedMonth: String? { outcome == IdentificationOutcome.identifiedVictim.rawValue ? outcomeMonth : nil }

        /// As stored in `stat_cases.persons`: "id|gender|age group|outcome|month|kind+kind".
        public var stored: String {
            [id.rawValue.uuidString.lowercased(), gender, ageGroup, outcome ?? "", outcomeMonth ?? "", assistance.joined(separator: "+")]
                .joined(separator: "|")
        }

        public init?(stored: String) {
            let parts = stored.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 6, let id = UUID(uuidString: parts[0]) else { return nil }
            self.init(
                id: SubjectID(rawValue: id),
                gender: parts[1],
                ageGroup: parts[2],
                outcome: parts[3].isEmpty ? nil : parts[3],
                outcomeMonth: parts[4].isEmpty ? nil : parts[4],
                assistance: parts[5].split(separator: "+").map(String.init)
            )
        }
    }

    /// What the fold keeps of a case between its events (the projection's `stat_cases` row).
    public struct CaseFacts: Hashable, Sendable {
        public var municipality: MunicipalityCode
        /// The people it is about, the first named first.
        public var persons: [PersonFacts]
        public var exploitation: [String]
        /// The referral cells counted so far, as "referral|dimension|value|month": what a
        /// correction takes back.
        public var referralSteps: [String] = []
        /// When the report was filed (seconds since 1970), and whether it was acknowledged yet.
        public var filedAt: Int64?
        public var acknowledged = false
        /// When each referral not yet accepted was sent, as "referral|seconds".
        public var referralsSentAt: [String] = []
        /// The decisions not yet implemented, as "decision|due" (seconds since 1970, or empty).
        public var decisionsDue: [String] = []

        public init(
            municipality: MunicipalityCode,
            persons: [PersonFacts],
            exploitation: [String],
            referralSteps: [String] = [],
            decisionsDue: [String] = [],
            filedAt: Int64? = nil,
            acknowledged: Bool = false,
            referralsSentAt: [String] = []
        ) {
            self.municipality = municipality
            self.persons = persons
            self.exploitation = exploitation
            self.referralSteps = referralSteps
            self.decisionsDue = decisionsDue
            self.filedAt = filedAt
            self.acknowledged = acknowledged
            self.referralsSentAt = referralsSentAt
        }
    }

    /// What `event` adds to the breakdowns (or takes back), and the case's facts after it;
    /// `sector` is an institution's sector as registered.
    public static func apply(
        _ event: CaseEvent,
        to facts: CaseFacts?,
        at time: Date,
        sector: (InstitutionID) -> Sector? = { _ in nil },
        firstTraining: (InstitutionID) -> String? = { _ in nil }
    ) -> (facts: CaseFacts?, deltas: [Delta]) {
        let month = StatisticsRules.month(time)
        let seconds = Int64(time.timeIntervalSince1970.rounded(.down))
        func cell(_ facts: CaseFacts, _ dimension: Dimension, _ value: String, _ count: Int = 1, record: UUID? = nil) -> Delta {
            Delta(key: Key(municipality: facts.municipality, month: month, dimension: dimension, value: value), count: count, record: record)
        }
        switch event {
        case .reportFiled(let report):
            let forms = Array(Set(report.exploitation.map(\.rawValue))).sorted()
            let filed = CaseFacts(
                municipality: report.municipality,
                persons: report.subjects.map { PersonFacts(id: $0.id, gender: $0.profile.gender.rawValue, ageGroup: $0.profile.ageGroup.rawValue) },
                exploitation: forms,
                filedAt: seconds
            )
            // Persons by gender and age group; reports by form of exploitation.
            var deltas = filed.persons.flatMap { person in
                [
                    cell(filed, .gender, person.gender, record: person.id.rawValue),
                    cell(filed, .ageGroup, person.ageGroup, record: person.id.rawValue),
                ]
            }
            deltas += forms.map { cell(filed, .exploitation, $0) }
            if let reporter = sector(report.reportingInstitution) { deltas.append(cell(filed, .reporterSector, reporter.rawValue)) }
            // Trained "before the report": a training held on or before the report's day (UTC).
            let day = CivilCalendar.timestamp(time).map { String($0.prefix(10)) } ?? ""
            let attended = firstTraining(report.reportingInstitution).map { $0 <= day } ?? false
            let training =
                switch (attended, report.reporterTrained) {
                case (true, true): "attended_and_stated"
                case (true, false): "attended_only"
                case (false, true): "stated_only"
                case (false, false): "neither"
                }
            deltas.append(cell(filed, .reporterTraining, training))
            return (filed, deltas)

        case .identificationConcluded(let concluded):
            guard var facts else { return (nil, []) }
            let outcome = concluded.outcome.rawValue
            var deltas: [Delta] = []
            for index in facts.persons.indices where concluded.subject == nil || concluded.subject == facts.persons[index].id {
                let person = facts.persons[index]
                guard person.outcome != outcome else { continue }
                if let previous = person.outcome, let previousMonth = person.outcomeMonth {
                    deltas += outcomeCells(of: facts, person, outcome: previous, month: previousMonth).map {
                        Delta(key: $0, count: -1, record: person.id.rawValue)
                    }
                }
                facts.persons[index].outcome = outcome
                facts.persons[index].outcomeMonth = month
                deltas += outcomeCells(of: facts, person, outcome: outcome, month: month).map { Delta(key: $0, count: 1, record: person.id.rawValue) }
            }
            return (facts, deltas)

        case .assistanceProvided(let provided):
            guard var facts else { return (nil, []) }
            let kind = provided.kind.rawValue
            var deltas: [Delta] = []
            for index in facts.persons.indices where provided.subject == nil || provided.subject == facts.persons[index].id {
                let person = facts.persons[index]
                guard !person.assistance.contains(kind) else { continue }
                // A person counts as assisted once, in the month of their first assistance.
                deltas.append(cell(facts, .assistance, kind, record: person.id.rawValue))
                if person.assistance.isEmpty {
                    deltas += [
                        cell(facts, .assistedByGender, person.gender, record: person.id.rawValue),
                        cell(facts, .assistedByAgeGroup, person.ageGroup, record: person.id.rawValue),
                    ]
                }
                facts.persons[index].assistance = (person.assistance + [kind]).sorted()
            }
            return (facts, deltas)

        case .reportAcknowledged:
            // The first acknowledgement only: how long the report waited for the Center.
            guard var facts, !facts.acknowledged else { return (facts, []) }
            facts.acknowledged = true
            guard let filedAt = facts.filedAt else { return (facts, []) }
            return (facts, [cell(facts, .acknowledgementTime, Self.duration(seconds - filedAt))])

        case .referralSent(let sent):
            guard var facts else { return (nil, []) }
            facts.referralsSentAt.append("\(sent.referral.rawValue.uuidString.lowercased())|\(seconds)")
            return (facts, [])

        case .referralReceived(let step), .referralAccepted(let step), .referralDeclined(let step), .referralCompleted(let step),
            .referralFailed(let step), .referralWithdrawn(let step):
            guard var facts, let value = Self.referralStep(event) else { return (facts, []) }
            let id = step.referral.rawValue.uuidString.lowercased()
            guard !facts.referralSteps.contains(where: { $0.hasPrefix("\(id)|referrals|\(value)|") }) else { return (facts, []) }
            facts.referralSteps.append("\(id)|referrals|\(value)|\(month)")
            var deltas = [cell(facts, .referrals, value, record: step.referral.rawValue)]
            if case .referralAccepted = event, let index = facts.referralsSentAt.firstIndex(where: { $0.hasPrefix(id + "|") }) {
                // How long it waited for acceptance; once, and taken back with the referral.
                if let sentAt = facts.referralsSentAt.remove(at: index).split(separator: "|").last.flatMap({ Int64($0) }) {
                    let waited = Self.duration(seconds - sentAt)
                    facts.referralSteps.append("\(id)|\(Dimension.acceptanceTime.rawValue)|\(waited)|\(month)")
                    deltas.append(cell(facts, .acceptanceTime, waited, record: step.referral.rawValue))
                }
            }
            return (facts, deltas)

        case .referralEnteredInError(let step):
            // Never sent, in truth: every step it was counted for is taken back where it was counted.
            guard var facts else { return (nil, []) }
            let id = step.referral.rawValue.uuidString.lowercased()
            var deltas: [Delta] = []
            for entry in facts.referralSteps where entry.hasPrefix(id + "|") {
                let parts = entry.split(separator: "|").map(String.init)
                guard parts.count == 4, let dimension = Dimension(rawValue: parts[1]) else { continue }
                let key = Key(municipality: facts.municipality, month: parts[3], dimension: dimension, value: parts[2])
                deltas.append(Delta(key: key, count: -1, record: step.referral.rawValue))
            }
            facts.referralSteps.removeAll { $0.hasPrefix(id + "|") }
            facts.referralsSentAt.removeAll { $0.hasPrefix(id + "|") }
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

    /// The cells a person of a case counts in under an outcome.
    private static func outcomeCells(of facts: CaseFacts, _ person: PersonFacts, outcome: String, month: String) -> [Key] {
        func key(_ dimension: Dimension, _ value: String) -> Key {
            Key(municipality: facts.municipality, month: month, dimension: dimension, value: value)
        }
        var keys = [key(.outcome, outcome)]
        if outcome == IdentificationOutcome.identifiedVictim.rawValue {
            keys += [key(.identifiedByGender, person.gender), key(.identifiedByAgeGroup, person.ageGroup)]
            keys += facts.exploitation.map { key(.identifiedByExploitation, $0) }
        }
        return keys
    }
}
