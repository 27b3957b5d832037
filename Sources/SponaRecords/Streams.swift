import Foundation
import SponaDomain
import SponaEventStore

/// How the domain's things map to the store's streams. The one place that knows the names.
public enum Streams {
    public static func `case`(_ id: CaseID) -> StreamID { StreamID(stringLiteral: "case-\(id)") }
    public static func institution(_ id: InstitutionID) -> StreamID { StreamID(stringLiteral: "institution-\(id)") }
    public static func training(_ id: TrainingID) -> StreamID { StreamID(stringLiteral: "training-\(id)") }
    /// The read trail of one case: who read it, when, why.
    public static func access(_ id: CaseID) -> StreamID { StreamID(stringLiteral: "access-case-\(id)") }

    /// The categories of these streams (``StreamID/category``), for readers that fold only some.
    public enum Category {
        public static let cases = "case"
        public static let institutions = "institution"
        public static let trainings = "training"
        /// The read trail: never folded by a view.
        public static let access = "access"
    }

    /// The case a stream belongs to, if it is a case stream.
    public static func caseID(of stream: StreamID) -> CaseID? {
        guard stream.rawValue.hasPrefix("case-") else { return nil }
        return CaseID(String(stream.rawValue.dropFirst(5)))
    }

    public static func trainingID(of stream: StreamID) -> TrainingID? {
        guard stream.rawValue.hasPrefix("training-") else { return nil }
        return TrainingID(String(stream.rawValue.dropFirst(9)))
    }

    public static func institutionID(of stream: StreamID) -> InstitutionID? {
        guard stream.rawValue.hasPrefix("institution-") else { return nil }
        return InstitutionID(String(stream.rawValue.dropFirst(12)))
    }
}

/// Who did it, on whose behalf, in answer to what: stored with every event (never personal
/// data of the people in cases).
public struct CommandMetadata: Codable, Hashable, Sendable {
    public var actor: String
    /// The person's name when the actor is a person signed in at the identity provider.
    public var actorName: String?
    public var institution: InstitutionID
    public var role: Role
    public var requestID: String
    public var correlationID: String
    public var causationID: String?
    public var client: String?
    /// When the fact happened in the world, if that was before it was recorded: a history
    /// written after the fact (`spona demo`, an import of paper records). Views and case
    /// dates count by it; the recorded time stays what the store says. Never set from HTTP,
    /// so nobody can backdate a report through the API.
    public var occurredAt: Date?

    public init(
        actor: Actor,
        requestID: String,
        correlationID: String? = nil,
        causationID: String? = nil,
        client: String? = nil,
        occurredAt: Date? = nil
    ) {
        self.actor = actor.id
        self.actorName = actor.name
        self.institution = actor.institution
        self.role = actor.role
        self.requestID = requestID
        self.correlationID = correlationID ?? requestID
        self.causationID = causationID
        self.client = client
        self.occurredAt = occurredAt
    }
}

/// The coding of payloads and metadata: sorted keys, so equal values give equal bytes, and
/// ISO 8601 dates.
public enum EventCoding {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ISO8601.string(from: date))
        }
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = ISO8601.date(from: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 8601 date-time"))
            }
            return date
        }
        return decoder
    }()

    public static func metadata(_ metadata: CommandMetadata) throws -> EventMetadata {
        EventMetadata(json: try encoder.encode(metadata))
    }

    /// The payload of `recorded` as `T`, upcast from the version it was written in.
    public static func decode<T: Decodable>(_ type: T.Type, _ recorded: RecordedEvent, schemas: EventSchemas) throws -> T {
        try decoder.decode(T.self, from: try schemas.upcast(type: recorded.type, version: recorded.schemaVersion, payload: recorded.payload))
    }

    public static func caseEvents(_ recorded: [RecordedEvent]) throws -> [(event: CaseEvent, at: Date)] {
        try recorded.map {
            (try CaseEvent(typeName: $0.type, schemaVersion: $0.schemaVersion, payload: $0.payload, decoder: decoder), occurredAt(of: $0))
        }
    }

    /// When the event's fact happened: the metadata's `occurredAt` if it has one, else the
    /// time it was recorded. Looks for the key before decoding, since almost no event has it.
    public static func occurredAt(of recorded: RecordedEvent) -> Date {
        guard let key = recorded.metadata.range(of: occurredAtKey) else { return recorded.recordedAt }
        // The stored form is PostgreSQL's jsonb text, `"occurredAt": "2024-03-01T10:00:00Z"`:
        // read the string in place (a rebuild does this for every event), else decode.
        let bytes = recorded.metadata
        var index = key.upperBound
        while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ":") { index += 1 }
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "\""),
            let end = bytes[(index + 1)...].firstIndex(of: UInt8(ascii: "\"")),
            let time = ISO8601.date(from: String(decoding: bytes[(index + 1)..<end], as: UTF8.self))
        {
            return time
        }
        return (try? decoder.decode(OccurredAt.self, from: bytes).occurredAt) ?? recorded.recordedAt
    }

    private static let occurredAtKey = Data("\"occurredAt\"".utf8)
    private struct OccurredAt: Decodable { var occurredAt: Date? }
}

/// ISO 8601 with optional fractional seconds, as clients send and the API answers (UTC).
public enum ISO8601 {
    static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    static let plain = Date.ISO8601FormatStyle()

    public static func string(from date: Date) -> String {
        date.formatted(withFraction)
    }

    public static func date(from text: String) -> Date? {
        if let date = canonical(text) { return date }
        return (try? withFraction.parse(text)) ?? (try? plain.parse(text))
    }

    /// The form Spona itself writes — `2025-03-01T10:00:00Z`, milliseconds at most, UTC,
    /// after 2004 — read by arithmetic: a rebuild reads a time from every event, and
    /// Foundation's parser is thirty times slower. It answers exactly the `Date` Foundation
    /// gives, to the bit (``ISO8601Tests`` compares millions); anything else (offsets, a
    /// leniently rolled-over day such as 29 February 2023, a finer fraction or a time near 2001,
    /// where the two round differently) is left to Foundation, so nothing is read differently than before.
    static func canonical(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            let count = bytes.count
            func number(_ from: Int, _ length: Int) -> Int? {
                var value = 0
                for index in from..<(from + length) {
                    let digit = Int(bytes[index]) &- 48
                    guard (0...9).contains(digit) else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard count >= 20, count <= 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
                bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
                bytes[count - 1] == UInt8(ascii: "Z"),
                let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                (1...12).contains(month), day >= 1, day <= CivilCalendar.days(in: month, of: year),
                hour <= 23, minute <= 59, second <= 59
            else { return nil }
            var fraction = 0.0
            if count > 20 {
                let digits = count - 21
                guard bytes[19] == UInt8(ascii: "."), digits >= 1, var nanoseconds = number(20, digits) else { return nil }
                for _ in 0..<(9 - digits) { nanoseconds *= 10 }
                fraction = Double(nanoseconds) / 1_000_000_000
            }
            let sinceReference =
                CivilCalendar.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second - 978_307_200
            guard sinceReference >= 100_000_000 else { return nil }
            return Date(timeIntervalSinceReferenceDate: Double(sinceReference) + fraction)
        }
    }
}
