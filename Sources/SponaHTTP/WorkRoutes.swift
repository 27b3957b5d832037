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

    struct Inbox: Encodable {
        var institution: InstitutionID
        var items: [InboxItem]
        /// Present when there is more: pass it as `?after=`.
        var next: String?
    }

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

    struct Reports: Encodable {
        var institution: InstitutionID
        var reports: [ReportProgress]
        /// Present when there is more: pass it as `?after=`.
        var next: String?
    }

    func register(on group: RouterGroup<SponaRequestContext>) {
        group.get("inbox") { request, context in
            let caller = try context.requireRole(.reporter, .coordinator)
            try await requireLive([CaseWorkProjection.projectionName], database: database, logger: context.logger)
            let now = Date()
            let page = try PageRequest(request)
            let after = try page.after.map { try KeysetCursor(parsing: $0, numbers: 2) } ?? .start(2)
            // By due date (so the overdue come first), items without one last, then by how
            // long they have waited; keyset-paged in that order.
            let rows = try await database.query("""
                SELECT case_id, kind, item_id, from_institution, detail, urgency, status, due, since, due_us, since_us FROM (
                    SELECT w.*, coalesce((extract(epoch FROM due) * 1000000)::bigint, 9223372036854775807) AS due_us,
                           (extract(epoch FROM since) * 1000000)::bigint AS since_us
                    FROM open_work w
                    WHERE institution_id = \(caller.actor.institution.rawValue) AND NOT case_closed
                ) w
                WHERE (due_us, since_us, item_id) > (\(after.numbers[0]), \(after.numbers[1]), \(after.id))
                ORDER BY due_us, since_us, item_id
                LIMIT \(page.limit + 1)
                """, logger: context.logger)
            var items: [InboxItem] = []
            var keyset = page.keyset
            for try await (caseID, kind, item, from, detail, urgency, status, due, since, dueUS, sinceUS) in rows.decode((UUID, String, UUID, UUID?, String, String?, String, Date?, Date, Int64, Int64).self) {
                guard keyset.take(KeysetCursor([dueUS, sinceUS], item)) else { break }
                items.append(InboxItem(caseId: caseID, kind: kind, itemId: item, fromInstitution: from, detail: detail, urgency: urgency,
                                       status: status, due: due, since: since, overdue: due.map { $0 < now } ?? false))
            }
            return try JSONResponse.make(Inbox(institution: caller.actor.institution, items: items, next: keyset.next), status: .ok)
        }

        group.get("reports/mine") { request, context in
            let caller = try context.requireRole(.reporter, .coordinator)
            try await requireLive([CaseWorkProjection.projectionName], database: database, logger: context.logger)
            let page = try PageRequest(request)
            // The newest first: the key is the filing time negated, so the keyset still ascends.
            let after = try page.after.map { try KeysetCursor(parsing: $0, numbers: 1) } ?? .start(1)
            let rows = try await database.query("""
                SELECT case_id, municipality, filed_at, risk_level, urgency, status, acknowledged_at, triaged_at,
                       referrals_sent, conferences_held, identification, assistance_given, closed_at, key FROM (
                    SELECT r.*, -(extract(epoch FROM filed_at) * 1000000)::bigint AS key
                    FROM case_reports r WHERE reporting_institution = \(caller.actor.institution.rawValue)
                ) r
                WHERE (key, case_id) > (\(after.numbers[0]), \(after.id))
                ORDER BY key, case_id LIMIT \(page.limit + 1)
                """, logger: context.logger)
            var reports: [ReportProgress] = []
            var keyset = page.keyset
            for try await row in rows {
                let (caseID, municipality, filed, risk, urgency, status, acknowledged, triaged, referrals, conferences, identification, assistance, closed, key) =
                    try row.decode((UUID, String, Date, String, String, String, Date?, Date?, Int32, Int32, String?, Int32, Date?, Int64).self)
                guard keyset.take(KeysetCursor([key], caseID)) else { break }
                reports.append(ReportProgress(
                    caseId: caseID, municipality: municipality, filedAt: filed, riskLevel: risk, urgency: urgency, status: status,
                    acknowledgedAt: acknowledged, triagedAt: triaged, referralsSent: Int(referrals), conferencesHeld: Int(conferences),
                    identification: identification, assistanceGiven: Int(assistance), closedAt: closed))
            }
            return try JSONResponse.make(Reports(institution: caller.actor.institution, reports: reports, next: keyset.next), status: .ok)
        }
    }
}
