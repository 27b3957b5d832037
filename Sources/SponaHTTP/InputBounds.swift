import Foundation
import Hummingbird

/// The bounds every value a client sends must keep, whatever the route: what reaches the
/// history stays there for ever, so a value no reader can handle must never get in.
///
/// Text: no NUL and no other control character (tab, line feed and carriage return are allowed
/// in bodies, where notes and narratives have lines; none in query parameters), at most
/// ``maxTextCharacters`` characters. Numbers: within ``numberRange``, so that no sum a reader
/// makes of them can overflow. Arrays: at most ``maxArrayItems`` items. Each route's fields
/// have tighter bounds of their own (the OpenAPI document gives them); these are the floor
/// under all of them, including fields added later.
enum InputBounds {
    static let maxTextCharacters = 20_000
    static let maxQueryCharacters = 1_000
    static let maxArrayItems = 1_000
    static let numberRange: ClosedRange<Double> = -1_000_000_000...1_000_000_000

    /// The first value of a parsed JSON body outside the bounds, as a sentence naming its field.
    static func violation(in value: Any, path: String = "") -> String? {
        let name = path.isEmpty ? "the body" : "field '\(path)'"
        switch value {
        case let text as String:
            return textViolation(text, allowingLines: true).map { "\(name) \($0)" }
        case let object as [String: Any]:
            for (key, item) in object {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if let problem = textViolation(key, allowingLines: false) { return "a field name \(problem)" }
                if let problem = violation(in: item, path: child) { return problem }
            }
            return nil
        case let array as [Any]:
            guard array.count <= maxArrayItems else { return "\(name) has more than \(maxArrayItems) items" }
            for (index, item) in array.enumerated() {
                if let problem = violation(in: item, path: "\(path)[\(index)]") { return problem }
            }
            return nil
        case let number as NSNumber:
            // Booleans arrive as NSNumber too; they have no range.
            let kind = String(cString: number.objCType)
            if kind == "c" || kind == "B" { return nil }
            let double = number.doubleValue
            guard double.isFinite, numberRange.contains(double) else {
                return "\(name) must be between \(Int(numberRange.lowerBound)) and \(Int(numberRange.upperBound))"
            }
            return nil
        default:
            return nil
        }
    }

    /// Why `text` is refused, or nil.
    static func textViolation(_ text: some StringProtocol, allowingLines: Bool, limit: Int = maxTextCharacters) -> String? {
        for scalar in text.unicodeScalars where isControl(scalar, allowingLines: allowingLines) {
            return scalar.value == 0
                ? "must not contain a NUL character"
                : String(format: "must not contain the control character U+%04X", scalar.value)
        }
        // Characters as a person counts them (grapheme clusters), cheaply bounded first by
        // scalars: a text of fewer scalars than the limit has fewer characters too.
        if text.unicodeScalars.count > limit, text.count > limit { return "is longer than \(limit) characters" }
        return nil
    }

    static func isControl(_ scalar: Unicode.Scalar, allowingLines: Bool) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: !allowingLines
        case 0x00...0x1F, 0x7F...0x9F: true
        // Noncharacters and the byte-order mark: never text a person wrote.
        case 0xFFFE, 0xFFFF, 0xFEFF: true
        default: false
        }
    }
}

/// Refuses, before any route sees them, query parameters (422 naming the parameter) and paths
/// (404: nothing is named so) with control characters or of unreasonable length: PostgreSQL refuses NUL in text, and
/// nothing good comes of the others.
struct InputBoundsMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if let problem = InputBounds.textViolation(path.removingPercentEncoding ?? path, allowingLines: false, limit: InputBounds.maxQueryCharacters)
        {
            // No resource is named so: the same 404 as any other path that names nothing.
            throw Problem(.notFound, type: "urn:spona:problem:not-found", title: "Not found", detail: "the path \(problem)")
        }
        for (name, value) in request.uri.queryParameters {
            if let problem = InputBounds.textViolation(name, allowingLines: false, limit: 100) {
                throw Problem.invalid("a query parameter's name \(problem)")
            }
            if let problem = InputBounds.textViolation(value, allowingLines: false, limit: InputBounds.maxQueryCharacters) {
                throw Problem.invalid("query parameter '\(name)' \(problem)")
            }
        }
        return try await next(request, context)
    }
}
