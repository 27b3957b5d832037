import Foundation

/// A token's claims as the identity provider wrote them: any JSON, so that the claims Spona
/// maps (``ClaimMapping``) can be configured by path (`realm_access.roles`) without a type
/// per provider.
public enum ClaimValue: Sendable, Hashable, Decodable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([ClaimValue])
    case object([String: ClaimValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([ClaimValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: ClaimValue].self))
        }
    }

    /// The value at a dotted path (`realm_access.roles`); a claim whose own name holds a dot
    /// is found too, as providers sometimes name them so.
    public func value(at path: String) -> ClaimValue? {
        guard case .object(let members) = self else { return nil }
        if let direct = members[path] { return direct }
        guard let dot = path.firstIndex(of: ".") else { return nil }
        return members[String(path[..<dot])]?.value(at: String(path[path.index(after: dot)...]))
    }

    /// A string claim, or the strings of an array claim (other members ignored).
    var strings: [String] {
        switch self {
        case .string(let text): [text]
        case .array(let values): values.compactMap { if case .string(let text) = $0 { text } else { nil } }
        default: []
        }
    }

    var number: Double? { if case .number(let value) = self { value } else { nil } }
}
