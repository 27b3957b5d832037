import Foundation
import HTTPTypes
import Testing
import Yams

@testable import SponaHTTP

/// (Immutable after loading, hence @unchecked Sendable: it holds the parsed document.)
/// Holds every response an HTTP test receives to the OpenAPI document: its status must be one
/// the operation documents, and a JSON body must match the documented schema. So the document
/// cannot drift from what the server answers, field by field.
final class ContractCheck: @unchecked Sendable {
    static let shared = ContractCheck()

    /// The document as plain values (Yams), for walking schemas and following `$ref`s.
    let document: [String: Any]
    /// (method, path template split into segments, operation)
    let operations: [(method: String, segments: [String], operation: [String: Any])]

    private init() {
        let loaded = (try? Yams.load(yaml: OpenAPIDocument.yaml)) as? [String: Any] ?? [:]
        document = loaded
        var operations: [(String, [String], [String: Any])] = []
        for (path, item) in loaded["paths"] as? [String: Any] ?? [:] {
            for (method, operation) in item as? [String: Any] ?? [:] {
                guard let operation = operation as? [String: Any] else { continue }
                operations.append((method.uppercased(), path.split(separator: "/").map(String.init), operation))
            }
        }
        // Literal segments before parameters: /v1/views/municipalities before /v1/views/{x}.
        self.operations = operations.sorted { $0.1.filter { $0.hasPrefix("{") }.count < $1.1.filter { $0.hasPrefix("{") }.count }
    }

    /// Problems of a response to `method path` (empty when it keeps the contract).
    func problems(method: String, path: String, status: Int, contentType: String?, body: Data) -> [String] {
        let segments = (path.split(separator: "?").first.map(String.init) ?? path).split(separator: "/").map(String.init)
        // The dashboard's pages are HTML for browsers, not operations of the API's document.
        if segments.first == "dashboard" { return [] }
        guard
            let operation = operations.first(where: { candidate in
                candidate.method == method && candidate.segments.count == segments.count
                    && zip(candidate.segments, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
            })?.operation
        else {
            return ["\(method) \(path) is not in the document"]
        }
        let responses = operation["responses"] as? [String: Any] ?? [:]
        guard var response = (responses[String(status)] ?? responses["default"]) as? [String: Any] else {
            return ["\(method) \(path) answered \(status), which the document does not list (\(responses.keys.sorted().joined(separator: ", ")))"]
        }
        response = resolve(response)
        guard let type = contentType?.split(separator: ";").first.map(String.init),
            type == "application/json" || type == "application/problem+json"
        else { return [] }
        guard let content = (response["content"] as? [String: Any])?[type] as? [String: Any] else {
            return ["\(method) \(path) \(status): the document gives no \(type) body"]
        }
        guard let schema = content["schema"] as? [String: Any] else { return [] }
        guard let value = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            return ["\(method) \(path) \(status): the body is not JSON"]
        }
        return validate(value, schema, at: "").map { "\(method) \(path) \(status): \($0)" }
    }

    func resolve(_ node: [String: Any]) -> [String: Any] {
        guard let reference = node["$ref"] as? String, reference.hasPrefix("#/") else { return node }
        var current: Any = document
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = (current as? [String: Any])?[String(part)] else { return node }
            current = next
        }
        var resolved = resolve(current as? [String: Any] ?? [:])
        for (key, value) in node where key != "$ref" { resolved[key] = value }
        return resolved
    }

    /// JSON Schema, the part of it the document uses.
    func validate(_ value: Any, _ raw: [String: Any], at pointer: String) -> [String] {
        let schema = resolve(raw)
        let here = pointer.isEmpty ? "the body" : pointer
        if let all = schema["allOf"] as? [[String: Any]] {
            return all.flatMap { validate(value, $0, at: pointer) }
        }
        if let one = (schema["oneOf"] ?? schema["anyOf"]) as? [[String: Any]] {
            if !one.contains(where: { validate(value, $0, at: pointer).isEmpty }) {
                return ["\(here) matches none of its alternatives: \(String(describing: value).prefix(120))"]
            }
        }
        if let options = schema["enum"] as? [Any], !options.contains(where: { "\($0)" == "\(value)" }) {
            return ["\(here) is \(value), not one of \(options)"]
        }
        var types: [String] = []
        if let type = schema["type"] as? String { types = [type] } else if let list = schema["type"] as? [String] { types = list }
        if !types.isEmpty, !types.contains(where: { Self.isOf($0, value) }) {
            return ["\(here) should be \(types.joined(separator: " or ")), is \(String(describing: value).prefix(80))"]
        }
        var problems: [String] = []
        if let object = value as? [String: Any], !(value is NSNull) {
            for name in schema["required"] as? [String] ?? [] where object[name] == nil {
                problems.append("\(here) lacks required '\(name)'")
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            for (name, member) in object {
                if let property = properties[name] as? [String: Any] {
                    problems += validate(member, property, at: "\(pointer)/\(name)")
                } else if let additional = schema["additionalProperties"] as? [String: Any] {
                    problems += validate(member, additional, at: "\(pointer)/\(name)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(here) has '\(name)', which the document does not allow")
                }
            }
        }
        if let array = value as? [Any], let items = schema["items"] as? [String: Any] {
            for (index, item) in array.enumerated().prefix(50) { problems += validate(item, items, at: "\(pointer)/\(index)") }
        }
        if let number = value as? NSNumber, !Self.isOf("boolean", value) {
            if let minimum = schema["minimum"] as? Double ?? (schema["minimum"] as? Int).map(Double.init), number.doubleValue < minimum {
                problems.append("\(here) is \(number), below \(minimum)")
            }
            if let maximum = schema["maximum"] as? Double ?? (schema["maximum"] as? Int).map(Double.init), number.doubleValue > maximum {
                problems.append("\(here) is \(number), above \(maximum)")
            }
        }
        if let text = value as? String, let pattern = schema["pattern"] as? String,
            text.range(of: pattern, options: .regularExpression) == nil
        {
            problems.append("\(here) '\(text.prefix(60))' does not match \(pattern)")
        }
        return problems
    }

    static func isOf(_ type: String, _ value: Any) -> Bool {
        switch type {
        case "null": return value is NSNull
        // JSONSerialization gives booleans as a class of their own, and `1 is Bool` holds.
        case "boolean": return String(describing: Swift.type(of: value)).contains("Boolean") || Swift.type(of: value) == Bool.self
        case "integer":
            guard let number = value as? NSNumber, !isOf("boolean", value) else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        case "number": return value is NSNumber && !isOf("boolean", value)
        case "string": return value is String
        case "array": return value is [Any]
        case "object": return value is [String: Any]
        default: return true
        }
    }
}
