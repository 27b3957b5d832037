import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaProjections

/// An error as RFC 9457 problem details: what every failed request answers with, as
/// `application/problem+json`.
///
/// Titles and details are written for the person reading the client's error message; they
/// never carry personal data of the people in a case.
public struct Problem: Error, HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var title: String
    public var detail: String?
    /// A stable, machine-readable kind, e.g. `urn:spona:problem:version-conflict`.
    public var type: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, type: String? = nil, title: String? = nil, detail: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.type = type ?? "about:blank"
        self.headers = headers
    }

    static func unauthorized(_ detail: String) -> Problem {
        Problem(
            .unauthorized,
            type: "urn:spona:problem:unauthorized",
            title: "Not authenticated",
            detail: detail,
            headers: [.wwwAuthenticate: "Bearer realm=\"spona\""]
        )
    }

    static func badRequest(_ detail: String) -> Problem {
        Problem(.badRequest, type: "urn:spona:problem:malformed", title: "Malformed request", detail: detail)
    }

    static func invalid(_ detail: String) -> Problem {
        Problem(.unprocessableContent, type: "urn:spona:problem:invalid", title: "Invalid command", detail: detail)
    }

    static let databaseUnavailable = Problem(
        .serviceUnavailable,
        type: "urn:spona:problem:database-unavailable",
        title: "Database unavailable",
        detail: "The database does not answer; try again shortly.",
        headers: [.retryAfter: "5"]
    )

    /// A view whose projection stands still at an event it cannot apply: its figures can only
    /// be wrong, so it says so rather than answer them.
    static func viewStopped(_ failure: ProjectionFailure) -> Problem {
        Problem(
            .serviceUnavailable,
            type: "urn:spona:problem:view-stopped",
            title: "View stopped",
            detail:
                "this view's projection (\(failure.projection)) stopped at an event it cannot apply (position \(failure.position)); its operators have been told",
            headers: [.retryAfter: "60"]
        )
    }

    private struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String?
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try encoder.encode(Body(type: type, title: title, status: status.code, detail: detail))
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension Problem {
    /// The answer for anything a route may throw.
    static func from(_ error: any Error) -> Problem? {
        switch error {
        case let problem as Problem:
            return problem
        case let error as CaseError:
            switch (error, error.kind) {
            case (.caseNotFound, _):
                return Problem(
                    .notFound,
                    type: "urn:spona:problem:not-found",
                    title: "No such case",
                    detail: "There is no case with this id that you may see."
                )
            case (.referralNotFound, _), (.conferenceNotFound, _), (.decisionNotFound, _):
                return Problem(.notFound, type: "urn:spona:problem:not-found", title: "Not found", detail: error.description)
            case (_, .conflict): return Problem(.conflict, type: "urn:spona:problem:conflict", title: "Not possible now", detail: error.description)
            case (_, .forbidden): return Problem.forbidden(error.description)
            case (_, .invalid): return invalid(error.description)
            }
        case let error as PrivacyError:
            switch error {
            case .invalidPersonalData(let reason): return invalid(reason)
            case .subjectKeyDestroyed:
                return Problem(.conflict, type: "urn:spona:problem:personal-data-erased", title: "Personal data erased", detail: error.description)
            case .sealedDataCorrupt:
                return Problem(
                    .internalServerError,
                    type: "urn:spona:problem:sealed-data-corrupt",
                    title: "Personal data damaged",
                    detail: error.description
                )
            case .masterKeyMissing, .masterKeyInvalid, .unknownMasterKey, .keyStoreUnavailable:
                return Problem(
                    .serviceUnavailable,
                    type: "urn:spona:problem:personal-data-unavailable",
                    title: "Personal data unavailable",
                    detail: "this server cannot seal or open personal data now; its operators have been told",
                    headers: [.retryAfter: "60"]
                )
            }
        case let error as ApplicationError:
            switch error {
            case .staleVersion:
                return Problem(
                    .preconditionFailed,
                    type: "urn:spona:problem:version-conflict",
                    title: "The case has changed",
                    detail: error.description
                )
            case .versionRequired:
                return Problem(
                    .preconditionRequired,
                    type: "urn:spona:problem:version-required",
                    title: "If-Match required",
                    detail: error.description
                )
            case .idempotencyKeyReused:
                return Problem(
                    .unprocessableContent,
                    type: "urn:spona:problem:idempotency-key-reused",
                    title: "Idempotency key reused",
                    detail: error.description
                )
            }
        case let error as RegistryError:
            if error.isForbidden { return Problem.forbidden(error.description) }
            if error.isConflict {
                return Problem(.conflict, type: "urn:spona:problem:conflict", title: "Not possible now", detail: error.description)
            }
            if case .notRegistered = error {
                return Problem(.notFound, type: "urn:spona:problem:not-found", title: "No such institution", detail: error.description)
            }
            return invalid(error.description)
        case let error as AuditService.Problem:
            switch error {
            case .streamNotFound: return Problem(.notFound, type: "urn:spona:problem:not-found", title: "No such stream", detail: error.description)
            case .onlyAuditors: return Problem.forbidden(error.description)
            }
        case let error as AccessTokens.Refusal:
            return unauthorized(error.description)
        case let error as PersonalDataReadLimited:
            return rateLimited("Too many reads of personal data", error.description, retryAfter: error.retryAfterSeconds)
        case let error as EventSchemaError:
            // A stored event this code cannot read (a newer version wrote it): the server's
            // side, not the client's, and nothing a retry now would change.
            return Problem(
                .serviceUnavailable,
                type: "urn:spona:problem:history-unreadable",
                title: "History unreadable by this server",
                detail: "\(error.description). Its operators have been told."
            )
        case EventStoreError.orderUntrusted:
            return Problem(
                .serviceUnavailable,
                type: "urn:spona:problem:order-untrusted",
                title: "Writing is paused",
                detail: "this database was restored or moved and its event order has not been carried over yet; its operators have been told",
                headers: [.retryAfter: "60"]
            )
        case let error as EventStoreError:
            if case .conditionFailed = error {
                // Institutions the command names kept changing while it was decided again.
                return Problem(.conflict, type: "urn:spona:problem:conflict", title: "Not possible now", detail: error.description)
            }
            return invalid(error.description)
        case let error as HTTPError:
            if error.status == .contentTooLarge {
                return Problem(
                    .contentTooLarge,
                    type: "urn:spona:problem:too-large",
                    title: "Request body too large",
                    detail: "The body is larger than this server accepts (1 MiB)."
                )
            }
            return Problem(error.status, detail: error.body)
        case let error as PostgresTransactionError where error.beginError == nil && error.commitError == nil && error.rollbackError == nil:
            // The work inside the transaction failed: answer for what it threw.
            guard let closureError = error.closureError else { return databaseUnavailable }
            return from(closureError) ?? (DatabaseOutage.matches(closureError) ? databaseUnavailable : nil)
        case _ where DatabaseOutage.matches(error):
            return databaseUnavailable
        case let error as any HTTPResponseError:
            return Problem(error.status)
        default:
            return nil
        }
    }
}

