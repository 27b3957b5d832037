import Foundation
import Hummingbird
import PostgresNIO
import SponaApplication
import SponaProjections
import SponaDomain

/// What each institution has to do and what became of what it reported. Both read the
/// projections, and only ever the caller's own institution's rows.
struct WorkRoutes {
    let database: PostgresClient

    struct InboxItem: Encodable {
        var caseId: UUID
        var kind: String
        var itemId: UUID
        var fromInstitution: UUID?
        var detail: String
        var urgency: String?
        var status: String
        var due: Date?
        var since: Date
        var overdue: Bool
    }

    struct Inbox: Encodable { var institution: InstitutionID; var items: [InboxItem] }

    struct ReportProgress: Encodable {
        var caseId: UUID
        var municipality: String
        var filedAt: Date
        var riskLevel: String
        var urgency: String
        var status: String
        var acknowledgedAt: Date?
        var triagedAt: Date?
        var referralsSent: Int
        var conferencesHeld: Int
        var identification: String?
        var assistanceGiven: Int
        var closedAt: Date?
    }

    struct Reports: Encodable { var institution: InstitutionID; var reports: [ReportProgress] }

    func register(on group: RouterGroup<SponaRequestContext>) {
        group.get("inbox") { _, context in
            let caller = try context.requireRole(.reporter, .coordinator)
            try await requireLive([CaseWorkProjection.projectionName], database: database, logger: context.logger)
            let now = Date()
            let rows = try await database.query("""
                SELECT case_id, kind, item_id, from_institution, detail, urgency, status, due, since
                FROM open_work
                WHERE institution_id = \(caller.actor.institution.rawValue) AND NOT case_closed
                ORDER BY (due IS NOT NULL AND due < \(now)) DESC, due NULLS LAST, since
                LIMIT 1000
                """, logger: context.logger)
            var items: [InboxItem] = []
            for try await (caseID, kind, item, from, detail, urgency, status, due, since) in rows.decode((UUID, String, UUID, UUID?, String, String?, String, Date?, Date).self) {
                items.append(InboxItem(caseId: caseID, kind: kind, itemId: item, fromInstitution: from, detail: detail, urgency: urgency,
                                       status: status, due: due, since: since, overdue: due.map { $0 < now } ?? false))
            }
            return try JSONResponse.make(Inbox(institution: caller.actor.institution, items: items), status: .ok)
        }

        group.get("reports/mine") { _, context in
            let caller = try context.requireRole(.reporter, .coordinator)
            try await requireLive([CaseWorkProjection.projectionName], database: database, logger: context.logger)
            let rows = try await database.query("""
                SELECT case_id, municipality, filed_at, risk_level, urgency, status, acknowledged_at, triaged_at,
                       referrals_sent, conferences_held, identification, assistance_given, closed_at
                FROM case_reports WHERE reporting_institution = \(caller.actor.institution.rawValue)
                ORDER BY filed_at DESC LIMIT 1000
                """, logger: context.logger)
            var reports: [ReportProgress] = []
            for try await row in rows {
                let (caseID, municipality, filed, risk, urgency, status, acknowledged, triaged, referrals, conferences, identification, assistance, closed) =
                    try row.decode((UUID, String, Date, String, String, String, Date?, Date?, Int32, Int32, String?, Int32, Date?).self)
                reports.append(ReportProgress(
                    caseId: caseID, municipality: municipality, filedAt: filed, riskLevel: risk, urgency: urgency, status: status,
                    acknowledgedAt: acknowledged, triagedAt: triaged, referralsSent: Int(referrals), conferencesHeld: Int(conferences),
                    identification: identification, assistanceGiven: Int(assistance), closedAt: closed))
            }
            return try JSONResponse.make(Reports(institution: caller.actor.institution, reports: reports), status: .ok)
        }
    }
}
