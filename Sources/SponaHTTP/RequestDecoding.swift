import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SponaApplication
import SponaRecords

/// How every route reads its JSON body (Hummingbird's `RequestDecoder`, set on
/// ``SponaRequestContext``; routes call `request.decode(as:context:)`), saying precisely what is
/// wrong with a bad one: 415 for another media type, 413 over the context's upload limit, 400
/// for text that is not JSON, 422 naming the field for JSON of the wrong shape (wrong type,
/// missing field, unknown value) or out of bounds (``InputBounds``). An empty body reads as `{}`.
public struct SponaRequestDecoder: RequestDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        var data = Data(buffer: buffer)
        if data.isEmpty {
            data = Data("{}".utf8)
        } else if let contentType = request.headers[.contentType],
            !contentType.lowercased().hasPrefix("application/json")
        {
            throw Problem(
                .unsupportedMediaType,
                type: "urn:spona:problem:media-type",
                title: "Unsupported media type",
                detail: "send the body as application/json"
            )
        } else if request.headers[.contentType] == nil {
            throw Problem(
                .unsupportedMediaType,
                type: "urn:spona:problem:media-type",
                title: "Unsupported media type",
                detail: "send Content-Type: application/json with the body"
            )
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw Problem.badRequest("the body is not valid JSON")
        }
        if let problem = InputBounds.violation(in: parsed) { throw Problem.invalid(problem) }
        do {
            return try EventCoding.decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw Problem.invalid(JSONBody.describe(error))
        }
    }
}

/// Words for what is wrong with a body's shape.
enum JSONBody {
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ last: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (last.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "the body" : text)
        }
        switch error {
        case let .keyNotFound(key, context):
            return "field '\(path(context, key))' is missing"
        case let .valueNotFound(_, context):
            return "field '\(path(context))' must not be null"
        case let .typeMismatch(type, context):
            return "field '\(path(context))' must be \(describe(type))"
        case let .dataCorrupted(context):
            let reason = context.debugDescription
            if let range = reason.range(of: "invalid String value ") {
                return "field '\(path(context))': '\(reason[range.upperBound...])' is not an accepted value"
            }
            return "field '\(path(context))': \(reason)"
        @unknown default:
            return "the body does not have the expected shape"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: "a whole number"
        case is Bool.Type: "true or false"
        case is Double.Type: "a number"
        default: "\(type)".contains("Array") ? "an array" : (("\(type)".contains("Dictionary")) ? "an object" : "of another type")
        }
    }
}

extension Request {
    /// The `If-Match` version: `"7"`, `W/"7"` or `7`.
    func ifMatchVersion() throws -> Int64? {
        guard let value = headers[.ifMatch]?.trimmingCharacters(in: .whitespaces) else { return nil }
        var text = Substring(value)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        text =
            text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).isEmpty
            ? text : Substring(text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        guard let version = Int64(text), version >= 0 else {
            throw Problem.badRequest("If-Match must be the case's ETag, e.g. \"7\"")
        }
        return version
    }

    /// The client's `Idempotency-Key`, if any: 1 to 200 visible ASCII characters.
    func idempotencyKey() throws -> String? {
        guard let key = headers[HTTPField.Name("Idempotency-Key")!] else { return nil }
        guard (1...200).contains(key.count), key.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw Problem.badRequest("Idempotency-Key must be 1 to 200 visible ASCII characters")
        }
        return key
    }
}

/// Every POST of the API takes an `Idempotency-Key` (400 without one): a client that lost the
/// answer to a report must be able to send it again without filing a second case. On-demand
/// seals are the one exception: sealing twice is harmless and seals carry on from each other.
struct IdempotencyKeyRequired<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post, request.headers[HTTPField.Name("Idempotency-Key")!] == nil, !request.uri.path.hasSuffix("/audit/seals") {
            throw Problem(
                .badRequest,
                type: "urn:spona:problem:idempotency-key-required",
                title: "Idempotency-Key required",
                detail:
                    "send an Idempotency-Key header (1 to 200 visible ASCII characters, e.g. a new UUID) with every POST; send the same one again when you retry"
            )
        }
        return try await next(request, context)
    }
}
