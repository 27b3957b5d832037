import Foundation
import NIOCore
import PostgresNIO

/// An event as auditors receive it: with the hash of the event before it in its stream, so
/// that each line of an export can be checked on its own and a partial export still anchors
/// every chain it holds.
public struct AuditedEvent: Sendable, Hashable {
    public var event: RecordedEvent
    public var previousHash: [UInt8]?

    public init(event: RecordedEvent, previousHash: [UInt8]?) {
        self.event = event
        self.previousHash = previousHash
    }
}

/// Which events an auditor asks for; nil means any.
public struct AuditFilter: Sendable, Hashable {
    /// A stream category: the part of the stream id before its first `-` (`case`, `access`, `seals`).
    public var category: String?
    public var types: [String]
    public var from: Date?
    public var to: Date?
    /// Metadata fields that must have these values (`{"actor": "…"}`).
    public var metadata: [String: String]

    public init(category: String? = nil, types: [String] = [], from: Date? = nil, to: Date? = nil, metadata: [String: String] = [:]) {
        self.category = category
        self.types = types
        self.from = from
        self.to = to
        self.metadata = metadata
    }
}

extension PostgresEventStore {
    /// Every event `filter` selects, in the gap-safe order, as audit lines (``AuditLine``),
    /// handed to `write` a page at a time. The next page is read (on another connection)
    /// while this one is formatted and written, so an export runs at about the pace of the
    /// slower of the two. Returns how many events were written.
    ///
    /// Each line carries its stream's previous hash. Looking it up row by row cost the
    /// database half again the raw read; instead the export remembers the last hash of each
    /// stream it wrote (at most `rememberedStreams` of them, then it starts remembering
    /// afresh) and asks the database, once per page, only for those it does not know (a
    /// stream begun before a filtered export's first event, or forgotten). Memory: two pages
    /// and the remembered hashes (about 100 bytes a stream).
    public func exportAuditLines(
        filter: AuditFilter = AuditFilter(),
        pageSize: Int = 2000,
        rememberedStreams: Int = 500_000,
        write: (ByteBuffer) async throws -> Void
    ) async throws -> Int {
        var count = 0
        var buffer = ByteBuffer()
        var lastHash: [String: (version: Int64, hash: EventHash)] = [:]
        var page = try await exportPage(after: .start, limit: pageSize, filter: filter)
        while let last = page.last {
            async let nextPage = exportPage(after: last.cursor, limit: pageSize, filter: filter)
            if lastHash.count + page.count > rememberedStreams { lastHash.removeAll(keepingCapacity: true) }
            // Each row's previous hash from memory (its stream's last row written, in this page
            // or before); those neither knows are fetched at once.
            var previous = [EventHash?](repeating: nil, count: page.count)
            var missing: [(index: Int, stream: String, version: Int64)] = []
            for (index, row) in page.enumerated() {
                let known = lastHash.updateValue((row.version, row.hash), forKey: row.stream)
                guard row.version > 1 else { continue }
                if let known, known.version == row.version - 1 {
                    previous[index] = known.hash
                } else {
                    missing.append((index, row.stream, row.version - 1))
                }
            }
            if !missing.isEmpty {
                let fetched = try await hashes(of: missing.map { ($0.stream, $0.version) })
                for wanted in missing { previous[wanted.index] = fetched[StreamVersion(stream: wanted.stream, version: wanted.version)] }
            }
            buffer.clear()
            for (index, var row) in page.enumerated() {
                buffer.writeBuffer(&row.head)
                if let previous = previous[index] {
                    buffer.writeInteger(UInt8(ascii: "\""))
                    previous.writeHex(into: &buffer)
                    buffer.writeInteger(UInt8(ascii: "\""))
                } else {
                    buffer.writeString("null")
                }
                buffer.writeBuffer(&row.tail)
            }
            try await write(buffer)
            count += page.count
            page = try await nextPage
        }
        return count
    }

    /// An event of an export: its line as PostgreSQL wrote it, in two parts around the
    /// previous hash, which the export finds itself.
    struct ExportRow: Sendable {
        var cursor: EventCursor
        var stream: String
        var version: Int64
        var hash: EventHash
        var head: ByteBuffer
        var tail: ByteBuffer
    }

