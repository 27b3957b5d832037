import Crypto
import Foundation
import NIOCore

/// `spona audit export` writes a header line, then one ``AuditLine`` per event in the gap-safe
/// order; `spona audit verify --file` checks such a file on a machine with no database.
public enum ExportFile {
    /// The first line: what the file claims to hold. A complete export starts at the first
    /// event, so its seals can be checked too; a partial one (`--from`/`--to`) only its chains,
    /// each anchored by its first line's previous hash.
    public struct Header: Codable, Sendable, Hashable {
        public var sponaExport: Int
        public var complete: Bool
        public var from: Date?
        public var to: Date?
        public var exportedAt: Date

        public init(complete: Bool, from: Date?, to: Date?, exportedAt: Date) {
            self.sponaExport = 1
            self.complete = complete
            self.from = from
            self.to = to
            self.exportedAt = exportedAt
        }

        enum CodingKeys: String, CodingKey {
            case sponaExport = "spona-export"
            case complete
            case from
            case to
            case exportedAt
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    public static func headerLine(_ header: Header) throws -> String {
        String(decoding: try encoder.encode(header), as: UTF8.self) + "\n"
    }

    /// What is wrong with the file itself, before any event is checked.
    public struct Unreadable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks an export: every line's hash and chain and, for a complete export, every seal in
    /// it against the roots of the events before it. Two passes over the file (the seals
    /// first), each in constant memory besides one entry per stream.
    public static func verify(_ url: URL, publicKey: Curve25519.Signing.PublicKey?) throws -> (verifier: HistoryVerifier, header: Header?) {
        try verify(url, publicKeys: publicKey.map { [$0] } ?? [])
    }

    public static func verify(_ url: URL, publicKeys: [Curve25519.Signing.PublicKey]) throws -> (verifier: HistoryVerifier, header: Header?) {
        var header: Header?
        var seals: [Seal] = []
        try forEachLine(of: url) { number, line in
            if number == 1, let parsed = try? decoder.decode(Header.self, from: Data(line)) {
                header = parsed
                return
            }
            let audited: AuditedEvent
            do { audited = try AuditLine.decode(line) } catch { throw Unreadable(description: "line \(number): \(error)") }
            if audited.event.streamID == Seal.stream, audited.event.type == Seal.eventType {
                guard let seal = try? Seal(event: audited.event) else {
                    throw Unreadable(description: "line \(number): a seal that cannot be read")
                }
                seals.append(seal)
            }
        }
        var verifier = HistoryVerifier(seals: seals, publicKeys: publicKeys, complete: header?.complete ?? false)
        try forEachLine(of: url) { number, line in
            if number == 1, header != nil { return }
            let audited = try AuditLine.decode(line)
            verifier.check(audited.event, claimedPrevious: .some(audited.previousHash))
        }
        verifier.finish()
        return (verifier, header)
    }

    /// Calls `body` with each non-empty line (numbered from 1), reading 1 MiB at a time.
    static func forEachLine(of url: URL, _ body: (Int, ArraySlice<UInt8>) throws -> Void) throws {
        guard let handle = try? FileHandle(forReadingFrom: url) else { throw Unreadable(description: "cannot open \(url.path)") }
        defer { try? handle.close() }
        var pending: [UInt8] = []
        var number = 0
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                number += 1
                if newline > start { try body(number, pending[start..<newline]) }
                start = newline + 1
            }
            pending.removeSubrange(..<start)
        }
        if !pending.isEmpty {
            number += 1
            try body(number, pending[...])
        }
    }
}
