import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SponaApplication
import SponaDomain

/// Every request's context: who is calling (set by ``AuthenticationMiddleware``) and the
/// request id that every event written on its behalf carries.
public struct SponaRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller?
    /// The client's address (the proxy's, behind one): what failed sign-ins are counted by.
    public let remoteAddress: SocketAddress?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.caller = nil
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are read with an explicit limit (``ServerSettings/requestBodyLimit``) so an
    /// oversized one is a clean 413.
    public var maxUploadSize: Int { 1 << 20 }

    /// Bodies are read by ``SponaRequestDecoder``: every refusal a precise problem.
    public var requestDecoder: SponaRequestDecoder { SponaRequestDecoder() }

    /// Answers are written by ``SponaResponseEncoder``.
    public var responseEncoder: SponaResponseEncoder { SponaResponseEncoder() }

    public var requestIDText: String { id }

    /// The caller, for routes behind authentication.
    public func requireCaller() throws -> Caller {
        guard let caller else { throw Problem.unauthorized("send Authorization: Bearer <token>") }
        return caller
    }

    /// The caller, for a route under `/v1/cases/{case}`: roles that never see a case (analysts,
    /// admins) are told it does not exist, like anyone else who is not a party; auditors, who
    /// see cases but never act on them, are refused.
    public func requireCaseRole(_ roles: Role...) throws -> Caller {
        let caller = try requireCaller()
        if roles.contains(caller.actor.role) { return caller }
        if caller.actor.role == .auditor {
            throw Problem.forbidden("the auditor role may not do this")
        }
        throw CaseError.caseNotFound
    }

    /// The caller, if their role is one of `roles`.
    public func requireRole(_ roles: Role...) throws -> Caller {
        let caller = try requireCaller()
        guard roles.contains(caller.actor.role) else {
            throw Problem.forbidden("the \(caller.actor.role.rawValue) role may not do this")
        }
        return caller
    }
}

/// Takes the request id from the proxy's `X-Request-ID` when it is well formed (1 to 128 of
/// letters, digits and `. _ : -`: never a sentence about anyone), so that a request can be
/// followed from the proxy's log to the server's and to the events it wrote; returns it on
/// every answer, errors included.
struct RequestIDMiddleware: RouterMiddleware {
    func handle(
        _ request: Request,
        context: SponaRequestContext,
        next: (Request, SponaRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let given = request.headers[.requestID], Self.isWellFormed(given) {
            context.logger[metadataKey: "hb.request.id"] = .string(given)
        }
        var response = try await next(request, context)
        response.headers[.requestID] = context.requestIDText
        return response
    }

    static func isWellFormed(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count)
            && id.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "._:-".unicodeScalars.contains($0))
            }
    }
}

/// The headers of Spona's own the edge reads or writes.
extension HTTPField.Name {
    /// Why personal data is read (`GET /v1/cases/{case}/personal-data`), percent-encoded.
    static let sponaReadReason = HTTPField.Name("Spona-Read-Reason")!
    /// The request's id: taken from the proxy when it sends a well-formed one, else made
    /// here; returned on every answer and carried by every event the request writes.
    static let requestID = HTTPField.Name("X-Request-ID")!
}
