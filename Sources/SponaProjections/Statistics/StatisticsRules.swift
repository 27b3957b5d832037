import Crypto
import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords

/// What each event adds to the regional statistics: a pure function shared by the projection
/// (which applies it to tables) and by anyone who needs the same figures from a fold in memory
/// (tests, as-of views). Counts only; nothing about the person.
public enum StatisticsRules {
    /// A figure of a municipality in a month.
    public enum MunicipalityMetric: String, CaseIterable, Sendable {
        case reports
        /// Children the month's reports are about (persons: a report about two siblings counts two).
        case children
        case highRisk = "high_risk"
        case referralsSent = "referrals_sent"
        case identifiedVictims = "identified_victims"
        case reportsByTrained = "reports_by_trained"
    }

    /// A figure of a sector in a month.
    public enum SectorMetric: String, CaseIterable, Sendable {
        case reports
        case referralsSent = "referrals_sent"
        case referralsReceived = "referrals_received"
    }

    public struct MunicipalityKey: Hashable, Sendable {
        public var municipality: MunicipalityCode
        public var month: String
        public init(municipality: MunicipalityCode, month: String) {
            self.municipality = municipality
            self.month = month
        }
    }

    public struct SectorKey: Hashable, Sendable {
        public var sector: Sector
        public var month: String
        public init(sector: Sector, month: String) {
            self.sector = sector
            self.month = month
        }
    }

    /// A referral from one sector to another in a month.
    public struct SectorFlowKey: Hashable, Sendable {
        public var from: Sector
        public var to: Sector
        public var month: String
        public init(from: Sector, to: Sector, month: String) {
            self.from = from
            self.to = to
            self.month = month
        }
    }

    /// A case recruited in one place and exploited in another: municipality codes, or
    /// "country:DE" for a place abroad.
    public struct PlaceFlowKey: Hashable, Sendable {
        public var from: String
        public var to: String
        public var month: String
        public init(from: String, to: String, month: String) {
            self.from = from
            self.to = to
            self.month = month
        }
    }

    /// What an event adds to a count; `record` is the record key of what is counted (a case, a
    /// referral), added to the count's cell key (``Disclosure``).
    public enum Delta: Hashable, Sendable {
        case municipality(MunicipalityKey, MunicipalityMetric, Int, record: Int64)
        case sector(SectorKey, SectorMetric, Int)
        case sectorFlow(SectorFlowKey, Int)
        /// Referrals of a flow declined by the receiver, in the month they were declined.
        case sectorFlowDeclined(SectorFlowKey, Int)
        case placeFlow(PlaceFlowKey, Int, record: Int64)
    }

