import Foundation
import Logging
import PostgresNIO
import SponaDomain
import SponaEventStore
import SponaRecords

/// Two views staff use every day: each institution's open work (`open_work`: referrals to act
/// on, decisions to implement) and each report's progress (`case_reports`). Ids, kinds, dates
/// and statuses only: never anything about the person.
public struct CaseWorkProjection: Projection {
    public static let projectionName = "case_work"
    public let name = projectionName
    public let tables = ["open_work", "case_reports"]
    public var categories: Set<String>? { [Streams.Category.cases] }
    /// Raise it with any change to the fold or the tables: servers then rebuild it from the
    /// history on start (see ``Projection/version``).
    /// Version 2: the subject's age group and gender in `case_reports` (migration 0016).
    /// Version 3: every person of a report in `case_reports.persons` (migration 0021).
    public static let currentVersion = 3
    public var version: Int { Self.currentVersion }

    public init() {}

    /// A report's row in `case_reports`.
    public struct ReportRow: Sendable {
        public var caseID: UUID
        public var reportingInstitution: UUID
        public var municipality: String
        public var filedAt: Date
        public var riskLevel: String
        public var urgency: String
        public var status: Case.Status
        public var acknowledgedAt: Date?
        public var triagedAt: Date?
        public var referralsSent: Int32 = 0
        public var conferencesHeld: Int32 = 0
        public var identification: String?
        public var assistanceGiven: Int32 = 0
        public var closedAt: Date?
        public var updatedAt: Date
        /// The people the report is about: codes from closed lists, for the outcome figures.
        public var persons: [Person] = []

        /// The columns a row is read from, in ``init(_:)``'s order: one list for every query.
        static let columns = """
            case_id, reporting_institution, municipality, filed_at, risk_level, urgency, status, acknowledged_at, triaged_at, \
            referrals_sent, conferences_held, identification, assistance_given, closed_at, updated_at, persons
            """
        static let columnCount = 16
    }

    /// A person a report is about, as the outcome figures count them: age group and gender
    /// (codes from closed lists), the latest identification concluded about them, and whether
    /// they were assisted.
    public struct Person: Sendable, Hashable {
        public var id: UUID
        public var ageGroup: String
        public var gender: String
        public var identification: String?
        public var assisted = false

        /// As stored in `case_reports.persons`: "id|age group|gender|identification|assisted".
        var stored: String {
            [id.uuidString.lowercased(), ageGroup, gender, identification ?? "", assisted ? "1" : "0"].joined(separator: "|")
        }

        init(id: UUID, ageGroup: String, gender: String, identification: String? = nil, assisted: Bool = false) {
            self.id = id
            self.ageGroup = ageGroup
            self.gender = gender
            self.identification = identification
            self.assisted = assisted
        }

        init?(stored: String) {
            let parts = stored.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 5, let id = UUID(uuidString: parts[0]) else { return nil }
            self.init(id: id, ageGroup: parts[1], gender: parts[2], identification: parts[3].isEmpty ? nil : parts[3], assisted: parts[4] == "1")
        }
    }

    /// A row of `open_work`.
    public struct WorkItem: Sendable {
        public var itemID: UUID
        public var caseID: UUID
        public var kind: String
        public var institutionID: UUID
        public var fromInstitution: UUID?
        public var detail: String
        public var urgency: String?
        public var status: String
        public var due: Date?
        public var since: Date
        public var caseClosed: Bool
    }

    /// The batch is folded in memory over the rows it touches, read in two queries, and
    /// written back in one statement per table: a rebuild costs a few statements per batch.
    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        let decoded: [(UUID, CaseEvent, Date)] = try events.compactMap { recorded in
            try DecodedCaseEvents.decode(recorded).map { ($0.id.rawValue, $0.event, $0.occurredAt) }
        }
        guard !decoded.isEmpty else { return }
        let caseIDs = Array(Set(decoded.map(\.0)))

