import Foundation
import SponaDomain
import SponaRecords

/// A believable history of cases for dashboards, demos and benchmarks: what the network's
/// professionals would have done, as commands with the moment each was given. The commands
/// go through ``CaseService`` like any other, so the domain decides every event; nothing is
/// written behind its back.
///
/// The proportions follow the Center's 2025 training report (`summary-2025.md`) where it gives
/// them, and are assumptions where it does not:
/// - reporters' sectors as the trainings' participants: social protection 40%, education 18%,
///   health 8%, police, NGOs, local government, the Red Cross and the rest;
/// - places weighted by the trainings' participants per district, every district some;
///   reports half as frequent in a district before its first training as after it (the
///   report's "record number of reports"), and after it most reporters trained;
/// - subjects 45% children, 74% female (57 assisted: 25 minors, 42 women); about one report
///   in fourteen also about one or two siblings (an assumption: the report counts persons);
/// - outcomes: a fifth identified as victims (11 of 54 reports), 6% at risk with prevention,
///   about half not a victim, the rest still open; assistance in 60% of cases;
/// - forms of exploitation (sexual 40%, labour 25%, begging 12%, forced marriage 10%,
///   criminality 6%, other 7%) are assumptions: the report gives none.
///
/// Deterministic: the same seed, institutions, trainings and window give the same plans, case
/// by case, whatever order they are carried out in — so a demo cut short and started again
/// with the same seed finishes the same history and writes nothing twice.
public struct DemoHistory: Sendable {
    /// One command, who gives it and when.
    public struct Step: Sendable {
        public var command: CaseCommand
        public var caller: Caller
        public var at: Date
    }

    /// One case's commands, in order; steps that would fall after the window's end are left
    /// out, so recent cases are still in progress.
    public struct Plan: Sendable {
        public var caseID: CaseID
        public var steps: [Step]
    }

    public enum Problem: Error, Hashable, Sendable, CustomStringConvertible {
        case noInstitutions
        case emptyWindow

        public var description: String {
            switch self {
            case .noInstitutions:
                "a demo history needs registered institutions to report and receive referrals; load the reference institutions first"
            case .emptyWindow: "the demo's period is empty: --from must be before --until"
            }
        }
    }

    let geography: Geography
    let seed: UInt64
    let from: Date
    let until: Date
    let districts: [(code: DistrictCode, weight: Double)]
    let municipalitiesByDistrict: [DistrictCode: [MunicipalityCode]]
    let institutionsByMunicipality: [MunicipalityCode: [Institution]]
    let institutionsByDistrict: [DistrictCode: [Institution]]
    let institutionsBySector: [Sector: [Institution]]
    let allInstitutions: [Institution]
    /// Every institution a plan can name, the Center among them: what the domain is told.
    let directory: [InstitutionID: Institution]
    /// The first training held in each district.
    let firstTraining: [DistrictCode: Date]

    public init(geography: Geography, institutions: [Institution], trainings: [TrainingHeld], from: Date, until: Date, seed: UInt64) throws(Problem) {
        let usable = institutions.filter { $0.isActive && !$0.isCenter }.sorted { $0.id < $1.id }
        guard !usable.isEmpty else { throw .noInstitutions }
        guard from < until else { throw .emptyWindow }
        self.geography = geography
        self.seed = seed
        self.from = from
        self.until = until
        self.allInstitutions = usable
        var directory = Dictionary(uniqueKeysWithValues: usable.map { ($0.id, $0) })
        directory[.center] = Institution(registered: RegistryService.center)
        self.directory = directory

        var participants: [DistrictCode: Int] = [:]
        var first: [DistrictCode: Date] = [:]
        for training in trainings {
            guard let district = geography.municipality(training.host)?.district else { continue }
            participants[district, default: 0] += training.participants
            if let date = Self.day(training.date), first[district].map({ date < $0 }) ?? true { first[district] = date }
        }
        firstTraining = first
        // Every district reports something; where many were trained, more.
        districts = geography.districts.map { ($0.code, 20 + Double(participants[$0.code] ?? 0)) }

        var byDistrict: [DistrictCode: [MunicipalityCode]] = [:]
        for municipality in geography.municipalities {
            byDistrict[municipality.district, default: []].append(municipality.code)
        }
        municipalitiesByDistrict = byDistrict.mapValues { $0.sorted() }

        var byMunicipality: [MunicipalityCode: [Institution]] = [:]
        var institutionsInDistrict: [DistrictCode: [Institution]] = [:]
        var bySector: [Sector: [Institution]] = [:]
        for institution in usable {
            bySector[institution.sector, default: []].append(institution)
            guard let code = institution.municipality, let municipality = geography.municipality(code) else { continue }
            byMunicipality[code, default: []].append(institution)
            institutionsInDistrict[municipality.district, default: []].append(institution)
        }
        institutionsByMunicipality = byMunicipality
        institutionsByDistrict = institutionsInDistrict
        institutionsBySector = bySector
    }

