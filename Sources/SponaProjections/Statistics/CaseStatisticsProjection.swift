import Foundation
import Logging
import PostgresNIO
import SponaDomain
import SponaEventStore
import SponaRecords

/// Municipality × month and sector × month figures for regional teams and the ministry.
/// Each batch's additions are summed in memory first and written as one set-based upsert per
/// table (arrays unnested), so a rebuild over millions of events costs a few statements per
/// batch, not one per event or per row. The lookups it needs (a case's municipality, an institution's sector) are tables of
/// its own, so it never depends on another projection's progress. Every statement that
/// changes a row sets `since_month` to the month being applied (``MonthEnds``).
public struct CaseStatisticsProjection: Projection {
    public static let projectionName = "case_statistics"
    public let name = projectionName
    static let keptTables = [
        "stat_cases", "stat_institutions", "stat_referrals", "view_municipality_month", "view_sector_month", "view_trainings", "view_sector_flows",
        "view_place_flows", "view_breakdown_month", "stat_training_attendance", "stat_waits",
    ]
    public let tables = keptTables + Self.keptMonthEnds.addedTables
    /// Every table as it stood at each month's end (migration 0020): views as of a past moment
    /// without replaying the history.
    public var monthEnds: MonthEnds? { Self.keptMonthEnds }
    static let keptMonthEnds = MonthEnds(
        tables: keptTables,
        boundaries: "stat_month_ends",
        onDemand: [
            // A batch reads the cases it has events of, and the referrals it declines or takes back.
            .init(table: "stat_cases", key: "case_id") { batch in batch.compactMap { Streams.caseID(of: $0.streamID)?.rawValue } },
            .init(table: "stat_referrals", key: "referral_id") { batch in
                batch.compactMap { recorded in
                    switch (try? DecodedCaseEvents.decode(recorded))?.event {
                    case .referralEnteredInError(let step), .referralDeclined(let step): step.referral.rawValue
                    default: nil
                    }
                }
            },
        ]
    )
    public var categories: Set<String>? { [Streams.Category.cases, Streams.Category.trainings, Streams.Category.institutions] }
    /// Raise it with any change to the fold or the tables: servers then rebuild it from the
    /// history on start (see ``Projection/version``).
    /// Version 6: persons counted from the people of each report (`stat_cases.persons`).
    public static let currentVersion = 6
    public var version: Int { Self.currentVersion }

    public init() {}

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        var municipalityOf: [CaseID: MunicipalityCode] = [:]
        var sectorOf: [InstitutionID: Sector] = [:]
        var fold = StatisticsFold()

        // The batch's case events, decoded once.
        var caseEvents: [Int: (id: CaseID, event: CaseEvent, occurredAt: Date)] = [:]
        for (index, recorded) in events.enumerated() {
            caseEvents[index] = try DecodedCaseEvents.decode(recorded)
        }

        // The lookups this batch needs.
        let caseIDs = Set(caseEvents.values.map(\.id))
        if !caseIDs.isEmpty {
            let rows = try await connection.query(
                """
                SELECT case_id, municipality, persons, exploitation, referral_steps, decisions_due, filed_at, acknowledged, referrals_sent_at
                FROM stat_cases WHERE case_id = ANY(\(caseIDs.map(\.rawValue)))
                """,
                logger: logger
            )
            for try await (id, municipality, persons, exploitation, steps, due, filedAt, acknowledged, sentAt)
                in rows.decode((UUID, String, [String], [String], [String], [String], Int64?, Bool, [String]).self)
            {
                let id = CaseID(rawValue: id)
                municipalityOf[id] = MunicipalityCode(rawValue: municipality)
                let people = persons.compactMap(Breakdown.PersonFacts.init(stored:))
                if !people.isEmpty {
                    fold.caseFacts[id] = Breakdown.CaseFacts(
                        municipality: MunicipalityCode(rawValue: municipality),
                        persons: people,
                        exploitation: exploitation,
                        referralSteps: steps,
                        decisionsDue: due,
                        filedAt: filedAt,
                        acknowledged: acknowledged,
                        referralsSentAt: sentAt
                    )
                }
            }
        }
        // How the referrals this batch declines or takes back were counted when sent.
        let corrected = caseEvents.values.compactMap { decoded -> UUID? in
            switch decoded.event {
            case .referralEnteredInError(let step), .referralDeclined(let step): step.referral.rawValue
            default: nil
            }
        }
        if !corrected.isEmpty {
            let rows = try await connection.query(
                "SELECT referral_id, month, from_sector, to_sector, declined_month FROM stat_referrals WHERE referral_id = ANY(\(corrected))",
                logger: logger
            )
            for try await (id, month, from, to, declined) in rows.decode((UUID, String, String?, String?, String?).self) {
                fold.sentReferrals[ReferralID(rawValue: id)] = .some(
                    .init(month: month, from: from.flatMap(Sector.init(rawValue:)), to: to.flatMap(Sector.init(rawValue:)), declinedMonth: declined)
                )
            }
        }
        let attendance = try await connection.query("SELECT institution_id, first_training::text FROM stat_training_attendance", logger: logger)
        for try await (institution, day) in attendance.decode((UUID, String).self) {
            fold.firstTraining[InstitutionID(rawValue: institution)] = day
        }
        let sectorRows = try await connection.query("SELECT id, sector FROM stat_institutions", logger: logger)
        for try await (id, sector) in sectorRows.decode((UUID, String).self) {
            sectorOf[InstitutionID(rawValue: id)] = Sector(rawValue: sector)
        }
        fold.caseMunicipality = municipalityOf
        fold.institutionSector = sectorOf

