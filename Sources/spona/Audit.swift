import ArgumentParser
import Crypto
import Foundation
import NIOCore
import SponaApplication
import SponaEventStore
import SponaRecords

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove the history unaltered: verify it, seal it, export it.",
        subcommands: [Verify.self, SealNow.self, Export.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every hash chain and check every seal, in the database or in an export file.",
            discussion: """
                Needs only read access (or, with --file, no database at all) and the seals' public \
                key. Prints what it checked and exits 0, or names what is wrong (stream, version, \
                seal, and what) and exits 1. Without a public key the seals' roots are checked but \
                not their signatures, and it says so.

                Environment: DATABASE_URL, SPONA_SEAL_PUBLIC_KEY, SPONA_LOG_LEVEL.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: ArgumentHelp("Verify this export (from `spona audit export`) instead of the database.", valueName: "path"))
        var file: String?
        @Option(
            help: ArgumentHelp(
                "The seals' public key: base64, or a file holding it. Repeat it for the keys rotated away from.",
                discussion: "Environment: SPONA_SEAL_PUBLIC_KEY (several separated by commas).",
                valueName: "key"
            )
        )
        var publicKey: [String] = []
        @Option(
            help: ArgumentHelp(
                "Seals as they were published (a saved answer of GET /v1/audit/seals): the database must match them too.",
                discussion:
                    "One it does not match is tampering when it is no newer than the database's last seal, and is reported as a rollback (a restore to an earlier point, exit 0) when it is.",
                valueName: "path"
            )
        )
        var publishedSeals: String?

        func run() async throws {
            let logger = try makeLogger(label: "spona.audit", level: nil)
            var published: [PublishedSeal] = []
            if let publishedSeals {
                guard let data = FileManager.default.contents(atPath: publishedSeals) else { throw CommandFailure("cannot read \(publishedSeals)") }
                do { published = try PublishedSeal.decode(data) } catch {
                    throw CommandFailure("\(publishedSeals) is not a list of seals (save GET /v1/audit/seals): \(error)")
                }
            }
            let given = publicKey.isEmpty ? (Environment.value("SPONA_SEAL_PUBLIC_KEY")?.split(separator: ",").map(String.init) ?? []) : publicKey
            let keys = try given.compactMap { try SealKeys.publicKey($0) }
            let verifier: HistoryVerifier
            var scope = "the database"
            if let file {
                let url = URL(fileURLWithPath: file)
                do {
                    let (checked, header) = try ExportFile.verify(url, publicKeys: keys)
                    verifier = checked
                    scope =
                        header?.complete == true
                        ? "the export \(file)" : "the partial export \(file) (chains from their first line; seals not checked)"
                } catch {
                    throw CommandFailure("\(error)")
                }
            } else {
                let url = try database.resolve()
                verifier = try await withPostgresClient(url.configuration, logger: logger) { client in
                    try await PostgresEventStore(client: client, logger: logger).verifyHistory(publicKeys: keys, published: published)
                }
            }
            let summary =
                "\(verifier.events) events in \(verifier.streams) streams, \(verifier.sealsChecked) seals"
                + (keys.isEmpty && verifier.sealsChecked > 0 ? " (signatures NOT checked: no public key given)" : "")
            if !verifier.isIntact {
                for finding in verifier.findings { print("FAILED: \(finding)") }
                print("checked \(summary) in \(scope)")
                throw ExitCode(1)
            }
            if let rollback = verifier.rollback { print("NOTE: \(rollback)") }
            if !published.isEmpty { print("\(verifier.publishedConfirmed) of \(published.count) published seals match") }
            print("ok: \(summary) in \(scope); every hash chain intact, every seal \(verifier.rollback == nil ? "" : "it keeps ")matches")
        }
    }

    struct SealNow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seal",
            abstract: "Sign a seal over every event below the read horizon now.",
            discussion: """
                The server does this every SPONA_SEAL_INTERVAL minutes by itself; this is the \
                on-demand one. Prints the seal, or says there was nothing new to seal.

                Environment: DATABASE_URL, SPONA_SEAL_KEY or SPONA_SEAL_KEY_FILE, \
                SPONA_PREVIOUS_SEAL_PUBLIC_KEY (after a rotation).
                """
        )

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let logger = try makeLogger(label: "spona.audit", level: nil)
            guard let key = try SealKeys.privateKeyFromEnvironment() else {
                throw CommandFailure("no seal key: set SPONA_SEAL_KEY or SPONA_SEAL_KEY_FILE (`spona keys generate-seal-key`)")
            }
            let url = try database.resolve()
            let seal = try await withPostgresClient(url.configuration, logger: logger) { client in
                try await HistorySealer(
                    store: PostgresEventStore(client: client, logger: logger),
                    key: key,
                    previousKeys: try SealKeys.previousPublicKeys(),
                    logger: logger
                ).seal()
            }
            guard let seal else {
                print("nothing new to seal")
                return
            }
            print("sealed \(seal.treeSize) events: root \(seal.root), key \(seal.keyID)")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the history as NDJSON, one event a line, for verification on another machine.",
            discussion: """
                A header line, then every event below the read horizon in the store's gap-safe \
                order, with its hash and its stream's previous hash; payloads exactly as hashed. \
                Without --from the export is complete and `spona audit verify --file` checks its \
                seals too. Memory stays flat for any size.

                Example: spona audit export > history.ndjson; spona audit verify --file \
                history.ndjson --public-key seal.pub

                Environment: DATABASE_URL.
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Option(help: ArgumentHelp("Only events recorded at or after this time (ISO 8601, or YYYY-MM-DD).", valueName: "time"))
        var from: String?
        @Option(help: ArgumentHelp("Only events recorded at or before this time (ISO 8601, or YYYY-MM-DD: the whole day).", valueName: "time"))
        var to: String?

        func run() async throws {
            let logger = try makeLogger(label: "spona.audit", level: nil)
            let fromDate = try from.map { try Self.time($0, option: "--from", endOfDay: false) }
            let toDate = try to.map { try Self.time($0, option: "--to", endOfDay: true) }
            if let fromDate, let toDate, fromDate > toDate { throw CommandFailure("--from is after --to") }
            let url = try database.resolve()
            let output = FileHandle.standardOutput
            output.write(Data(try ExportFile.headerLine(.init(complete: fromDate == nil, from: fromDate, to: toDate, exportedAt: Date())).utf8))
            let written = try await withPostgresClient(url.configuration, logger: logger) { client in
                let store = PostgresEventStore(client: client, logger: logger)
                let filter = AuditFilter(from: fromDate, to: toDate)
                return try await store.exportAuditLines(filter: filter) { lines in
                    output.write(Data(lines.readableBytesView))
                }
            }
            FileHandle.standardError.write(Data("exported \(written) events\n".utf8))
        }

        static func time(_ text: String, option: String, endOfDay: Bool) throws -> Date {
            if text.count == 10, let day = ISO8601.date(from: text + "T00:00:00Z") {
                return endOfDay ? day + 86_399.999_999 : day
            }
            if let date = ISO8601.date(from: text) { return date }
            throw CommandFailure("\(option) '\(text)' is not a time (2026-01-31 or 2026-01-31T12:00:00Z)")
        }
    }
}

