import Crypto
import Foundation

/// The per-stream hash chain that makes a rewritten history visible.
///
/// Each event's hash is SHA-256 over its canonical encoding followed by the previous event's
/// hash in the same stream, so changing, removing, reordering or inserting any event breaks
/// every hash after it. The encoding, identical to the one `spona_append` computes in
/// `Schema/0001_event_store.sql` (the database computes it on append; this recomputes it on
/// verification, so the two must never drift):
///
/// ```
/// "spona-event-v1"
/// int64 position
/// int32 length, stream id (UTF-8)
/// int64 stream version
/// 16 bytes event id (RFC 4122 byte order)
/// int32 length, event type (UTF-8)
/// int32 schema version
/// int32 length, payload: PostgreSQL's jsonb text form (UTF-8)
/// int32 length, metadata: PostgreSQL's jsonb text form (UTF-8)
/// int64 recorded time, microseconds since 1970-01-01 UTC
/// 32 bytes previous hash in the stream (nothing for version 1)
/// ```
///
/// All integers big-endian. The jsonb text form is normalised by PostgreSQL (sorted keys,
/// fixed spacing), so the bytes do not depend on how a client formatted its JSON.
public enum EventHashChain {
    public static let domainTag = Array("spona-event-v1".utf8)

    public static func hash(of event: RecordedEvent, previous: [UInt8]?) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: domainTag)
        integer(event.position, into: &hasher)
        field(Array(event.streamID.rawValue.utf8), into: &hasher)
        integer(event.version, into: &hasher)
        withUnsafeBytes(of: event.id.uuid) { hasher.update(bufferPointer: $0) }
        field(Array(event.type.utf8), into: &hasher)
        integer(event.schemaVersion, into: &hasher)
        field(event.payload, into: &hasher)
        field(event.metadata, into: &hasher)
        integer(event.recordedAtMicroseconds, into: &hasher)
        if let previous { hasher.update(data: previous) }
        return Array(hasher.finalize())
    }

    private static func integer<Integer: FixedWidthInteger>(_ value: Integer, into hasher: inout SHA256) {
        withUnsafeBytes(of: value.bigEndian) { hasher.update(bufferPointer: $0) }
    }

    private static func field(_ bytes: some DataProtocol, into hasher: inout SHA256) {
        integer(Int32(bytes.count), into: &hasher)
        hasher.update(data: bytes)
    }
}

/// Checks a history, stream by stream, event by event in version order. Feed it events sorted
/// by (stream, version); it keeps only the current stream's last hash, so memory stays flat
/// for any size of history.
public struct ChainVerifier: Sendable {
    /// The first thing found wrong, naming the event by stream and version.
    public struct Failure: Sendable, Hashable, CustomStringConvertible {
        public enum Problem: Sendable, Hashable {
            /// The stored hash is not the hash of the stored content and the previous hash.
            case hashMismatch
            /// A version is missing: an event was removed, or versions were renumbered.
            case missingVersion(expected: Int64)
            /// A stream does not start at version 1.
            case doesNotStartAtOne
        }

        public var stream: StreamID
        public var version: Int64
        public var position: Int64
        public var problem: Problem

        public var description: String {
            switch problem {
            case .hashMismatch:
                "stream \(stream) version \(version) (position \(position)): its hash does not match its content and the previous event's hash; the event or one before it was altered"
            case .missingVersion(let expected):
                "stream \(stream) version \(version) (position \(position)): expected version \(expected) here; an event was removed or versions were renumbered"
            case .doesNotStartAtOne:
                "stream \(stream) version \(version) (position \(position)): the stream does not start at version 1; its first events were removed"
            }
        }
    }

    public private(set) var streams = 0
    public private(set) var events = 0
    public private(set) var firstFailure: Failure?
    private var currentStream: StreamID?
    private var lastVersion: Int64 = 0
    private var lastHash: [UInt8]?

    public init() {}

    /// Checks the next event; after the first failure the rest is only counted.
    public mutating func check(_ event: RecordedEvent) {
        events += 1
        if event.streamID != currentStream {
            streams += 1
            currentStream = event.streamID
            lastVersion = 0
            lastHash = nil
            if event.version != 1 { fail(event, .doesNotStartAtOne) }
        } else if event.version != lastVersion + 1 {
            fail(event, .missingVersion(expected: lastVersion + 1))
        }
        if EventHashChain.hash(of: event, previous: lastHash) != event.hash {
            fail(event, .hashMismatch)
        }
        lastVersion = event.version
        lastHash = event.hash
    }

    private mutating func fail(_ event: RecordedEvent, _ problem: Failure.Problem) {
        guard firstFailure == nil else { return }
        firstFailure = Failure(stream: event.streamID, version: event.version, position: event.position, problem: problem)
    }
}

extension PostgresEventStore {
    /// Recomputes every stream's hash chain from the stored events, streaming them in
    /// (stream, version) order. Needs only SELECT on events.
    public func verifyChains() async throws -> ChainVerifier {
        var verifier = ChainVerifier()
        let rows = try await client.query(
            "SELECT \(unescaped: Self.eventColumns) FROM events ORDER BY stream_id, stream_version",
            logger: logger
        )
        for try await row in rows {
            verifier.check(try Self.decodeEvent(row))
        }
        return verifier
    }
}
