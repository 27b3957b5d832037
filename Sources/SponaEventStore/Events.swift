import Foundation

/// The name of a stream: `case-<uuid>`, `institution-<uuid>`, `$access`, …
///
/// The store attaches no meaning to it; the layers above choose names. Limited to 200 UTF-8
/// bytes, the same bound the table enforces, so a bad name fails before a round trip.
public struct StreamID: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    public init(_ rawValue: String) throws(EventStoreError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 200 else {
            throw .invalidStreamID(rawValue)
        }
        self.rawValue = rawValue
    }

    /// For names written in code; a literal that breaks the rules is a programming error.
    public init(stringLiteral value: String) {
        precondition(!value.isEmpty && value.utf8.count <= 200, "invalid stream id literal")
        self.rawValue = value
    }

    /// The part before the first `-`: the kind of stream (`case`, `institution`, …).
    public var category: Substring {
        rawValue.split(separator: "-", maxSplits: 1).first ?? Substring(rawValue)
    }

    /// For names read back from the store, which enforced the rules when they were written.
    init(stored rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}

/// A stream an append's decision was read from, at the version it was read: the append
/// writes nothing if the stream has moved since (version 0: the stream had no events).
public struct StreamCondition: Hashable, Sendable {
    public var stream: StreamID
    public var version: Int64

    /// The database's bound, so that no append holds locks on an unbounded set of streams.
    public static let maximumPerAppend = 100

    public init(_ stream: StreamID, at version: Int64) {
        self.stream = stream
        self.version = version
    }
}

/// What the writer believes the stream's version to be. An append whose belief is wrong
/// writes nothing and fails with ``EventStoreError/versionConflict(stream:expected:actual:)``.
public enum ExpectedVersion: Hashable, Sendable, CustomStringConvertible {
    /// Append whatever the stream's version is.
    case any
    /// The stream must have no events yet.
    case noStream
    /// The stream's last event must have exactly this version (versions start at 1).
    case exactly(Int64)

    /// The SQL function's encoding: NULL for any, 0 for no stream, n otherwise.
    var databaseValue: Int64? {
        switch self {
        case .any: nil
        case .noStream: 0
        case .exactly(let version): version
        }
    }

    public var description: String {
        switch self {
        case .any: "any version"
        case .noStream: "no stream"
        case .exactly(let version): "version \(version)"
        }
    }
}

/// An event about to be written. The payload is JSON; its type and schema version say how to
/// read it back.
public struct EventData: Sendable, Hashable {
    public var id: UUID
    public var type: String
    public var schemaVersion: Int32
    /// UTF-8 JSON text.
    public var payload: Data

    public init(id: UUID = UUID(), type: String, schemaVersion: Int32 = 1, payload: Data) {
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
    }

    /// Encodes `value` as the payload, with sorted keys so equal commands give equal bytes.
    public init<Payload: Encodable>(id: UUID = UUID(), type: String, schemaVersion: Int32 = 1, encoding value: Payload) throws {
        self.init(id: id, type: type, schemaVersion: schemaVersion, payload: try JSONCoding.encoder.encode(value))
    }
}

/// Who wrote the events and why: one JSON object shared by every event of an append.
///
/// The store needs nothing of it; the application layer puts the actor, their institution and
/// role, the request, correlation and causation ids there.
public struct EventMetadata: Sendable, Hashable {
    /// UTF-8 JSON text of an object.
    public var json: Data

    public init(json: Data) { self.json = json }

    public init<Fields: Encodable>(encoding fields: Fields) throws {
        self.json = try JSONCoding.encoder.encode(fields)
    }

    public static let empty = EventMetadata(json: Data("{}".utf8))
}

/// An event as the store holds it.
public struct RecordedEvent: Sendable, Hashable {
    /// From a sequence: unique and increasing, but not in commit order. See ``EventCursor``.
    public var position: Int64
    public var transactionID: UInt64
    public var streamID: StreamID
    public var version: Int64
    public var id: UUID
    public var type: String
    public var schemaVersion: Int32
    /// PostgreSQL's normalised JSON text of the payload: the bytes the hash covers.
    public var payload: Data
    public var metadata: Data
    /// Microseconds since 1970-01-01 UTC, exactly as stored.
    public var recordedAtMicroseconds: Int64
    public var hash: [UInt8]

    public var recordedAt: Date {
        Date(timeIntervalSince1970: Double(recordedAtMicroseconds) / 1_000_000)
    }

    /// The cursor just after this event in the store's gap-safe order.
    public var cursor: EventCursor { EventCursor(transactionID: transactionID, position: position) }

    public func decodePayload<Payload: Decodable>(as type: Payload.Type) throws -> Payload {
        try JSONCoding.decoder.decode(type, from: payload)
    }

    public init(
        position: Int64,
        transactionID: UInt64,
        streamID: StreamID,
        version: Int64,
        id: UUID,
        type: String,
        schemaVersion: Int32,
        payload: Data,
        metadata: Data,
        recordedAtMicroseconds: Int64,
        hash: [UInt8]
    ) {
        self.position = position
        self.transactionID = transactionID
        self.streamID = streamID
        self.version = version
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.metadata = metadata
        self.recordedAtMicroseconds = recordedAtMicroseconds
        self.hash = hash
    }
}