        var reports: [UUID: ReportRow] = [:]
        let reportRows = try await connection.query(
            """
            SELECT \(unescaped: ReportRow.columns) FROM case_reports WHERE case_id = ANY(\(caseIDs))
            """,
            logger: logger
        )
        for try await row in reportRows {
            let report = try ReportRow(row.makeRandomAccess())
            reports[report.caseID] = report
        }
        var items: [UUID: WorkItem] = [:]
        let itemRows = try await connection.query(
            """
            SELECT item_id, case_id, kind, institution_id, from_institution, detail, urgency, status, due, since, case_closed
            FROM open_work WHERE case_id = ANY(\(caseIDs))
            """,
            logger: logger
        )
        for try await row in itemRows {
            let (item, caseID, kind, institution, from, detail, urgency, status, due, since, closed) =
                try row.decode((UUID, UUID, String, UUID, UUID?, String, String?, String, Date?, Date, Bool).self)
            items[item] = WorkItem(
                itemID: item,
                caseID: caseID,
                kind: kind,
                institutionID: institution,
                fromInstitution: from,
                detail: detail,
                urgency: urgency,
                status: status,
                due: due,
                since: since,
                caseClosed: closed
            )
        }

        var fold = Fold(reports: reports, items: items)
        for (id, event, time) in decoded { fold.apply(event, case: id, at: time) }
        let deletedItems = fold.deletedItems
        let touchedItems = fold.touchedItems
        let touchedReports = fold.touchedReports
        items = fold.items
        reports = fold.reports