    /// A page of an export, each line written by PostgreSQL in ``AuditLine``'s form: the
    /// payload and metadata as the very jsonb text the hash covers, numbers, hex and names
    /// escaped by the database, so that the process only joins bytes (decoding every row into
    /// an event and formatting it again was most of an export's time).
    private func exportPage(after cursor: EventCursor, limit: Int, filter: AuditFilter) async throws -> [ExportRow] {
        var query = PostgresQuery(unsafeSQL: "")
        query.sql = """
            SELECT transaction_id::text::bigint, global_position, stream_id, stream_version, hash,
                   '{"cursor":"' || transaction_id::text || '-' || global_position || '","position":' || global_position
                   || ',"transactionId":' || transaction_id::text || ',"stream":' || to_json(stream_id)::text
                   || ',"version":' || stream_version || ',"id":"' || event_id::text || '","type":' || to_json(event_type)::text
                   || ',"schemaVersion":' || schema_version
                   || ',"recordedAt":"' || to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                   || '","recordedAtMicros":' || (extract(epoch FROM recorded_at) * 1000000)::bigint
                   || ',"hash":"' || encode(hash, 'hex') || '","previousHash":',
                   ',"metadata":' || metadata::text || ',"payload":' || payload::text || E'}\n'
            \(Self.filteredPage)
            """
        try Self.bindFilter(&query, after: cursor, limit: limit, filter: filter)
        var page: [ExportRow] = []
        page.reserveCapacity(limit)
        for try await (transaction, position, stream, version, hash, head, tail) in try await client.query(query, logger: logger).decode(
            (Int64, Int64, String, Int64, ByteBuffer, ByteBuffer, ByteBuffer).self
        ) {
            page.append(
                ExportRow(
                    cursor: EventCursor(transactionID: UInt64(transaction), position: position),
                    stream: stream,
                    version: version,
                    hash: try EventHash(hash),
                    head: head,
                    tail: tail
                )
            )
        }
        return page
    }

    /// The rows of an audit page: after a cursor, below the read horizon, the filter's (bound
    /// by ``bindFilter(_:after:limit:filter:)``), in the gap-safe order.
    static let filteredPage = """
        FROM events
        WHERE (transaction_id, global_position) > ($1::xid8, $2)
          AND transaction_id < spona_read_horizon()
          AND ($3::text IS NULL OR stream_id = $3 OR stream_id LIKE $3 || '-%')
          AND (cardinality($4::text[]) = 0 OR event_type = ANY($4))
          AND ($5::timestamptz IS NULL OR recorded_at >= $5)
          AND ($6::timestamptz IS NULL OR recorded_at <= $6)
          AND ($8::jsonb IS NULL OR metadata @> $8::jsonb)
        ORDER BY events.transaction_id, events.global_position
        LIMIT $7
        """

    /// The filter's binds, $1 to $8, as the audit queries number them.
    static func bindFilter(_ query: inout PostgresQuery, after cursor: EventCursor, limit: Int, filter: AuditFilter) throws {
        query.binds.append(String(cursor.transactionID), context: .default)
        query.binds.append(cursor.position, context: .default)
        query.binds.append(filter.category, context: .default)
        query.binds.append(filter.types, context: .default)
        query.binds.append(filter.from, context: .default)
        query.binds.append(filter.to, context: .default)
        query.binds.append(Int64(max(0, limit)), context: .default)
        query.binds.append(
            filter.metadata.isEmpty ? nil : String(decoding: try JSONEncoder().encode(filter.metadata), as: UTF8.self),
            context: .default
        )
    }

    struct StreamVersion: Hashable {
        var stream: String
        var version: Int64
    }

    /// The hashes of these events, in one round trip.
    private func hashes(of events: [(stream: String, version: Int64)]) async throws -> [StreamVersion: EventHash] {
        guard !events.isEmpty else { return [:] }
        let rows = try await client.query(
            """
            SELECT e.stream_id, e.stream_version, e.hash FROM events e
            JOIN unnest(\(events.map(\.stream))::text[], \(events.map(\.version))::bigint[]) AS w(stream_id, stream_version)
              ON e.stream_id = w.stream_id AND e.stream_version = w.stream_version
            """,
            logger: logger
        )
        var found: [StreamVersion: EventHash] = [:]
        for try await (stream, version, hash) in rows.decode((String, Int64, ByteBuffer).self) {
            found[StreamVersion(stream: stream, version: version)] = try EventHash(hash)
        }
        return found
    }