        var trainings: [TrainingHeld] = []
        var newCases: [(UUID, String)] = []
        var institutionsChanged: [InstitutionID: Sector] = [:]
        for (index, recorded) in events.enumerated() {
            if let (id, event, occurredAt) = caseEvents[index] {
                if case .reportFiled(let report) = event {
                    // A report stored before today's limits could make a million place flows.
                    try CaseLimits.checkStored(report)
                    newCases.append((id.rawValue, report.municipality.rawValue))
                }
                fold.apply(case: id, event, at: occurredAt)
            } else if Streams.trainingID(of: recorded.streamID) != nil, recorded.type == TrainingHeld.typeName {
                let training = try TrainingHeld.decode(schemaVersion: recorded.schemaVersion, payload: recorded.payload, decoder: EventCoding.decoder)
                // Trainings recorded before today's rules may hold figures no view can show.
                try training.validateFigures()
                trainings.append(training)
                fold.apply(training: training)
            } else if let id = Streams.institutionID(of: recorded.streamID) {
                let event = try InstitutionEvent(
                    typeName: recorded.type,
                    schemaVersion: recorded.schemaVersion,
                    payload: recorded.payload,
                    decoder: EventCoding.decoder
                )
                fold.apply(institution: id, event)
                if case .registered(let details) = event { institutionsChanged[id] = details.sector }
                if case .updated(let details) = event { institutionsChanged[id] = details.sector }
            }
        }