        if !deletedItems.isEmpty {
            try await connection.query("DELETE FROM open_work WHERE item_id = ANY(\(Array(deletedItems)))", logger: logger)
        }
        // Each table's touched rows in one statement (arrays unnested; a NULL travels as a
        // flag beside a placeholder, since arrays of optionals do not encode).
        let work = touchedItems.compactMap { items[$0] }
        if !work.isEmpty {
            let epoch = Date(timeIntervalSince1970: 0)
            try await connection.query(
                """
                INSERT INTO open_work (item_id, case_id, kind, institution_id, from_institution, detail, urgency, status, due, since, case_closed)
                SELECT item, case_id, kind, institution, CASE WHEN has_from THEN from_institution END, detail, NULLIF(urgency, ''), status,
                       CASE WHEN has_due THEN due END, since, closed
                FROM unnest(\(work.map(\.itemID))::uuid[], \(work.map(\.caseID))::uuid[], \(work.map(\.kind))::text[],
                            \(work.map(\.institutionID))::uuid[], \(work.map { $0.fromInstitution ?? $0.itemID })::uuid[],
                            \(work.map { $0.fromInstitution != nil })::bool[], \(work.map(\.detail))::text[], \(work.map { $0.urgency ?? "" })::text[],
                            \(work.map(\.status))::text[], \(work.map { $0.due ?? epoch })::timestamptz[], \(work.map { $0.due != nil })::bool[],
                            \(work.map(\.since))::timestamptz[], \(work.map(\.caseClosed))::bool[])
                     AS x(item, case_id, kind, institution, from_institution, has_from, detail, urgency, status, due, has_due, since, closed)
                ON CONFLICT (item_id) DO UPDATE SET status = EXCLUDED.status, since = EXCLUDED.since, case_closed = EXCLUDED.case_closed
                """,
                logger: logger
            )
        }
        let rows = touchedReports.compactMap { reports[$0] }
        if !rows.isEmpty {
            let epoch = Date(timeIntervalSince1970: 0)
            try await connection.query(
                """
                INSERT INTO case_reports (case_id, reporting_institution, municipality, filed_at, risk_level, urgency, status, acknowledged_at,
                                          triaged_at, referrals_sent, conferences_held, identification, assistance_given, closed_at, updated_at,
                                          persons)
                SELECT id, institution, municipality, filed, risk, urgency, status, CASE WHEN has_ack THEN ack END, CASE WHEN has_triage THEN triage END,
                       referrals, conferences, NULLIF(identification, ''), assistance, CASE WHEN has_closed THEN closed END, updated,
                       coalesce(string_to_array(NULLIF(persons, ''), ','), '{}')
                FROM unnest(\(rows.map(\.caseID))::uuid[], \(rows.map(\.reportingInstitution))::uuid[], \(rows.map(\.municipality))::text[],
                            \(rows.map(\.filedAt))::timestamptz[], \(rows.map(\.riskLevel))::text[], \(rows.map(\.urgency))::text[],
                            \(rows.map(\.status.rawValue))::text[], \(rows.map { $0.acknowledgedAt ?? epoch })::timestamptz[], \(rows.map { $0.acknowledgedAt != nil })::bool[],
                            \(rows.map { $0.triagedAt ?? epoch })::timestamptz[], \(rows.map { $0.triagedAt != nil })::bool[],
                            \(rows.map(\.referralsSent))::int[], \(rows.map(\.conferencesHeld))::int[], \(rows.map { $0.identification ?? "" })::text[],
                            \(rows.map(\.assistanceGiven))::int[], \(rows.map { $0.closedAt ?? epoch })::timestamptz[], \(rows.map { $0.closedAt != nil })::bool[],
                            \(rows.map(\.updatedAt))::timestamptz[], \(rows.map { $0.persons.map(\.stored).joined(separator: ",") })::text[])
                     AS x(id, institution, municipality, filed, risk, urgency, status, ack, has_ack, triage, has_triage, referrals, conferences,
                          identification, assistance, closed, has_closed, updated, persons)
                ON CONFLICT (case_id) DO UPDATE SET status = EXCLUDED.status, acknowledged_at = EXCLUDED.acknowledged_at,
                    triaged_at = EXCLUDED.triaged_at, referrals_sent = EXCLUDED.referrals_sent, conferences_held = EXCLUDED.conferences_held,
                    identification = EXCLUDED.identification, assistance_given = EXCLUDED.assistance_given, closed_at = EXCLUDED.closed_at,
                    updated_at = EXCLUDED.updated_at, persons = EXCLUDED.persons
                """,
                logger: logger
            )
        }
    }

    /// The two tables' rows a batch touches, and the rules by which events change them: a pure
    /// fold, tested without a database; ``apply(_:on:logger:)`` reads the rows in and writes
    /// the touched ones back.
    public struct Fold: Sendable {
        public var reports: [UUID: ReportRow]
        public var items: [UUID: WorkItem]
        public private(set) var touchedReports = Set<UUID>()
        public private(set) var touchedItems = Set<UUID>()
        public private(set) var deletedItems = Set<UUID>()

        public init(reports: [UUID: ReportRow] = [:], items: [UUID: WorkItem] = [:]) {
            self.reports = reports
            self.items = items
        }

        /// One event's effect on the rows.
        public mutating func apply(_ event: CaseEvent, case id: UUID, at time: Date) {
            func report(_ change: (inout ReportRow) -> Void) {
                guard var row = reports[id] else { return }
                change(&row)
                row.updatedAt = time
                reports[id] = row
                touchedReports.insert(id)
            }
            func item(_ itemID: UUID, _ change: (inout WorkItem) -> Void) {
                guard var row = items[itemID] else { return }
                change(&row)
                items[itemID] = row
                touchedItems.insert(itemID)
            }
            func add(_ row: WorkItem) {
                guard items[row.itemID] == nil else { return }
                items[row.itemID] = row
                touchedItems.insert(row.itemID)
                deletedItems.remove(row.itemID)
            }
            func remove(_ itemID: UUID) {
                items[itemID] = nil
                touchedItems.remove(itemID)
                deletedItems.insert(itemID)
            }
            switch event {
            case .reportFiled(let filed):
                guard reports[id] == nil else { return }
                reports[id] = ReportRow(
                    caseID: id,
                    reportingInstitution: filed.reportingInstitution.rawValue,
                    municipality: filed.municipality.rawValue,
                    filedAt: time,
                    riskLevel: filed.risk.level.rawValue,
                    urgency: filed.urgency.rawValue,
                    status: .reported,
                    updatedAt: time,
                    persons: filed.subjects.map {
                        Person(id: $0.id.rawValue, ageGroup: $0.profile.ageGroup.rawValue, gender: $0.profile.gender.rawValue)
                    }
                )
                touchedReports.insert(id)
            case .reportAcknowledged:
                report {
                    $0.status = $0.status.after(event, acknowledged: $0.acknowledgedAt != nil, triaged: $0.triagedAt != nil)
                    $0.acknowledgedAt = time
                }
            case .reportTriaged:
                report {
                    $0.status = $0.status.after(event, acknowledged: $0.acknowledgedAt != nil, triaged: $0.triagedAt != nil)
                    $0.triagedAt = time
                }
            case .referralSent(let sent):
                report { $0.referralsSent += 1 }
                add(
                    WorkItem(
                        itemID: sent.referral.rawValue,
                        caseID: id,
                        kind: "referral",
                        institutionID: sent.to.rawValue,
                        fromInstitution: sent.from.rawValue,
                        detail: sent.requestedServices.map(\.rawValue).joined(separator: ", "),
                        urgency: sent.urgency.rawValue,
                        status: Referral.Status.requested.rawValue,
                        due: sent.due,
                        since: time,
                        caseClosed: false
                    )
                )
            case .referralReceived(let step):
                item(step.referral.rawValue) {
                    $0.status = Referral.Status.received.rawValue
                    $0.since = time
                }
            case .referralAccepted(let step):
                item(step.referral.rawValue) {
                    $0.status = Referral.Status.accepted.rawValue
                    $0.since = time
                }
            case .referralDeclined(let step), .referralCompleted(let step), .referralFailed(let step),
                .referralWithdrawn(let step), .referralEnteredInError(let step):
                remove(step.referral.rawValue)
            case .conferenceHeld:
                report { $0.conferencesHeld += 1 }
            case .decisionRecorded(let decision):
                add(
                    WorkItem(
                        itemID: decision.decision.rawValue,
                        caseID: id,
                        kind: "decision",
                        institutionID: decision.responsible.rawValue,
                        fromInstitution: nil,
                        detail: decision.type.rawValue,
                        urgency: nil,
                        status: "recorded",
                        due: decision.due,
                        since: time,
                        caseClosed: false
                    )
                )
            case .decisionImplemented(let implemented):
                remove(implemented.decision.rawValue)
            case .identificationConcluded(let concluded):
                report { row in
                    row.identification = concluded.outcome.rawValue
                    for index in row.persons.indices where concluded.subject == nil || concluded.subject?.rawValue == row.persons[index].id {
                        row.persons[index].identification = concluded.outcome.rawValue
                    }
                }
            case .assistanceProvided(let provided):
                report { row in
                    row.assistanceGiven += 1
                    for index in row.persons.indices where provided.subject == nil || provided.subject?.rawValue == row.persons[index].id {
                        row.persons[index].assisted = true
                    }
                }
            case .caseClosed:
                report {
                    $0.status = $0.status.after(event, acknowledged: $0.acknowledgedAt != nil, triaged: $0.triagedAt != nil)
                    $0.closedAt = time
                }
                for itemID in items.values.filter({ $0.caseID == id }).map(\.itemID) { item(itemID) { $0.caseClosed = true } }
            case .caseReopened:
                report { row in
                    row.closedAt = nil
                    row.status = row.status.after(event, acknowledged: row.acknowledgedAt != nil, triaged: row.triagedAt != nil)
                }
                for itemID in items.values.filter({ $0.caseID == id }).map(\.itemID) { item(itemID) { $0.caseClosed = false } }
            case .personalDataErased, .conferenceScheduled, .conferenceCancelled:
                break  // nothing personal is ever in a projection; scheduling changes no open work
            }
        }
    }
}

