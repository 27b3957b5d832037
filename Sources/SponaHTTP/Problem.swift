import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

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

/// Turns every error that is not already a ``Problem`` into one, so no client ever sees a
/// bare 500 or an HTML page. Unknown errors are logged by kind only (their text may quote SQL
/// parameters) and answered with a generic 500.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return try problem.response(from: request, context: context)
        } catch let error as HTTPError {
            return try Problem(error.status, detail: error.body).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            return try Problem(error.status).response(from: request, context: context)
        } catch {
            context.logger.error("request failed", metadata: ["error.type": "\(type(of: error))"])
            return try Problem(.internalServerError, detail: "The server could not complete the request; it has been logged.")
                .response(from: request, context: context)
        }
    }
}