        for training in trainings {
            try await connection.query(
                """
                INSERT INTO view_trainings (training_id, held_on, host, participants, municipalities)
                VALUES (\(training.id.rawValue), \(training.date)::date, \(training.host.rawValue), \(Int64(training.participants)),
                        \(training.municipalities.map(\.rawValue)))
                ON CONFLICT (training_id) DO NOTHING
                """,
                logger: logger
            )
        }
        if !newCases.isEmpty {
            // One statement for the whole batch's new cases.
            try await connection.query(
                """
                INSERT INTO stat_cases (case_id, municipality)
                SELECT * FROM unnest(\(newCases.map(\.0))::uuid[], \(newCases.map(\.1))::text[])
                ON CONFLICT (case_id) DO NOTHING
                """,
                logger: logger
            )
        }
        let facts = fold.factsChanged.compactMap { id in fold.caseFacts[id].map { (id.rawValue, $0) } }
        if !facts.isEmpty {
            // Arrays of arrays do not unnest row by row: the lists travel as joined text.
            try await connection.query(
                """
                UPDATE stat_cases AS c SET persons = coalesce(string_to_array(NULLIF(u.persons, ''), ','), '{}'),
                    exploitation = coalesce(string_to_array(NULLIF(u.exploitation, ''), ','), '{}'),
                    referral_steps = coalesce(string_to_array(NULLIF(u.referral_steps, ''), ','), '{}'),
                    decisions_due = coalesce(string_to_array(NULLIF(u.decisions_due, ''), ','), '{}'),
                    filed_at = NULLIF(u.filed_at, -1), acknowledged = u.acknowledged,
                    referrals_sent_at = coalesce(string_to_array(NULLIF(u.referrals_sent_at, ''), ','), '{}'),
                    since_month = DEFAULT
                FROM unnest(\(facts.map(\.0))::uuid[], \(facts.map { $0.1.persons.map(\.stored).joined(separator: ",") })::text[],
                            \(facts.map { $0.1.exploitation.joined(separator: ",") })::text[],
                            \(facts.map { $0.1.referralSteps.joined(separator: ",") })::text[],
                            \(facts.map { $0.1.decisionsDue.joined(separator: ",") })::text[],
                            \(facts.map { $0.1.filedAt ?? -1 })::bigint[], \(facts.map { $0.1.acknowledged })::boolean[],
                            \(facts.map { $0.1.referralsSentAt.joined(separator: ",") })::text[])
                    AS u(case_id, persons, exploitation, referral_steps, decisions_due,
                         filed_at, acknowledged, referrals_sent_at)
                WHERE c.case_id = u.case_id
                """,
                logger: logger
            )
        }
        if !fold.breakdowns.isEmpty {
            let rows = Array(fold.breakdowns)
            try await connection.query(
                """
                INSERT INTO view_breakdown_month AS v (municipality, month, dimension, value, count, count_key)
                SELECT * FROM unnest(\(rows.map(\.key.municipality.rawValue))::text[], \(rows.map(\.key.month))::text[],
                                     \(rows.map(\.key.dimension.rawValue))::text[], \(rows.map(\.key.value))::text[],
                                     \(rows.map { Int64($0.value) })::bigint[], \(rows.map { fold.breakdownKeys[$0.key] ?? 0 })::bigint[])
                ON CONFLICT (municipality, month, dimension, value) DO UPDATE SET
                    count = v.count + EXCLUDED.count, count_key = (v.count_key + EXCLUDED.count_key) % 4294967296,
                    since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
        let trained = fold.trainingChanged.compactMap { id in fold.firstTraining[id].map { (id.rawValue, $0) } }
        if !trained.isEmpty {
            try await connection.query(
                """
                INSERT INTO stat_training_attendance (institution_id, first_training)
                SELECT u.id, u.day::date FROM unnest(\(trained.map(\.0))::uuid[], \(trained.map(\.1))::text[]) AS u(id, day)
                ON CONFLICT (institution_id) DO UPDATE SET first_training = least(stat_training_attendance.first_training, EXCLUDED.first_training),
                    since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
        let waited = fold.waits.compactMap { id, wait in wait.map { (id, $0) } }
        if !waited.isEmpty {
            try await connection.query(
                """
                INSERT INTO stat_waits (record_id, kind, municipality, month, seconds)
                SELECT * FROM unnest(\(waited.map(\.0))::uuid[], \(waited.map(\.1.kind))::text[], \(waited.map(\.1.municipality.rawValue))::text[],
                                     \(waited.map(\.1.month))::text[], \(waited.map(\.1.seconds))::bigint[])
                ON CONFLICT (record_id) DO NOTHING
                """,
                logger: logger
            )
        }
        let unwaited = fold.waits.filter { $0.value == nil }.map(\.key)
        if !unwaited.isEmpty {
            try await connection.query("DELETE FROM stat_waits WHERE record_id = ANY(\(unwaited))", logger: logger)
        }
        for (id, sector) in institutionsChanged {
            try await connection.query(
                """
                INSERT INTO stat_institutions (id, sector) VALUES (\(id.rawValue), \(sector.rawValue))
                ON CONFLICT (id) DO UPDATE SET sector = EXCLUDED.sector, since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
        let sent = fold.sentReferrals.compactMap { id, counted in counted.map { (id, $0) } }
        if !sent.isEmpty {
            try await connection.query(
                """
                INSERT INTO stat_referrals (referral_id, month, from_sector, to_sector, declined_month)
                SELECT u.id, u.month, NULLIF(u.from_sector, ''), NULLIF(u.to_sector, ''), NULLIF(u.declined_month, '')
                FROM unnest(\(sent.map(\.0.rawValue))::uuid[], \(sent.map(\.1.month))::text[],
                            \(sent.map { $0.1.from?.rawValue ?? "" })::text[], \(sent.map { $0.1.to?.rawValue ?? "" })::text[],
                            \(sent.map { $0.1.declinedMonth ?? "" })::text[]) AS u(id, month, from_sector, to_sector, declined_month)
                ON CONFLICT (referral_id) DO UPDATE SET declined_month = EXCLUDED.declined_month, since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
        let takenBack = fold.sentReferrals.filter { $0.value == nil }.map(\.key.rawValue)
        if !takenBack.isEmpty {
            try await connection.query("DELETE FROM stat_referrals WHERE referral_id = ANY(\(takenBack))", logger: logger)
        }
        // Each table's rows in one statement: the batch's keys are distinct, so every row is
        // inserted or added to once.
        if !fold.municipalities.isEmpty {
            let rows = Array(fold.municipalities)
            func column(_ metric: StatisticsRules.MunicipalityMetric) -> [Int64] { rows.map { Int64($0.value[metric] ?? 0) } }
            func key(_ metric: StatisticsRules.MunicipalityMetric) -> [Int64] { rows.map { fold.municipalityKeys[$0.key]?[metric] ?? 0 } }
            try await connection.query(
                """
                INSERT INTO view_municipality_month AS v (municipality, month, reports, children, high_risk, referrals_sent, identified_victims, reports_by_trained,
                    reports_key, children_key, high_risk_key, referrals_sent_key, identified_victims_key, reports_by_trained_key)
                SELECT * FROM unnest(\(rows.map(\.key.municipality.rawValue))::text[], \(rows.map(\.key.month))::text[],
                                     \(column(.reports))::bigint[], \(column(.children))::bigint[], \(column(.highRisk))::bigint[],
                                     \(column(.referralsSent))::bigint[], \(column(.identifiedVictims))::bigint[], \(column(.reportsByTrained))::bigint[],
                                     \(key(.reports))::bigint[], \(key(.children))::bigint[], \(key(.highRisk))::bigint[],
                                     \(key(.referralsSent))::bigint[], \(key(.identifiedVictims))::bigint[], \(key(.reportsByTrained))::bigint[])
                ON CONFLICT (municipality, month) DO UPDATE SET
                    reports = v.reports + EXCLUDED.reports, children = v.children + EXCLUDED.children,
                    high_risk = v.high_risk + EXCLUDED.high_risk, referrals_sent = v.referrals_sent + EXCLUDED.referrals_sent,
                    identified_victims = v.identified_victims + EXCLUDED.identified_victims,
                    reports_by_trained = v.reports_by_trained + EXCLUDED.reports_by_trained,
                    reports_key = (v.reports_key + EXCLUDED.reports_key) % 4294967296,
                    children_key = (v.children_key + EXCLUDED.children_key) % 4294967296,
                    high_risk_key = (v.high_risk_key + EXCLUDED.high_risk_key) % 4294967296,
                    referrals_sent_key = (v.referrals_sent_key + EXCLUDED.referrals_sent_key) % 4294967296,
                    identified_victims_key = (v.identified_victims_key + EXCLUDED.identified_victims_key) % 4294967296,
                    reports_by_trained_key = (v.reports_by_trained_key + EXCLUDED.reports_by_trained_key) % 4294967296,
                    since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
        if !fold.sectors.isEmpty {
            let rows = Array(fold.sectors)
            func column(_ metric: StatisticsRules.SectorMetric) -> [Int64] { rows.map { Int64($0.value[metric] ?? 0) } }
            try await connection.query(
                """
                INSERT INTO view_sector_month AS v (sector, month, reports, referrals_sent, referrals_received)
                SELECT * FROM unnest(\(rows.map(\.key.sector.rawValue))::text[], \(rows.map(\.key.month))::text[],
                                     \(column(.reports))::bigint[], \(column(.referralsSent))::bigint[], \(column(.referralsReceived))::bigint[])
                ON CONFLICT (sector, month) DO UPDATE SET
                    reports = v.reports + EXCLUDED.reports, referrals_sent = v.referrals_sent + EXCLUDED.referrals_sent,
                    referrals_received = v.referrals_received + EXCLUDED.referrals_received, since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
        if !fold.sectorFlows.isEmpty || !fold.sectorFlowsDeclined.isEmpty {
            let keys = Array(Set(fold.sectorFlows.keys).union(fold.sectorFlowsDeclined.keys))
            try await connection.query(
                """
                INSERT INTO view_sector_flows AS v (from_sector, to_sector, month, referrals, declined)
                SELECT * FROM unnest(\(keys.map(\.from.rawValue))::text[], \(keys.map(\.to.rawValue))::text[],
                                     \(keys.map(\.month))::text[], \(keys.map { Int64(fold.sectorFlows[$0] ?? 0) })::bigint[],
                                     \(keys.map { Int64(fold.sectorFlowsDeclined[$0] ?? 0) })::bigint[])
                ON CONFLICT (from_sector, to_sector, month) DO UPDATE SET referrals = v.referrals + EXCLUDED.referrals,
                    declined = v.declined + EXCLUDED.declined, since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
        if !fold.placeFlows.isEmpty {
            let rows = Array(fold.placeFlows)
            try await connection.query(
                """
                INSERT INTO view_place_flows AS v (from_place, to_place, month, cases, cases_key)
                SELECT * FROM unnest(\(rows.map(\.key.from))::text[], \(rows.map(\.key.to))::text[],
                                     \(rows.map(\.key.month))::text[], \(rows.map { Int64($0.value) })::bigint[],
                                     \(rows.map { fold.placeFlowKeys[$0.key] ?? 0 })::bigint[])
                ON CONFLICT (from_place, to_place, month) DO UPDATE SET cases = v.cases + EXCLUDED.cases,
                    cases_key = (v.cases_key + EXCLUDED.cases_key) % 4294967296, since_month = EXCLUDED.since_month
                """,
                logger: logger
            )
        }
    }
}
