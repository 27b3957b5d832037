import Crypto
import Foundation

/// A signed statement: "the history's first `treeSize` events, in the gap-safe order, have
/// this Merkle root". Stored as an event of the `seals` stream, so the next seal covers it.
/// Whoever holds the public key can check it; nobody without the private key — a database
/// administrator included — can make one.
///
/// The signature (Ed25519) covers, big-endian:
///
///     "spona-seal-v1" ‖ int64 treeSize ‖ 32-byte root ‖ uint64 last transaction id
///     ‖ int64 last position ‖ int64 sealed-at microseconds since 1970
public struct Seal: Sendable, Hashable, Codable {
    public static let stream: StreamID = "seals"
    public static let eventType = "HistorySealed"

    public var treeSize: Int64
    /// Hex of the Merkle root.
    public var root: String
    /// The last event under the seal; readers carry on after it.
    public var lastCursor: EventCursor
    public var sealedAtMicroseconds: Int64
    /// Hex of the first 8 bytes of SHA-256 of the public key: which key signed.
    public var keyID: String
    /// Base64 of the Ed25519 signature.
    public var signature: String
    /// Hex roots of the frontier's complete subtrees, so the next seal reads only what came after.
    public var frontier: [String]

    static let tag = Array("spona-seal-v1".utf8)

    /// The bytes the signature covers.
    public var signedBytes: Data {
        var bytes = Data(Self.tag)
        func integer<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
        integer(treeSize)
        bytes.append(contentsOf: Hex.decode(root) ?? [])
        integer(lastCursor.transactionID)
        integer(lastCursor.position)
        integer(sealedAtMicroseconds)
        return bytes
    }

    public var sealedAt: Date { Date(timeIntervalSince1970: Double(sealedAtMicroseconds) / 1_000_000) }

    /// The event that stores this seal.
    public func eventData() throws -> EventData {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return EventData(type: Self.eventType, payload: try encoder.encode(self))
    }

    public static func keyID(_ key: Curve25519.Signing.PublicKey) -> String {
        Hex.encode(Array(SHA256.hash(data: key.rawRepresentation).prefix(8)))
    }

    /// Signs the tree head.
    public static func sign(
        frontier: MerkleFrontier,
        lastCursor: EventCursor,
        at microseconds: Int64,
        with key: Curve25519.Signing.PrivateKey
    ) throws -> Seal {
        var seal = Seal(
            treeSize: frontier.size,
            root: Hex.encode(frontier.root),
            lastCursor: lastCursor,
            sealedAtMicroseconds: microseconds,
            keyID: keyID(key.publicKey),
            signature: "",
            frontier: frontier.subtrees.map(Hex.encode)
        )
        seal.signature = try key.signature(for: seal.signedBytes).base64EncodedString()
        return seal
    }

    /// True when `key` signed exactly this tree head.
    public func isSigned(by key: Curve25519.Signing.PublicKey) -> Bool {
        guard let signature = Data(base64Encoded: signature) else { return false }
        return key.isValidSignature(signature, for: signedBytes)
    }
}

extension Seal {
    /// The seal a `seals` event holds. (In an extension: the memberwise initialiser stays.)
    public init(event: RecordedEvent) throws {
        self = try JSONDecoder().decode(Seal.self, from: event.payload)
    }
}

/// Lower-case hexadecimal, as hashes are shown.
public enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// A seal as an auditor keeps it outside the database: its size and root, as `GET
/// /v1/audit/seals` lists them (the signature was checked when it was published).
public struct PublishedSeal: Sendable, Hashable, Codable {
    public var treeSize: Int64
    public var root: String
    public var sealedAt: Date?

    public init(treeSize: Int64, root: String, sealedAt: Date? = nil) {
        self.treeSize = treeSize
        self.root = root
        self.sealedAt = sealedAt
    }

    /// The seals of a saved `GET /v1/audit/seals` answer (or a bare list of seals).
    public static func decode(_ data: Data) throws -> [PublishedSeal] {
        struct List: Decodable { var seals: [PublishedSeal] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard
                let date = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                    ?? (try? Date.ISO8601FormatStyle().parse(text))
            else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time")) }
            return date
        }
        if let list = try? decoder.decode(List.self, from: data) { return list.seals }
        return try decoder.decode([PublishedSeal].self, from: data)
    }
}
