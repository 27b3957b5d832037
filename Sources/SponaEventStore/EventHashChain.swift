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
