import Crypto
import Foundation

/// What makes a retry "the same request": a hash over a canonical encoding of the command and
/// what it is addressed to. Canonical so that it survives releases — keys sorted, times to the
/// full precision the client sent, no type names of this code — and versioned: the encoding's
/// version is the fingerprint's first byte, stored with it, so a later encoding can still
/// recognise a retry of a request fingerprinted by an earlier one.
public enum RequestFingerprint {
    /// The version of ``make(_:_:)``'s encoding.
    static let version: UInt8 = 1

    /// The fingerprint of `command` addressed to `target` (a stream).
    static func make(_ target: String, _ command: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Seconds as the shortest decimal that reads back as the same Double: two times a
        // microsecond apart are two requests.
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode("\(date.timeIntervalSince1970)")
        }
        var bytes = Data("\(target)|".utf8)
        bytes.append(try encoder.encode(command))
        return Data([version]) + Data(SHA256.hash(data: bytes))
    }

    /// The fingerprint requests got before fingerprints were versioned (a hash of the command's
    /// debug description): only to recognise retries of requests recorded then.
    static func legacy(_ target: some CustomStringConvertible, _ command: Any) -> Data {
        Data(SHA256.hash(data: Data("\(target)|\(String(reflecting: command))".utf8)))
    }

    /// Whether a stored fingerprint is the one `current` is, in its own version's encoding.
    /// Fingerprints of 32 bytes were written before they were versioned, by `legacy`.
    static func matches(stored: Data, current: Data, legacy: () -> Data) -> Bool {
        if stored == current { return true }
        return stored.count == 32 && stored == legacy()
    }
}