    static let reporterSectors: [(Sector, Double)] = [
        (.socialProtection, 40), (.education, 18), (.health, 8), (.police, 8), (.localGovernment, 7), (.ngo, 6),
        (.redCross, 3), (.judiciary, 3), (.prosecution, 2), (.migration, 2), (.other, 3),
    ]
    static let exploitation: [(ExploitationForm, Double)] = [
        (.sexual, 40), (.labour, 25), (.begging, 12), (.forcedMarriage, 10), (.criminality, 6), (.other, 7),
    ]
    static let ageGroups: [(AgeGroup, Double)] = [
        (.child0to13, 15), (.child14to17, 30), (.adult18to25, 25), (.adult26plus, 25), (.unknown, 5),
    ]
    static let genders: [(Gender, Double)] = [(.female, 74), (.male, 24), (.unknown, 2)]
    static let channels: [(ReportChannel, Double)] = [(.app, 40), (.phone, 25), (.email, 15), (.hotline, 10), (.letter, 5), (.inPerson, 5)]
    static let urgencies: [(Urgency, Double)] = [(.routine, 60), (.urgent, 30), (.immediate, 10)]
    static let abroad = ["DE", "AT", "HR", "ME", "BA", "TR", "IT", "AE"]
    static let migrantOrigins = ["AF", "SY", "PK", "IQ", "MA", "BD"]
    static let coordinators = (1...3).map {
        Caller(actor: Actor(id: "demo-coordinator-\($0)", institution: .center, role: .coordinator), isCenter: true)
    }

