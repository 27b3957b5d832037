import Foundation
import Hummingbird
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaProjections

/// What each institution has to do and what became of what it reported: the API's shapes of
/// the rows `CaseWorkProjection` owns and reads, only ever the caller's own institution's.
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

    struct Inbox: ResponseEncodable {
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

    struct Reports: ResponseEncodable {
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
            var items: [InboxItem] = []
            var keyset = page.keyset
            for (item, key) in try await CaseWorkProjection.openWork(
                of: caller.actor.institution,
                after: (after.numbers[0], after.numbers[1], after.id),
                limit: page.limit + 1,
                on: database,
                logger: context.logger
            ) {
                guard keyset.take(KeysetCursor(key, item.itemID)) else { break }
                items.append(
                    InboxItem(
                        caseId: item.caseID,
                        kind: item.kind,
                        itemId: item.itemID,
                        fromInstitution: item.fromInstitution,
                        detail: item.detail,
                        urgency: item.urgency,
                        status: item.status,
                        due: item.due,
                        since: item.since,
                        overdue: item.due.map { $0 < now } ?? false
                    )
                )
            }
            return Inbox(institution: caller.actor.institution, items: items, next: keyset.next)
        }

        group.get("reports/mine") { request, context in
            let caller = try context.requireRole(.reporter, .coordinator)
            try await requireLive([CaseWorkProjection.projectionName], database: database, logger: context.logger)
            let page = try PageRequest(request)
            // The newest first: the key is the filing time negated, so the keyset still ascends.
            let after = try page.after.map { try KeysetCursor(parsing: $0, numbers: 1) } ?? .start(1)
            var reports: [ReportProgress] = []
            var keyset = page.keyset
            for (report, key) in try await CaseWorkProjection.reports(
                of: caller.actor.institution,
                after: (after.numbers[0], after.id),
                limit: page.limit + 1,
                on: database,
                logger: context.logger
            ) {
                guard keyset.take(KeysetCursor(key, report.caseID)) else { break }
                reports.append(
                    ReportProgress(
                        caseId: report.caseID,
                        municipality: report.municipality,
                        filedAt: report.filedAt,
                        riskLevel: report.riskLevel,
                        urgency: report.urgency,
                        status: report.status.rawValue,
                        acknowledgedAt: report.acknowledgedAt,
                        triagedAt: report.triagedAt,
                        referralsSent: Int(report.referralsSent),
                        conferencesHeld: Int(report.conferencesHeld),
                        identification: report.identification,
                        assistanceGiven: Int(report.assistanceGiven),
                        closedAt: report.closedAt
                    )
                )
            }
            return Reports(institution: caller.actor.institution, reports: reports, next: keyset.next)
        }
    }
}