// MARK: - Reading the tables (the routes run no SQL of their own)

extension CaseWorkProjection {
    /// An institution's open work on cases still open, in the order staff work through it: by
    /// due date (the overdue first, none last), then by how long it has waited, then by id;
    /// the `limit` items after the key `after` (due and waiting time in microseconds, id), each
    /// with its own key for the next page.
    public static func openWork(
        of institution: InstitutionID,
        after: (due: Int64, since: Int64, id: UUID),
        limit: Int,
        on client: PostgresClient,
        logger: Logger
    ) async throws -> [(item: WorkItem, key: [Int64])] {
        let rows = try await client.query(
            """
            SELECT item_id, case_id, kind, institution_id, from_institution, detail, urgency, status, due, since, due_us, since_us FROM (
                SELECT w.*, coalesce((extract(epoch FROM due) * 1000000)::bigint, 9223372036854775807) AS due_us,
                       (extract(epoch FROM since) * 1000000)::bigint AS since_us
                FROM open_work w
                WHERE institution_id = \(institution.rawValue) AND NOT case_closed
            ) w
            WHERE (due_us, since_us, item_id) > (\(after.due), \(after.since), \(after.id))
            ORDER BY due_us, since_us, item_id
            LIMIT \(limit)
            """,
            logger: logger
        )
        var items: [(WorkItem, [Int64])] = []
        for try await row in rows {
            let (item, caseID, kind, owner, from, detail, urgency, status, due, since, dueUS, sinceUS) =
                try row.decode((UUID, UUID, String, UUID, UUID?, String, String?, String, Date?, Date, Int64, Int64).self)
            items.append(
                (
                    WorkItem(
                        itemID: item,
                        caseID: caseID,
                        kind: kind,
                        institutionID: owner,
                        fromInstitution: from,
                        detail: detail,
                        urgency: urgency,
                        status: status,
                        due: due,
                        since: since,
                        caseClosed: false
                    ), [dueUS, sinceUS]
                )
            )
        }
        return items
    }

