import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore

/// Two views staff use every day: each institution's open work (`open_work`: referrals to act
/// on, decisions to implement) and each report's progress (`case_reports`). Ids, kinds, dates
/// and statuses only: never anything about the person.
public struct CaseWorkProjection: Projection {
    public let name = "case_work"
    public let tables = ["open_work", "case_reports"]

    public init() {}

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        for recorded in events {
            guard let caseID = Streams.caseID(of: recorded.streamID) else { continue }
            let event = try CaseEvent(typeName: recorded.type, payload: recorded.payload, decoder: EventCoding.decoder)
            try await apply(event, case: caseID.rawValue, at: recorded.recordedAt, on: connection, logger: logger)
        }
    }

    private func apply(_ event: CaseEvent, case id: UUID, at time: Date, on connection: PostgresConnection, logger: Logger) async throws {
        func run(_ query: PostgresQuery) async throws { try await connection.query(query, logger: logger) }
        switch event {
        case .reportFiled(let report):
            try await run("""
                INSERT INTO case_reports (case_id, reporting_institution, municipality, filed_at, risk_level, urgency, status, updated_at)
                VALUES (\(id), \(report.reportingInstitution.rawValue), \(report.municipality.rawValue), \(time),
                        \(report.risk.level.rawValue), \(report.urgency.rawValue), 'reported', \(time))
                ON CONFLICT (case_id) DO NOTHING
                """)
        case .reportAcknowledged:
            try await run("UPDATE case_reports SET acknowledged_at = \(time), status = CASE WHEN status = 'reported' THEN 'acknowledged' ELSE status END, updated_at = \(time) WHERE case_id = \(id)")
        case .reportTriaged:
            try await run("UPDATE case_reports SET triaged_at = \(time), status = CASE WHEN status = 'closed' THEN status ELSE 'triaged' END, updated_at = \(time) WHERE case_id = \(id)")
        case .referralSent(let sent):
            try await run("UPDATE case_reports SET referrals_sent = referrals_sent + 1, updated_at = \(time) WHERE case_id = \(id)")
            try await run("""
                INSERT INTO open_work (item_id, case_id, kind, institution_id, from_institution, detail, urgency, status, due, since)
                VALUES (\(sent.referral.rawValue), \(id), 'referral', \(sent.to.rawValue), \(sent.from.rawValue),
                        \(sent.requestedServices.joined(separator: ", ")), \(sent.urgency.rawValue), 'requested', \(sent.due), \(time))
                ON CONFLICT (item_id) DO NOTHING
                """)
        case .referralReceived(let step):
            try await run("UPDATE open_work SET status = 'received', since = \(time) WHERE item_id = \(step.referral.rawValue)")
        case .referralAccepted(let step):
            try await run("UPDATE open_work SET status = 'accepted', since = \(time) WHERE item_id = \(step.referral.rawValue)")
        case .referralDeclined(let step), .referralCompleted(let step), .referralFailed(let step),
             .referralWithdrawn(let step), .referralEnteredInError(let step):
            try await run("DELETE FROM open_work WHERE item_id = \(step.referral.rawValue)")
        case .conferenceHeld:
            try await run("UPDATE case_reports SET conferences_held = conferences_held + 1, updated_at = \(time) WHERE case_id = \(id)")
        case .decisionRecorded(let decision):
            try await run("""
                INSERT INTO open_work (item_id, case_id, kind, institution_id, detail, status, due, since)
                VALUES (\(decision.decision.rawValue), \(id), 'decision', \(decision.responsible.rawValue),
                        \(decision.type.rawValue), 'recorded', \(decision.due), \(time))
                ON CONFLICT (item_id) DO NOTHING
                """)
        case .decisionImplemented(let implemented):
            try await run("DELETE FROM open_work WHERE item_id = \(implemented.decision.rawValue)")
        case .identificationConcluded(let concluded):
            try await run("UPDATE case_reports SET identification = \(concluded.outcome.rawValue), updated_at = \(time) WHERE case_id = \(id)")
        case .assistanceProvided:
            try await run("UPDATE case_reports SET assistance_given = assistance_given + 1, updated_at = \(time) WHERE case_id = \(id)")
        case .caseClosed:
            try await run("UPDATE case_reports SET status = 'closed', closed_at = \(time), updated_at = \(time) WHERE case_id = \(id)")
            try await run("UPDATE open_work SET case_closed = true WHERE case_id = \(id)")
        case .personalDataErased:
            break // nothing personal is ever in a projection, so there is nothing to remove
        case .caseReopened:
            try await run("""
                UPDATE case_reports SET closed_at = NULL, updated_at = \(time),
                    status = CASE WHEN triaged_at IS NOT NULL THEN 'triaged' WHEN acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'reported' END
                WHERE case_id = \(id)
                """)
            try await run("UPDATE open_work SET case_closed = false WHERE case_id = \(id)")
        case .conferenceScheduled, .conferenceCancelled:
            break
        }
    }
}