    /// The commands of case number `index` (0, 1, 2, …).
    public func plan(case index: Int) -> Plan {
        var random = SplitMix64(seed: seed, stream: UInt64(index))
        let caseID = CaseID(rawValue: random.uuid())

        // Where and when.
        let district = Self.pick(districts.map { ($0.code, $0.weight) }, &random)
        var time: Date
        repeat {
            time = from + random.unit() * until.timeIntervalSince(from)
            // Before a district's first training, half the reports are never made.
        } while firstTraining[district].map({ time < $0 }) == true && random.unit() < 0.5
        let municipality =
            municipalitiesByDistrict[district]?.randomElement(using: &random)
            ?? geography.municipalities[0].code
        let trainedYet = firstTraining[district].map { time >= $0 } ?? false

        // Who reports.
        let sector = Self.pick(Self.reporterSectors, &random)
        let nearby = institutionsByMunicipality[municipality] ?? institutionsByDistrict[district] ?? []
        let reporter =
            nearby.filter { $0.sector == sector }.randomElement(using: &random)
            ?? nearby.randomElement(using: &random)
            ?? institutionsBySector[sector]?.randomElement(using: &random)
            ?? allInstitutions.randomElement(using: &random)!
        let staff = Caller(actor: Actor(id: "demo-staff-\(Self.short(reporter.id))", institution: reporter.id, role: .reporter), isCenter: false)
        let coordinator = Self.coordinators.randomElement(using: &random)!

        // What is reported.
        let ageGroup = Self.pick(Self.ageGroups, &random)
        let isMigrant = random.unit() < 0.1
        let subject = SubjectProfile(
            id: SubjectID(rawValue: random.uuid()),
            ageGroup: ageGroup,
            gender: Self.pick(Self.genders, &random),
            citizenship: isMigrant ? Self.migrantOrigins.randomElement(using: &random) : "RS",
            isMigrant: isMigrant,
            vulnerableGroups: random.unit() < 0.2 ? ["roma"] : []
        )
        var forms: Set<ExploitationForm> = [Self.pick(Self.exploitation, &random)]
        if random.unit() < 0.2 { forms.insert(Self.pick(Self.exploitation, &random)) }
        var locations = [Location(role: .residence, municipality: municipality)]
        let roll = random.unit()
        locations.append(
            Location(role: .recruitment, municipality: roll < 0.7 ? municipality : geography.municipalities.randomElement(using: &random)!.code)
        )
        let exploitationPlace = random.unit()
        if exploitationPlace < 0.25 {
            locations.append(Location(role: .exploitation, country: Self.abroad.randomElement(using: &random)!))
        } else if exploitationPlace < 0.75 {
            locations.append(Location(role: .exploitation, municipality: geography.municipalities.randomElement(using: &random)!.code))
        } else {
            locations.append(Location(role: .exploitation, municipality: municipality))
        }
        let catalogue = IndicatorCatalogue.current.indicators.keys.sorted()
        let indicators = (0..<(2 + Int(random.unit() * 5))).map { _ in catalogue.randomElement(using: &random)! }
        // About one report in fourteen concerns siblings as well (drawn from a stream of its
        // own, so that every other draw of the case stays what it was).
        var family = SplitMix64(seed: seed, stream: UInt64(index) | 1 << 40)
        let siblings: [CaseSubject] =
            family.unit() < 0.07
            ? (0..<(1 + Int(family.unit() * 2))).map { _ in
                CaseSubject(
                    profile: SubjectProfile(
                        id: SubjectID(rawValue: family.uuid()),
                        ageGroup: ageGroup.isChild ? Self.pick(Self.ageGroups.filter { $0.0.isChild }, &family) : ageGroup,
                        gender: Self.pick(Self.genders, &family),
                        citizenship: subject.citizenship,
                        isMigrant: isMigrant,
                        vulnerableGroups: subject.vulnerableGroups
                    )
                )
            } : []
        let report = CaseCommand.FileReport(
            caseID: caseID,
            municipality: municipality,
            channel: Self.pick(Self.channels, &random),
            subject: subject,
            otherSubjects: siblings,
            locations: locations,
            exploitation: forms.sorted { $0.rawValue < $1.rawValue },
            indicators: indicators,
            urgency: Self.pick(Self.urgencies, &random),
            reporterTrained: trainedYet ? random.unit() < 0.6 : random.unit() < 0.05
        )

        var steps: [Step] = []
        var open: [ReferralID: Caller] = [:]
        var waiting = 0
        func add(_ command: CaseCommand, _ caller: Caller, after hours: ClosedRange<Double>) {
            time += (hours.lowerBound + random.unit() * (hours.upperBound - hours.lowerBound)) * 3600
            steps.append(Step(command: command, caller: caller, at: time))
        }
        steps.append(Step(command: .fileReport(report), caller: staff, at: time))
        add(.acknowledge, coordinator, after: 1...48)
        let risk = IndicatorCatalogue.current.assess(Set(indicators), ageGroup: ageGroup).level
        add(.triage(confirmedRisk: risk, caseManager: coordinator.actor.id, note: nil), coordinator, after: 4...120)

        // Referrals: a social work centre near the subject first.
        var parties: [Caller] = [staff]
        func referral(to sector: Sector, accept: Double, decline: Double) {
            let candidates = (institutionsByMunicipality[municipality] ?? []) + (institutionsByDistrict[district] ?? [])
            guard
                let receiver = candidates.first(where: { $0.sector == sector && $0.id != reporter.id })
                    ?? institutionsBySector[sector]?.first(where: { $0.id != reporter.id })
            else { return }
            let id = ReferralID(rawValue: random.uuid())
            let clerk = Caller(actor: Actor(id: "demo-staff-\(Self.short(receiver.id))", institution: receiver.id, role: .reporter), isCenter: false)
            add(
                .sendReferral(
                    .init(
                        referral: id,
                        to: receiver.id,
                        reason: "assessment and protection",
                        requestedServices: [.assessment],
                        urgency: report.urgency,
                        due: time + 14 * 86_400
                    )
                ),
                coordinator,
                after: 1...24
            )
            let outcome = random.unit()
            if outcome < accept {
                add(.receiveReferral(id), clerk, after: 2...48)
                add(.acceptReferral(id, note: nil), clerk, after: 1...72)
                open[id] = clerk
                parties.append(clerk)
            } else if outcome < accept + decline {
                add(.declineReferral(id, reason: "outside our competence"), clerk, after: 2...96)
            } else {
                waiting += 1  // never received: stays in the receiver's inbox
            }
        }
        referral(to: .socialProtection, accept: 0.85, decline: 0.12)
        // Often a second one: the police where they are registered, else health or an NGO.
        if random.unit() < 0.4, let second = [Sector.police, .health, .ngo].first(where: { institutionsBySector[$0] != nil }) {
            referral(to: second, accept: 0.7, decline: 0.2)
        }

        // A case conference for the harder cases.
        if random.unit() < 0.3, parties.count > 1 {
            let conference = ConferenceID(rawValue: random.uuid())
            let invited = parties.map(\.actor.institution)
            add(.scheduleConference(conference, at: time + 5 * 86_400, invited: invited), coordinator, after: 24...96)
            add(.recordConferenceHeld(conference, attended: invited), coordinator, after: 120...168)
            let decision = DecisionID(rawValue: random.uuid())
            let responsible = parties[1]
            let type: DecisionType = [.shelterPlacement, .preventionProgramme, .healthCare, .legalAid, .schooling, .testimonyByVideoLink]
                .randomElement(using: &random)!
            add(
                .recordDecision(conference, decision, type: type, responsible: responsible.actor.institution, due: time + 30 * 86_400, note: nil),
                coordinator,
                after: 1...3
            )
            if random.unit() < 0.8 { add(.markDecisionImplemented(decision, note: nil), responsible, after: 48...600) }
        }

        // Identification, assistance, and the end of the referrals and of the case.
        let outcome = random.unit()
        let identification: IdentificationOutcome? =
            outcome < 0.2
            ? .identifiedVictim
            : outcome < 0.26
                ? .atRiskPrevention
                : outcome < 0.8 ? .notAVictim : nil
        if let identification { add(.concludeIdentification(identification, note: nil), coordinator, after: 72...1000) }
        if random.unit() < 0.6 {
            let provider = parties.count > 1 && random.unit() < 0.7 ? parties[1] : coordinator
            let kind: AssistanceKind = [.information, .counselling, .shelter, .health, .legal, .reintegration, .education].randomElement(
                using: &random
            )!
            add(.provideAssistance(kind, provider: provider.actor.institution, note: nil), provider, after: 24...480)
        }
        if identification != nil, random.unit() < 0.7 {
            for (id, clerk) in open.sorted(by: { $0.key < $1.key }) {
                if random.unit() < 0.9 {
                    add(.completeReferral(id, outcome: "services provided"), clerk, after: 24...720)
                } else {
                    add(.failReferral(id, reason: "the person could not be reached"), clerk, after: 24...720)
                }
            }
            if waiting == 0 {
                add(.close(reason: "work concluded"), coordinator, after: 72...1400)
            }
        }
        return Plan(caseID: caseID, steps: steps.filter { $0.at <= until })
    }