/// Turns every error into problem details, so no client ever sees a bare 500 or an HTML page.
/// Unknown errors are logged by kind only (their text may quote SQL parameters) and answered
/// with a generic 500.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let problem = Problem.from(error) {
                return try problem.response(from: request, context: context)
            }
            if DatabaseOutage.matches(error) {
                return try Problem.databaseUnavailable.response(from: request, context: context)
            }
            context.logger.error("request failed", metadata: ["error.type": "\(type(of: error))"])
            return try Problem(.internalServerError, detail: "The server could not complete the request; it has been logged.")
                .response(from: request, context: context)
        }
    }
}

extension Problem {
    /// The caller may not do or see this: one problem type for every refusal of a right.
    static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, type: "urn:spona:problem:forbidden", title: "Not allowed", detail: detail)
    }

    /// A server that has just started, whose read models have not reached the history it found.
    /// One of the sliding-window limits was reached: 429, and when to try again.
    static func rateLimited(_ title: String, _ detail: String, retryAfter seconds: Int) -> Problem {
        Problem(.tooManyRequests, type: "urn:spona:problem:rate-limited", title: title, detail: detail, headers: [.retryAfter: "\(seconds)"])
    }

    static func schemaBehind(applied: Int, required: Int) -> Problem {
        Problem(
            .serviceUnavailable,
            type: "urn:spona:problem:schema-behind",
            title: "Database schema behind this server",
            detail: "the database's schema is at migration \(applied) and this server needs \(required): run `spona migrate` with the owner's login",
            headers: [.retryAfter: "30"]
        )
    }

    /// `heldBy`: the transaction keeping the read horizon before the history's head, if any —
    /// then catching up waits on it, not on this server.
    static func catchingUp(_ projections: [String], heldBy holder: ReadHorizon.Holder? = nil) -> Problem {
        var detail = "the read models (\(projections.joined(separator: ", "))) are catching up with the history as it was when this server started"
        if let holder {
            detail += "; they cannot pass events committed behind a transaction still open in the cluster (\(holder))"
        }
        return Problem(
            .serviceUnavailable,
            type: "urn:spona:problem:catching-up",
            title: "Catching up",
            detail: detail,
            headers: [.retryAfter: "5"]
        )
    }
}

/// Refuses (503) when one of `projections` stands still at an event (``Problem/viewStopped(_:)``)
/// or is being rebuilt after an upgrade.
func requireLive(_ projections: [String], database: PostgresClient, logger: Logger) async throws {
    let stopped = try await ProjectionFailures.all(client: database, logger: logger)
    if let failure = projections.lazy.compactMap({ stopped[$0] }).first { throw Problem.viewStopped(failure) }
    if let rebuilding = try await ProjectionStatus.rebuilding(projections, client: database, logger: logger).first {
        throw Problem(
            .serviceUnavailable,
            type: "urn:spona:problem:view-rebuilding",
            title: "View rebuilding",
            detail:
                "the view '\(rebuilding)' is being folded again from the whole history after an upgrade changed it; it answers again when that has caught up",
            headers: [.retryAfter: "30"]
        )
    }
}