    /// The reports an institution filed, the newest first, the `limit` after the key `after`
    /// (the filing time in microseconds negated, so that keys ascend; the case id), each with
    /// its key.
    public static func reports(
        of institution: InstitutionID,
        after: (filed: Int64, id: UUID),
        limit: Int,
        on client: PostgresClient,
        logger: Logger
    ) async throws -> [(report: ReportRow, key: [Int64])] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: ReportRow.columns), key FROM (
                SELECT r.*, -(extract(epoch FROM filed_at) * 1000000)::bigint AS key
                FROM case_reports r WHERE reporting_institution = \(institution.rawValue)
            ) r
            WHERE (key, case_id) > (\(after.filed), \(after.id))
            ORDER BY key, case_id LIMIT \(limit)
            """,
            logger: logger
        )
        var reports: [(ReportRow, [Int64])] = []
        for try await row in rows {
            let columns = row.makeRandomAccess()
            reports.append((try ReportRow(columns), [try columns[ReportRow.columnCount].decode(Int64.self)]))
        }
        return reports
    }

    /// Reports filed by one institution in a month, with the institution as the registry has it.
    public struct InstitutionMonth: Sendable, Hashable {
        public var month: String
        public var institution: UUID
        public var nameLatin: String?
        public var nameCyrillic: String?
        public var sector: String?
        public var municipality: String?
        public var reports: Int
    }

    /// Reports by reporting institution and month (UTC, by the report's time), months `from`
    /// through `to`: the figure the Center cites for an institution's part in the network
    /// ("the Commissariat for Refugees' 7 reports after its memorandum"). Names come from the
    /// registry's read model. Reads through `read`, so that an as-of replay answers alike.
    /// Referrals waiting for an answer, from one sector to another: how many are open, and how
    /// many of those are past their due time at `now`.
    public struct WaitingReferrals: Sendable, Equatable {
        public var fromSector: String
        public var toSector: String
        public var open: Int
        public var overdue: Int
    }

    /// Where referrals stall: the open referrals (of open cases) by the sender's and the
    /// receiver's sector, most overdue first.
    public static func waitingReferrals(now: Date, read: TableReader) async throws -> [WaitingReferrals] {
        let rows = try await read(
            """
            SELECT coalesce(f.sector, 'other'), coalesce(t.sector, 'other'), count(*), count(*) FILTER (WHERE w.due < \(now))
            FROM open_work w
            LEFT JOIN institutions t ON t.id = w.institution_id
            LEFT JOIN institutions f ON f.id = w.from_institution
            WHERE w.kind = 'referral' AND NOT w.case_closed
            GROUP BY 1, 2
            ORDER BY 4 DESC, 3 DESC, 1, 2
            """
        )
        var result: [WaitingReferrals] = []
        for try await (from, to, open, overdue) in rows.decode((String, String, Int64, Int64).self) {
            result.append(WaitingReferrals(fromSector: from, toSector: to, open: Int(open), overdue: Int(overdue)))
        }
        return result
    }

    public static func reportsByInstitution(from: String, to: String, read: TableReader) async throws -> [InstitutionMonth] {
        let rows = try await read(
            """
            SELECT r.month, r.reporting_institution, i.name_lat, i.name_cyr, i.sector, i.municipality, r.reports
            FROM (
                SELECT to_char(filed_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, reporting_institution, count(*) AS reports
                FROM case_reports GROUP BY 1, 2
            ) r
            LEFT JOIN institutions i ON i.id = r.reporting_institution
            WHERE r.month >= \(from) AND r.month <= \(to)
            ORDER BY r.month, r.reports DESC, r.reporting_institution
            """
        )
        var result: [InstitutionMonth] = []
        for try await (month, institution, latin, cyrillic, sector, municipality, reports) in rows.decode(
            (String, UUID, String?, String?, String?, String?, Int64).self
        ) {
            result.append(
                InstitutionMonth(
                    month: month,
                    institution: institution,
                    nameLatin: latin,
                    nameCyrillic: cyrillic,
                    sector: sector,
                    municipality: municipality,
                    reports: Int(reports)
                )
            )
        }
        return result
    }

    /// An institution's reports over a period, with their cell key (the sum of the cases'
    /// record keys, ``StatisticsRules/recordKey(_:)``, computed by the database the same way).
    public struct InstitutionPeriod: Sendable, Hashable {
        public var institution: UUID
        public var nameLatin: String?
        public var nameCyrillic: String?
        public var sector: String?
        public var municipality: String?
        public var reports: Int
        public var key: Int64
    }

    /// Reports per reporting institution filed in `from`…`to` (and not after `through`), of the
    /// institutions in `municipalities` (nil: every institution, national bodies included).
    public static func reportsByInstitution(
        from: String,
        to: String,
        through: String,
        municipalities: [String]?,
        read: TableReader
    ) async throws -> [InstitutionPeriod] {
        let rows = try await read(
            """
            SELECT c.reporting_institution, i.name_lat, i.name_cyr, i.sector, i.municipality, count(*),
                   (sum(('x' || lpad(substr(encode(sha256(convert_to('spona-record-key|' || c.case_id::text, 'UTF8')), 'hex'), 1, 8), 16, '0'))
                       ::bit(64)::bigint) % 4294967296)::bigint
            FROM case_reports c
            LEFT JOIN institutions i ON i.id = c.reporting_institution
            WHERE to_char(c.filed_at AT TIME ZONE 'UTC', 'YYYY-MM') BETWEEN \(from) AND \(to)
              AND to_char(c.filed_at AT TIME ZONE 'UTC', 'YYYY-MM') <= \(through)
              AND (\(municipalities == nil) OR i.municipality = ANY(\(municipalities ?? [])))
            GROUP BY 1, 2, 3, 4, 5
            ORDER BY count(*) DESC, 2, 1
            """
        )
        var result: [InstitutionPeriod] = []
        for try await (institution, latin, cyrillic, sector, municipality, reports, key) in rows.decode(
            (UUID, String?, String?, String?, String?, Int64, Int64).self
        ) {
            result.append(
                InstitutionPeriod(
                    institution: institution,
                    nameLatin: latin,
                    nameCyrillic: cyrillic,
                    sector: sector,
                    municipality: municipality,
                    reports: Int(reports),
                    key: key
                )
            )
        }
        return result
    }

    /// What became of the reports of a month: identification outcomes (each person counted
    /// once, by the latest conclusion about them, so a correction moves the figure) and persons
    /// assisted, by age group (children: under 18) and gender.
    public struct OutcomeMonth: Sendable, Hashable {
        public var month: String
        public var reports: Int
        public var identified: Int
        public var identifiedChildren: Int
        public var identifiedAdults: Int
        public var identifiedFemale: Int
        public var identifiedMale: Int
        public var atRiskPrevention: Int
        public var notAVictim: Int
        public var assisted: Int
        public var assistedChildren: Int
        public var assistedAdults: Int
        public var assistedFemale: Int
        public var assistedMale: Int
    }

    /// Outcomes by the month the report was filed (UTC), months `from` through `to`: the
    /// figures of the Center's annual report (identified victims, children and adults, female
    /// and male; persons assisted; persons at risk with prevention). Reports are counted as
    /// cases, everything else as the people they are about.
    public static func outcomes(from: String, to: String, read: TableReader) async throws -> [OutcomeMonth] {
        let children = AgeGroup.allCases.filter(\.isChild).map(\.rawValue)
        let adults = AgeGroup.allCases.filter { !$0.isChild && $0 != .unknown }.map(\.rawValue)
        let identified = IdentificationOutcome.identifiedVictim.rawValue
        let rows = try await read(
            """
            SELECT month, count(DISTINCT case_id),
                   count(*) FILTER (WHERE outcome = \(identified)),
                   count(*) FILTER (WHERE outcome = \(identified) AND age_group = ANY(\(children))),
                   count(*) FILTER (WHERE outcome = \(identified) AND age_group = ANY(\(adults))),
                   count(*) FILTER (WHERE outcome = \(identified) AND gender = 'female'),
                   count(*) FILTER (WHERE outcome = \(identified) AND gender = 'male'),
                   count(*) FILTER (WHERE outcome = \(IdentificationOutcome.atRiskPrevention.rawValue)),
                   count(*) FILTER (WHERE outcome = \(IdentificationOutcome.notAVictim.rawValue)),
                   count(*) FILTER (WHERE assisted),
                   count(*) FILTER (WHERE assisted AND age_group = ANY(\(children))),
                   count(*) FILTER (WHERE assisted AND age_group = ANY(\(adults))),
                   count(*) FILTER (WHERE assisted AND gender = 'female'),
                   count(*) FILTER (WHERE assisted AND gender = 'male')
            FROM (
                SELECT to_char(r.filed_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, r.case_id,
                       split_part(p, '|', 2) AS age_group, split_part(p, '|', 3) AS gender,
                       split_part(p, '|', 4) AS outcome, split_part(p, '|', 5) = '1' AS assisted
                FROM case_reports r LEFT JOIN LATERAL unnest(r.persons) AS p ON true
                WHERE to_char(r.filed_at AT TIME ZONE 'UTC', 'YYYY-MM') BETWEEN \(from) AND \(to)
            ) people
            GROUP BY 1 ORDER BY 1
            """
        )
        var result: [OutcomeMonth] = []
        for try await row in rows {
            let columns = row.makeRandomAccess()
            let counts = try (1..<14).map { Int(try columns[$0].decode(Int64.self)) }
            result.append(
                OutcomeMonth(
                    month: try columns[0].decode(String.self),
                    reports: counts[0],
                    identified: counts[1],
                    identifiedChildren: counts[2],
                    identifiedAdults: counts[3],
                    identifiedFemale: counts[4],
                    identifiedMale: counts[5],
                    atRiskPrevention: counts[6],
                    notAVictim: counts[7],
                    assisted: counts[8],
                    assistedChildren: counts[9],
                    assistedAdults: counts[10],
                    assistedFemale: counts[11],
                    assistedMale: counts[12]
                )
            )
        }
        return result
    }

    /// A case in the coordinators' list: ids, places, dates and statuses only.
    public struct CaseListRow: Sendable {
        public var caseID: UUID
        public var municipality: String
        public var filedAt: Date
        public var status: String
        public var riskLevel: String
        public var urgency: String
        public var referralsSent: Int
        public var identification: String?
        public var openItems: Int
        public var overdueItems: Int
        /// Its place in the list's order (rank, filing time), for the next page.
        public var key: [Int64]
    }

    /// The cases (of `status` and `municipalities`, nil: any) in the coordinators' order —
    /// open before closed, the most urgent first, then by filing — the `limit` after the key
    /// `after`; items overdue as of `now`. Reads through `read`, so that an as-of replay's
    /// tables answer the same way.
    public static func caseList(
        status: String?,
        municipalities: [String]?,
        now: Date,
        after: (rank: Int64, filed: Int64, id: UUID),
        limit: Int,
        read: @Sendable (PostgresQuery) async throws -> PostgresRowSequence
    ) async throws -> [CaseListRow] {
        let rows = try await read(
            """
            WITH ranked AS (
                SELECT r.*, ((r.status = 'closed')::int * 3
                             + CASE r.urgency WHEN 'immediate' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END) AS rank,
                       (extract(epoch FROM r.filed_at) * 1000000)::bigint AS filed_us
                FROM case_reports r
                WHERE (\(status)::text IS NULL OR r.status = \(status))
                  AND (\(municipalities)::text[] IS NULL OR r.municipality = ANY(\(municipalities)))
            )
            SELECT r.case_id, r.municipality, r.filed_at, r.status, r.risk_level, r.urgency, r.referrals_sent, r.identification,
                   (SELECT count(*) FROM open_work w WHERE w.case_id = r.case_id)::int,
                   (SELECT count(*) FROM open_work w WHERE w.case_id = r.case_id AND w.due < \(now))::int,
                   r.rank, r.filed_us
            FROM ranked r
            WHERE (r.rank::bigint, r.filed_us, r.case_id) > (\(after.rank), \(after.filed), \(after.id))
            ORDER BY r.rank, r.filed_us, r.case_id
            LIMIT \(limit)
            """
        )
        var result: [CaseListRow] = []
        for try await (id, municipality, filed, state, risk, urgency, referrals, identification, open, overdue, rank, filedUS)
            in rows.decode((UUID, String, Date, String, String, String, Int32, String?, Int32, Int32, Int32, Int64).self)
        {
            result.append(
                CaseListRow(
                    caseID: id,
                    municipality: municipality,
                    filedAt: filed,
                    status: state,
                    riskLevel: risk,
                    urgency: urgency,
                    referralsSent: Int(referrals),
                    identification: identification,
                    openItems: Int(open),
                    overdueItems: Int(overdue),
                    key: [Int64(rank), filedUS]
                )
            )
        }
        return result
    }
}

extension CaseWorkProjection.ReportRow {
    /// The row from the first ``columnCount`` columns of a query selecting ``columns``.
    init(_ row: PostgresRandomAccessRow) throws {
        self.init(
            caseID: try row[0].decode(UUID.self),
            reportingInstitution: try row[1].decode(UUID.self),
            municipality: try row[2].decode(String.self),
            filedAt: try row[3].decode(Date.self),
            riskLevel: try row[4].decode(String.self),
            urgency: try row[5].decode(String.self),
            // A status this code does not know (written by a newer release) reads as filed.
            status: Case.Status(rawValue: try row[6].decode(String.self)) ?? .reported,
            acknowledgedAt: try row[7].decode(Date?.self),
            triagedAt: try row[8].decode(Date?.self),
            referralsSent: try row[9].decode(Int32.self),
            conferencesHeld: try row[10].decode(Int32.self),
            identification: try row[11].decode(String?.self),
            assistanceGiven: try row[12].decode(Int32.self),
            closedAt: try row[13].decode(Date?.self),
            updatedAt: try row[14].decode(Date.self),
            persons: try row[15].decode([String].self).compactMap(CaseWorkProjection.Person.init(stored:))
        )
    }
}