    /// Events after `cursor` in the gap-safe order, each with its stream's previous hash,
    /// filtered; at most `limit`. Pages of a complete export are contiguous: an empty answer
    /// means nothing more below the read horizon.
    public func auditPage(after cursor: EventCursor, limit: Int, filter: AuditFilter = AuditFilter()) async throws -> [AuditedEvent] {
        var query = PostgresQuery(unsafeSQL: "")
        query.sql = """
            SELECT \(Self.eventColumns),
                   (SELECT p.hash FROM events p WHERE p.stream_id = events.stream_id AND p.stream_version = events.stream_version - 1)
            \(Self.filteredPage)
            """
        try Self.bindFilter(&query, after: cursor, limit: limit, filter: filter)
        let rows = try await client.query(query, logger: logger)
        var page: [AuditedEvent] = []
        for try await (position, transaction, stream, version, id, type, schemaVersion, payload, metadata, recordedAt, hash, previous)
            in rows.decode((Int64, Int64, String, Int64, UUID, String, Int32, ByteBuffer, ByteBuffer, Int64, ByteBuffer, ByteBuffer?).self)
        {
            let event = RecordedEvent(
                position: position,
                transactionID: UInt64(transaction),
                streamID: StreamID(stored: stream),
                version: version,
                id: id,
                type: type,
                schemaVersion: schemaVersion,
                payload: Data(buffer: payload, byteTransferStrategy: .copy),
                metadata: Data(buffer: metadata, byteTransferStrategy: .copy),
                recordedAtMicroseconds: recordedAt,
                hash: Array(buffer: hash)
            )
            page.append(AuditedEvent(event: event, previousHash: previous.map { Array(buffer: $0) }))
        }
        return page
    }

    /// The seals, oldest first.
    public func seals() async throws -> [Seal] {
        try await readStream(Seal.stream).map(Seal.init(event:))
    }
}

/// An event's SHA-256 as an export carries it from row to line: held inline (an export keeps
/// one per stream it has written, and allocating a byte array and a hex string for each of
/// millions of lines was a good part of its time) and written as hex straight into the line.
struct EventHash: Hashable, Sendable {
    var bytes: SIMD32<UInt8>

    struct WrongLength: Error, CustomStringConvertible {
        var length: Int
        var description: String { "a stored event hash has \(length) bytes, not 32" }
    }

    init(_ buffer: ByteBuffer) throws(WrongLength) {
        guard buffer.readableBytes == 32 else { throw WrongLength(length: buffer.readableBytes) }
        bytes = buffer.withUnsafeReadableBytes { $0.loadUnaligned(as: SIMD32<UInt8>.self) }
    }

    func writeHex(into buffer: inout ByteBuffer) {
        let bytes = self.bytes
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64) { out in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                for index in 0..<32 {
                    out[2 * index] = digits[Int(bytes[index] >> 4)]
                    out[2 * index + 1] = digits[Int(bytes[index] & 0x0F)]
                }
            }
            return 64
        }
    }
}

