import Foundation

/// The shapes an event type has had, and how each past shape becomes the current one.
///
/// Events are never rewritten: a case filed in 2026 is read in 2040 from the bytes written in
/// 2026. So when an event type changes shape (a field added, renamed, split; an enum value
/// renamed), its version goes up and an *upcaster* turns the previous version's payload into the
/// new one, as a pure function on JSON. Decoding then always sees the current shape, and old
/// histories decode for ever. How to change an event is in the README ("Changing an event").
public struct EventSchemas: Sendable {
    /// Turns the payload of version `n` into the payload of version `n + 1`.
    public typealias Upcaster = @Sendable (JSONValue) throws -> JSONValue

    public struct Schema: Sendable {
        /// The version this code writes.
        public var current: Int32
        /// `upcasters[n]` reads version `n` and gives version `n + 1`, for every `n` below `current`.
        public var upcasters: [Int32: Upcaster]

        public init(current: Int32 = 1, upcasters: [Int32: Upcaster] = [:]) {
            self.current = current
            self.upcasters = upcasters
        }
    }

    /// Whose events these are (`case`, `institution`…), for messages.
    public let family: String
    public let schemas: [String: Schema]

    public init(family: String, _ schemas: [String: Schema]) {
        self.family = family
        self.schemas = schemas
    }

    public var types: [String] { schemas.keys.sorted() }

    /// The version this code writes for `type` (1 for a type it does not know, which it never writes).
    public func current(_ type: String) -> Int32 { schemas[type]?.current ?? 1 }

    /// Every (type, version) whose way to the current version is missing: must be empty.
    public var missingUpcasters: [(type: String, version: Int32)] {
        types.flatMap { type in
            let schema = schemas[type]!
            return (Int32(1)..<max(schema.current, 1)).filter { schema.upcasters[$0] == nil }.map { (type, $0) }
        }
    }

    /// The payload of a stored event in the current shape of its type: the stored bytes when
    /// they already are, else the result of every upcaster from their version on.
    public func upcast(type: String, version: Int32, payload: Data) throws(EventSchemaError) -> Data {
        guard let schema = schemas[type] else { throw .unknownType(family: family, type: type) }
        if version == schema.current { return payload }
        guard version >= 1 else { throw .unknownVersion(type: type, version: version) }
        guard version < schema.current else {
            throw .writtenByNewerCode(type: type, version: version, known: schema.current)
        }
        var value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: payload)
        } catch {
            throw .upcastFailed(type: type, version: version, reason: "the payload is not JSON")
        }
        for step in version..<schema.current {
            guard let upcaster = schema.upcasters[step] else { throw .missingUpcaster(type: type, version: step) }
            do {
                value = try upcaster(value)
            } catch {
                throw .upcastFailed(type: type, version: step, reason: "\(error)")
            }
        }
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw .upcastFailed(type: type, version: version, reason: "\(error)")
        }
    }
}

public enum EventSchemaError: Error, Equatable, CustomStringConvertible {
    case unknownType(family: String, type: String)
    case unknownVersion(type: String, version: Int32)
    /// A newer Spona wrote this event (an upgrade rolled back): this code must not guess its shape.
    case writtenByNewerCode(type: String, version: Int32, known: Int32)
    case missingUpcaster(type: String, version: Int32)
    case upcastFailed(type: String, version: Int32, reason: String)

    public var description: String {
        switch self {
        case let .unknownType(family, type): "'\(type)' is not a \(family) event type"
        case let .unknownVersion(type, version): "\(type) has no schema version \(version)"
        case let .writtenByNewerCode(type, version, known):
            "\(type) version \(version) was written by a newer Spona (this one reads up to version \(known)); upgrade before reading this history"
        case let .missingUpcaster(type, version): "\(type) version \(version) has no upcaster to version \(version + 1)"
        case let .upcastFailed(type, version, reason): "\(type) version \(version) could not be upcast: \(reason)"
        }
    }
}

/// JSON as a value, for upcasters to rewrite: integers stay exact, every other number is a
/// `Double`.
public enum JSONValue: Hashable, Sendable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object (nil for anything else).
    public subscript(key: String) -> JSONValue? {
        get { if case .object(let members) = self { members[key] } else { nil } }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }
}