/// A place in the store's gap-safe order of all events: (writing transaction id, position).
///
/// Positions come from a sequence and are taken before their transactions commit, so a reader
/// that only remembers "the last position I saw" skips a lower position committed later. The
/// store orders by transaction id first and reads only below the oldest running transaction,
/// so once a reader has passed a cursor nothing can appear behind it.
///
/// Opaque outside the store: its text form is `<transaction>-<position>`, meant to be handed
/// back unchanged.
public struct EventCursor: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let transactionID: UInt64
    public let position: Int64

    public init(transactionID: UInt64, position: Int64) {
        self.transactionID = transactionID
        self.position = position
    }

    /// Before every event.
    public static let start = EventCursor(transactionID: 0, position: 0)

    public init(parsing text: String) throws(EventStoreError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let transaction = UInt64(parts[0]), let position = Int64(parts[1]), position >= 0 else {
            throw .invalidCursor(text)
        }
        self.init(transactionID: transaction, position: position)
    }

    public var description: String { "\(transactionID)-\(position)" }

    public static func < (lhs: EventCursor, rhs: EventCursor) -> Bool {
        (lhs.transactionID, lhs.position) < (rhs.transactionID, rhs.position)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What an append did.
public struct AppendResult: Sendable, Hashable {
    /// The stream's version after the append.
    public var streamVersion: Int64
    /// The positions of the appended events, in order.
    public var positions: [Int64]
    public var recordedAtMicroseconds: Int64
    /// True when the idempotency key had been seen with the same request: nothing was written
    /// now, and this is the first append's result.
    public var wasDuplicate: Bool

    public init(streamVersion: Int64, positions: [Int64], recordedAtMicroseconds: Int64, wasDuplicate: Bool) {
        self.streamVersion = streamVersion
        self.positions = positions
        self.recordedAtMicroseconds = recordedAtMicroseconds
        self.wasDuplicate = wasDuplicate
    }
}

/// An earlier append made with an idempotency key.
public struct PreviousAppend: Sendable, Hashable {
    public var stream: StreamID
    public var requestHash: Data
    public var result: AppendResult
}

/// The store's refusals, each with a message a person can act on.
public enum EventStoreError: Error, Hashable, CustomStringConvertible {
    /// The writer expected one version and the stream is at another. Nothing was written.
    case versionConflict(stream: StreamID, expected: ExpectedVersion, actual: Int64)
    /// The idempotency key was first used for a different request. Nothing was written.
    case idempotencyKeyReused(key: String)
    /// A stream the decision was read from moved before the append (see
    /// ``StreamCondition``). Nothing was written.
    case conditionFailed(stream: StreamID, expected: Int64, actual: Int64)
    /// More than ``StreamCondition/maximumPerAppend`` conditions.
    case tooManyConditions
    case noEvents
    case invalidStreamID(String)
    case invalidEventType(String)
    case invalidJSON(what: String)
    case invalidCursor(String)
    case invalidIdempotencyKey
    /// The last seal cannot be carried on from: its frontier does not give its root, or its
    /// signature is not this server's. Run `spona audit verify`.
    case corruptSeal(version: Int64)
    /// The cluster's transaction counter is behind the stored history (a restore or a move) and
    /// no new era of the order has begun: nothing is written until `spona migrate` (or a
    /// server's start) begins one. See ``EventOrder``.
    case orderUntrusted

    public var description: String {
        switch self {
        case let .versionConflict(stream, expected, actual):
            let actualText = actual == 0 ? "has no events" : "is at version \(actual)"
            return "stream \(stream) \(actualText), but the writer expected \(expected); reload it and try again"
        case .idempotencyKeyReused:
            return "this idempotency key was already used for a different request; use a new key for a new request"
        case let .conditionFailed(stream, expected, actual):
            return "stream \(stream) moved from version \(expected) to \(actual) while the decision was taken; decide again"
        case .tooManyConditions:
            return "an append may rest on at most \(StreamCondition.maximumPerAppend) other streams"
        case .noEvents:
            return "an append needs at least one event"
        case .invalidStreamID:
            return "a stream id must be 1 to 200 bytes of text"
        case .invalidEventType:
            return "an event type must be 1 to 200 bytes of text"
        case .invalidJSON(let what):
            return "the \(what) is not valid JSON"
        case .invalidCursor(let text):
            return "'\(text.prefix(60))' is not a cursor of this store (expected <transaction>-<position>)"
        case .invalidIdempotencyKey:
            return "an idempotency key must be 1 to 300 bytes of text"
        case .corruptSeal(let version):
            return
                "seal \(version) cannot be carried on from: its frontier does not give its root or its signature is not this key's; run spona audit verify"
        case .orderUntrusted:
            return
                "the event order cannot be trusted: this database's transaction counter is behind its stored history (restored or moved?); run spona migrate"
        }
    }
}

/// Sorted keys and no escaped slashes: equal values give equal bytes, which idempotency
/// relies on.
enum JSONCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