/// The seal keys from configuration: the server's private key signs, anyone's copy of the
/// public key verifies.
enum SealKeys {
    static func privateKeyFromEnvironment() throws -> Curve25519.Signing.PrivateKey? {
        var text = Environment.value("SPONA_SEAL_KEY")
        if text == nil, let path = Environment.value("SPONA_SEAL_KEY_FILE") {
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CommandFailure("cannot read SPONA_SEAL_KEY_FILE \(path)")
            }
            text = contents
        }
        guard let text else { return nil }
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
        else { throw CommandFailure("the seal key is not base64 of 32 bytes (make one with `spona keys generate-seal-key`)") }
        return key
    }

    /// The public keys of seal keys rotated away from (SPONA_PREVIOUS_SEAL_PUBLIC_KEY, comma-separated).
    static func previousPublicKeys() throws -> [Curve25519.Signing.PublicKey] {
        try (Environment.value("SPONA_PREVIOUS_SEAL_PUBLIC_KEY")?.split(separator: ",").map(String.init) ?? []).compactMap { try publicKey($0) }
    }

    /// A public key given as base64, or as the path of a file holding it.
    static func publicKey(_ given: String?) throws -> Curve25519.Signing.PublicKey? {
        guard var text = given else { return nil }
        if FileManager.default.fileExists(atPath: text) {
            guard let contents = try? String(contentsOfFile: text, encoding: .utf8) else {
                throw CommandFailure("cannot read the public key file \(text)")
            }
            text = contents
        }
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
        else { throw CommandFailure("the public key is not base64 of 32 bytes") }
        return key
    }
}