/// One event per line of NDJSON, the form of `GET /v1/audit/events` and `spona audit
/// export`. Payload and metadata are written as the very bytes the hash covers (PostgreSQL's
/// jsonb text), so a reader can check a line without the database:
///
///     {"cursor":"…","position":…,"transactionId":…,"stream":"…","version":…,"id":"…","type":"…",
///      "schemaVersion":…,"recordedAt":"…","recordedAtMicros":…,"hash":"…","previousHash":"…"|null,
///      "metadata":{…},"payload":{…}}
public enum AuditLine {
    static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static func encode(_ audited: AuditedEvent, into buffer: inout ByteBuffer) {
        let event = audited.event
        buffer.writeString(#"{"cursor":""#)
        buffer.writeString(event.cursor.description)
        buffer.writeString(#"","position":"#)
        buffer.writeString(String(event.position))
        buffer.writeString(#","transactionId":"#)
        buffer.writeString(String(event.transactionID))
        buffer.writeString(#","stream":"#)
        writeJSONString(event.streamID.rawValue, into: &buffer)
        buffer.writeString(#","version":"#)
        buffer.writeString(String(event.version))
        buffer.writeString(#","id":""#)
        buffer.writeString(event.id.uuidString.lowercased())
        buffer.writeString(#"","type":"#)
        writeJSONString(event.type, into: &buffer)
        buffer.writeString(#","schemaVersion":"#)
        buffer.writeString(String(event.schemaVersion))
        buffer.writeString(#","recordedAt":""#)
        buffer.writeString(CivilCalendar.timestamp(event.recordedAt) ?? event.recordedAt.formatted(timeStyle))
        buffer.writeString(#"","recordedAtMicros":"#)
        buffer.writeString(String(event.recordedAtMicroseconds))
        buffer.writeString(#","hash":""#)
        buffer.writeString(Hex.encode(event.hash))
        buffer.writeString(#"","previousHash":"#)
        if let previous = audited.previousHash {
            buffer.writeString("\"" + Hex.encode(previous) + "\"")
        } else {
            buffer.writeString("null")
        }
        buffer.writeString(#","metadata":"#)
        buffer.writeBytes(event.metadata)
        buffer.writeString(#","payload":"#)
        buffer.writeBytes(event.payload)
        buffer.writeString("}\n")
    }

    public static func encode(_ audited: AuditedEvent) -> String {
        var buffer = ByteBuffer()
        encode(audited, into: &buffer)
        return String(buffer: buffer)
    }

    /// A line that cannot be read back as an event.
    public struct Malformed: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    private struct Fields: Decodable {
        var position: Int64
        var transactionId: UInt64
        var stream: String
        var version: Int64
        var id: UUID
        var type: String
        var schemaVersion: Int32
        var recordedAtMicros: Int64
        var hash: String
        var previousHash: String?
    }

    /// Reads a line back, payload and metadata byte for byte.
    public static func decode(_ line: some Collection<UInt8>) throws(Malformed) -> AuditedEvent {
        let bytes = Array(line)
        let fields: Fields
        do { fields = try JSONDecoder().decode(Fields.self, from: Data(bytes)) } catch {
            throw Malformed(reason: "not an event line: \(error)")
        }
        let raw = try RawJSON.topLevelValues(bytes)
        guard let payload = raw["payload"], let metadata = raw["metadata"] else { throw Malformed(reason: "no payload or metadata") }
        guard let hash = Hex.decode(fields.hash), hash.count == 32 else { throw Malformed(reason: "hash is not 64 hex digits") }
        var previous: [UInt8]?
        if let text = fields.previousHash {
            guard let decoded = Hex.decode(text), decoded.count == 32 else { throw Malformed(reason: "previousHash is not 64 hex digits") }
            previous = decoded
        }
        guard let stream = try? StreamID(fields.stream) else { throw Malformed(reason: "'\(fields.stream)' is not a stream id") }
        let event = RecordedEvent(
            position: fields.position,
            transactionID: fields.transactionId,
            streamID: stream,
            version: fields.version,
            id: fields.id,
            type: fields.type,
            schemaVersion: fields.schemaVersion,
            payload: Data(bytes[payload]),
            metadata: Data(bytes[metadata]),
            recordedAtMicroseconds: fields.recordedAtMicros,
            hash: hash
        )
        return AuditedEvent(event: event, previousHash: previous)
    }

    public static func writeJSONString(_ text: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeString("\\\\")
            case 0..<0x20: buffer.writeString(String(format: "\\u%04x", byte))
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

/// Finds the byte ranges of a JSON object's top-level values without parsing them, so they
/// can be taken exactly as written.
enum RawJSON {
    static func topLevelValues(_ bytes: [UInt8]) throws(AuditLine.Malformed) -> [String: Range<Int>] {
        var index = 0
        func skipSpace() { while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 } }
        func string() throws(AuditLine.Malformed) -> Range<Int> {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw AuditLine.Malformed(reason: "expected a string at byte \(index)")
            }
            let start = index
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { throw AuditLine.Malformed(reason: "unterminated string") }
            index += 1
            return start..<index
        }
        func value() throws(AuditLine.Malformed) -> Range<Int> {
            skipSpace()
            guard index < bytes.count else { throw AuditLine.Malformed(reason: "the line ends where a value was expected") }
            if bytes[index] == UInt8(ascii: "\"") { return try string() }
            let start = index
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    _ = try string()
                    continue
                }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    if depth == 0 { break }
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        break
                    }
                }
                if depth == 0 && byte == UInt8(ascii: ",") { break }
                index += 1
            }
            var end = index
            while end > start, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[end - 1]) { end -= 1 }
            return start..<end
        }
        var result: [String: Range<Int>] = [:]
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw AuditLine.Malformed(reason: "a line must be a JSON object") }
        index += 1
        while true {
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { break }
            let keyRange = try string()
            let key = String(decoding: bytes[(keyRange.lowerBound + 1)..<(keyRange.upperBound - 1)], as: UTF8.self)
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw AuditLine.Malformed(reason: "expected ':' after \"\(key)\"") }
            index += 1
            result[key] = try value()
            skipSpace()
            guard index < bytes.count else { throw AuditLine.Malformed(reason: "unterminated object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw AuditLine.Malformed(reason: "expected ',' or '}' at byte \(index)") }
            break
        }
        return result
    }
}