    /// The events `plan` gives, decided by the domain in memory (no store), each with the
    /// moment of its command: for filling a database with a large history quickly.
    public func decide(_ plan: Plan) throws -> [(event: CaseEvent, at: Date)] {
        var state: Case?
        var events: [(event: CaseEvent, at: Date)] = []
        for step in plan.steps {
            let context = DecisionContext(actor: step.caller.actor, now: step.at, institutions: directory, geography: geography)
            for event in try CaseDecider.decide(step.command, on: state, context: context) {
                events.append((event, step.at))
                state = Case.evolve(state, event, at: step.at)
            }
        }
        return events
    }

    static func pick<Value>(_ weighted: [(Value, Double)], _ random: inout SplitMix64) -> Value {
        let total = weighted.reduce(0) { $0 + $1.1 }
        var roll = random.unit() * total
        for (value, weight) in weighted {
            roll -= weight
            if roll < 0 { return value }
        }
        return weighted[weighted.count - 1].0
    }

    static func short(_ id: InstitutionID) -> String { String(id.description.prefix(8)) }

    static func day(_ text: String) -> Date? {
        ISO8601.date(from: text + "T00:00:00Z")
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same numbers on
/// every platform, which the system generator does not promise.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Numbered streams of one seed (a case each), each from a mixed seed of its own. Seeds
    /// that differ by a multiple of the generator's step give one stream shifted — seeding
    /// stream `n` with `seed + step × n` made consecutive cases draw the same numbers one call
    /// apart, and share referral ids.
    public init(seed: UInt64, stream: UInt64) {
        var seeder = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        state = seeder.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A version-4 UUID from the generator's numbers.
    mutating func uuid() -> UUID {
        var bytes = withUnsafeBytes(of: next()) { Array($0) } + withUnsafeBytes(of: next()) { Array($0) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }
}