    /// A record's key for cell-key perturbation: 32 pseudo-random bits fixed by what the record
    /// is (its id) and nothing else, so that a rebuild gives every cell the same key again. Ids
    /// of cases and referrals are never shown to analysts.
    public static func recordKey(_ id: UUID) -> Int64 {
        // The id as lower-case text, written out here: every event of a rebuild asks for one or
        // more, and `uuidString` formats through `printf` and allocates twice.
        var text = recordKeyPrefix
        withUnsafeBytes(of: id.uuid) { bytes in
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
                text.append(hexDigits[Int(byte >> 4)])
                text.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return SHA256.hash(data: text).prefix(4).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    private static let recordKeyPrefix: [UInt8] = {
        var prefix = Array("spona-record-key|".utf8)
        prefix.reserveCapacity(prefix.count + 36)
        return prefix
    }()
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Keys add up modulo 2^32.
    public static let keyModulus: Int64 = 1 << 32

    /// How a location is named in place flows.
    public static func place(_ location: Location) -> String? {
        if let municipality = location.municipality { return municipality.rawValue }
        return location.country.map { "country:\($0)" }
    }

    /// The month an event counts in: its recording time's calendar month in UTC, "2026-11".
    public static func month(_ date: Date) -> String {
        // Arithmetic, not Calendar and String(format:): every event of a rebuild asks it.
        let (year, month) = CivilCalendar.yearMonth(of: date)
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText + (month < 10 ? "-0" : "-") + String(month)
    }

    /// A referral as it was counted when sent: what its correction takes back.
    public struct SentReferral: Hashable, Sendable {
        public var month: String
        public var from: Sector?
        public var to: Sector?
        /// The month it was declined in, once it was.
        public var declinedMonth: String?
        public init(month: String, from: Sector?, to: Sector?, declinedMonth: String? = nil) {
            self.month = month
            self.from = from
            self.to = to
            self.declinedMonth = declinedMonth
        }
    }

    /// What `event` of a case adds (or, for corrections, takes back). `municipality` is the
    /// case's (from its report), `sent` how a referral was counted when sent, `sector` an
    /// institution's sector as registered. (Identified victims are persons: see
    /// ``identified(before:after:)``.)
    public static func deltas(
        _ event: CaseEvent,
        of caseID: CaseID,
        at time: Date,
        municipality: MunicipalityCode?,
        sent: (ReferralID) -> SentReferral? = { _ in nil },
        sector: (InstitutionID) -> Sector?
    ) -> [Delta] {
        let month = month(time)
        let caseKey = recordKey(caseID.rawValue)
        func place(_ metric: MunicipalityMetric, record: Int64) -> Delta? {
            municipality.map { .municipality(MunicipalityKey(municipality: $0, month: month), metric, 1, record: record) }
        }
        func sectorOf(_ institution: InstitutionID, _ metric: SectorMetric) -> Delta? {
            sector(institution).map { .sector(SectorKey(sector: $0, month: month), metric, 1) }
        }
        switch event {
        case .reportFiled(let report):
            let key = MunicipalityKey(municipality: report.municipality, month: month)
            var deltas: [Delta] = [.municipality(key, .reports, 1, record: caseKey)]
            for child in report.subjects where child.profile.ageGroup.isChild {
                deltas.append(.municipality(key, .children, 1, record: recordKey(child.id.rawValue)))
            }
            if report.risk.level == .high { deltas.append(.municipality(key, .highRisk, 1, record: caseKey)) }
            if report.reporterTrained { deltas.append(.municipality(key, .reportsByTrained, 1, record: caseKey)) }
            if let reporter = sectorOf(report.reportingInstitution, .reports) { deltas.append(reporter) }
            let recruited = Set(report.locations.filter { $0.role == .recruitment }.compactMap(StatisticsRules.place))
            let exploited = Set(report.locations.filter { $0.role == .exploitation }.compactMap(StatisticsRules.place))
            for from in recruited.sorted() {
                for to in exploited.sorted() { deltas.append(.placeFlow(PlaceFlowKey(from: from, to: to, month: month), 1, record: caseKey)) }
            }
            return deltas
        case .referralSent(let sent):
            var deltas = [
                place(.referralsSent, record: recordKey(sent.referral.rawValue)), sectorOf(sent.from, .referralsSent),
                sectorOf(sent.to, .referralsReceived),
            ].compactMap { $0 }
            if let from = sector(sent.from), let to = sector(sent.to) {
                deltas.append(.sectorFlow(SectorFlowKey(from: from, to: to, month: month), 1))
            }
            return deltas
        case .referralEnteredInError(let step):
            // Never sent, in truth: everything its sending added is taken back where it was added.
            guard let counted = sent(step.referral) else { return [] }
            let key = recordKey(step.referral.rawValue)
            var deltas: [Delta] =
                municipality.map { [.municipality(MunicipalityKey(municipality: $0, month: counted.month), .referralsSent, -1, record: key)] } ?? []
            if let from = counted.from { deltas.append(.sector(SectorKey(sector: from, month: counted.month), .referralsSent, -1)) }
            if let to = counted.to { deltas.append(.sector(SectorKey(sector: to, month: counted.month), .referralsReceived, -1)) }
            if let from = counted.from, let to = counted.to {
                deltas.append(.sectorFlow(SectorFlowKey(from: from, to: to, month: counted.month), -1))
                if let declined = counted.declinedMonth {
                    deltas.append(.sectorFlowDeclined(SectorFlowKey(from: from, to: to, month: declined), -1))
                }
            }
            return deltas
        case .referralDeclined(let step):
            // Declined once; a referral is declined at most once, but a stored history is not trusted to be.
            guard let counted = sent(step.referral), counted.declinedMonth == nil, let from = counted.from, let to = counted.to else { return [] }
            return [.sectorFlowDeclined(SectorFlowKey(from: from, to: to, month: month), 1)]
        default:
            return []
        }
    }
}

extension StatisticsRules {
    /// Identified victims are persons: each counts once, in the month they were identified; a
    /// later conclusion that they are not a victim takes them out of that month again, and
    /// identifying them again counts them in the new month.
    public static func identified(before: Breakdown.CaseFacts?, after: Breakdown.CaseFacts?) -> [Delta] {
        guard let after else { return [] }
        let earlier = Dictionary((before?.persons ?? []).map { ($0.id, $0.identifiedMonth) }, uniquingKeysWith: { first, _ in first })
        var deltas: [Delta] = []
        for person in after.persons {
            let was = earlier[person.id] ?? nil
            let now = person.identifiedMonth
            guard was != now else { continue }
            let record = recordKey(person.id.rawValue)
            if let was {
                deltas.append(.municipality(MunicipalityKey(municipality: after.municipality, month: was), .identifiedVictims, -1, record: record))
            }
            if let now {
                deltas.append(.municipality(MunicipalityKey(municipality: after.municipality, month: now), .identifiedVictims, 1, record: record))
            }
        }
        return deltas
    }
}

/// The statistics folded in memory from events in the store's order: the reference the
/// projection's tables must equal.
public struct StatisticsFold: Sendable, Equatable {
    public var municipalities: [StatisticsRules.MunicipalityKey: [StatisticsRules.MunicipalityMetric: Int]] = [:]
    public var sectors: [StatisticsRules.SectorKey: [StatisticsRules.SectorMetric: Int]] = [:]
    public var sectorFlows: [StatisticsRules.SectorFlowKey: Int] = [:]
    public var sectorFlowsDeclined: [StatisticsRules.SectorFlowKey: Int] = [:]
    public var placeFlows: [StatisticsRules.PlaceFlowKey: Int] = [:]
    /// The cell keys beside the counts (sums of record keys, modulo 2^32).
    public var municipalityKeys: [StatisticsRules.MunicipalityKey: [StatisticsRules.MunicipalityMetric: Int64]] = [:]
    public var placeFlowKeys: [StatisticsRules.PlaceFlowKey: Int64] = [:]
    var caseMunicipality: [CaseID: MunicipalityCode] = [:]
    var institutionSector: [InstitutionID: Sector] = [:]
    /// How each referral was counted when sent; nil once taken back as entered in error.
    var sentReferrals: [ReferralID: StatisticsRules.SentReferral?] = [:]
    /// The breakdowns' counts and cell keys (``Breakdown``).
    public var breakdowns: [Breakdown.Key: Int] = [:]
    public var breakdownKeys: [Breakdown.Key: Int64] = [:]
    /// What the breakdowns keep of each case, and the cases whose facts this fold changed.
    var caseFacts: [CaseID: Breakdown.CaseFacts] = [:]
    var factsChanged: Set<CaseID> = []
    /// The day ("YYYY-MM-DD") of each institution's first training (attendance recorded with
    /// the training), and the institutions whose day this fold set.
    var firstTraining: [InstitutionID: String] = [:]
    var trainingChanged: Set<InstitutionID> = []
    /// Exact waits for the Center's medians, by what waited (a case for its acknowledgement, a
    /// referral for its acceptance); nil: taken back (a referral entered in error).
    public var waits: [UUID: Wait?] = [:]

    /// How long a report waited for its first acknowledgement, or a referral for its acceptance.
    public struct Wait: Hashable, Sendable {
        public var kind: String
        public var municipality: MunicipalityCode
        public var month: String
        public var seconds: Int64
    }

    public init() {}

    public mutating func apply(case id: CaseID, _ event: CaseEvent, at time: Date) {
        if case .reportFiled(let report) = event { caseMunicipality[id] = report.municipality }
        let sectors = institutionSector
        let modulus = StatisticsRules.keyModulus
        let referrals = sentReferrals
        let eventDeltas = StatisticsRules.deltas(
            event,
            of: id,
            at: time,
            municipality: caseMunicipality[id],
            sent: { referrals[$0] ?? nil },
            sector: { sectors[$0] }
        )
        switch event {
        case .referralSent(let sent):
            sentReferrals[sent.referral] = .some(
                StatisticsRules.SentReferral(month: StatisticsRules.month(time), from: sectors[sent.from], to: sectors[sent.to])
            )
        case .referralDeclined(let step):
            if case .some(.some(var counted)) = sentReferrals[step.referral], counted.declinedMonth == nil {
                counted.declinedMonth = StatisticsRules.month(time)
                sentReferrals[step.referral] = .some(counted)
            }
        case .referralEnteredInError(let step):
            sentReferrals[step.referral] = .some(nil)
        default:
            break
        }
        let before = caseFacts[id]
        let (facts, breakdownDeltas) = Breakdown.apply(
            event,
            to: caseFacts[id],
            at: time,
            sector: { sectors[$0] },
            firstTraining: { [firstTraining] in firstTraining[$0] }
        )
        if facts != caseFacts[id] {
            caseFacts[id] = facts
            factsChanged.insert(id)
        }
        var deltas = eventDeltas
        if case .identificationConcluded = event { deltas += StatisticsRules.identified(before: before, after: facts) }
        let seconds = Int64(time.timeIntervalSince1970.rounded(.down))
        switch event {
        case .reportAcknowledged:
            if let before, !before.acknowledged, let filedAt = before.filedAt {
                waits[id.rawValue] = .some(
                    Wait(kind: "acknowledgement", municipality: before.municipality, month: StatisticsRules.month(time), seconds: seconds - filedAt)
                )
            }
        case .referralAccepted(let step):
            let prefix = step.referral.rawValue.uuidString.lowercased() + "|"
            if let before, let entry = before.referralsSentAt.first(where: { $0.hasPrefix(prefix) }),
                let sentAt = entry.split(separator: "|").last.flatMap({ Int64($0) })
            {
                waits[step.referral.rawValue] = .some(
                    Wait(kind: "acceptance", municipality: before.municipality, month: StatisticsRules.month(time), seconds: seconds - sentAt)
                )
            }
        case .referralEnteredInError(let step):
            waits[step.referral.rawValue] = .some(nil)
        default:
            break
        }
        if !breakdownDeltas.isEmpty {
            let caseKey = StatisticsRules.recordKey(id.rawValue)
            for delta in breakdownDeltas {
                let record = delta.record.map(StatisticsRules.recordKey) ?? caseKey
                breakdowns[delta.key, default: 0] += delta.count
                breakdownKeys[delta.key] = (breakdownKeys[delta.key, default: 0] + Int64(delta.count) * record % modulus + modulus) % modulus
            }
        }
        for delta in deltas {
            switch delta {
            case let .municipality(key, metric, n, record):
                municipalities[key, default: [:]][metric, default: 0] += n
                let sum = municipalityKeys[key, default: [:]][metric, default: 0]
                municipalityKeys[key, default: [:]][metric] = (sum + Int64(n) * record % modulus + modulus) % modulus
            case let .sector(key, metric, n): self.sectors[key, default: [:]][metric, default: 0] += n
            case let .sectorFlow(key, n): sectorFlows[key, default: 0] += n
            case let .sectorFlowDeclined(key, n): sectorFlowsDeclined[key, default: 0] += n
            case let .placeFlow(key, n, record):
                placeFlows[key, default: 0] += n
                placeFlowKeys[key] = (placeFlowKeys[key, default: 0] + Int64(n) * record % modulus + modulus) % modulus
            }
        }
    }

    /// A training: the institutions that took part are trained from its day on.
    public mutating func apply(training: TrainingHeld) {
        for institution in training.institutions where (firstTraining[institution] ?? "9999-99-99") > training.date {
            firstTraining[institution] = training.date
            trainingChanged.insert(institution)
        }
    }

    public mutating func apply(institution id: InstitutionID, _ event: InstitutionEvent) {
        switch event {
        case .registered(let details), .updated(let details): institutionSector[id] = details.sector
        case .deactivated, .reactivated: break
        }
    }
}
