import Crypto
import Foundation
import NIOCore
import SponaEventStore
import SponaTestSupport
import Testing

@Suite("Merkle trees and consistency proofs")
struct MerkleTests {
    /// Stand-ins for events' chain hashes.
    static func eventHashes(_ count: Int, salt: UInt8 = 0) -> [MerkleTree.Hash] {
        (0..<count).map { Array(SHA256.hash(data: [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8), salt])) }
    }

    static func leaves(_ count: Int, salt: UInt8 = 0) -> [MerkleTree.Hash] {
        eventHashes(count, salt: salt).map(MerkleTree.leaf)
    }

    @Test("the frontier's root equals the tree's root at every size")
    func frontierEqualsTree() {
        let hashes = Self.eventHashes(70)
        let all = hashes.map(MerkleTree.leaf)
        var frontier = MerkleFrontier()
        #expect(frontier.root == MerkleTree.emptyRoot)
        for (index, hash) in hashes.enumerated() {
            frontier.append(eventHash: hash)
            #expect(frontier.root == MerkleTree.root(all.prefix(index + 1)), "size \(index + 1)")
            #expect(frontier.subtrees.count == (index + 1).nonzeroBitCount)
        }
    }

    @Test("a proof that one tree extends another verifies, for every pair of sizes")
    func consistencyProofs() {
        let all = Self.leaves(33)
        for n in 1...all.count {
            let second = Array(all.prefix(n))
            let secondRoot = MerkleTree.root(second[...])
            for m in 1...n {
                let firstRoot = MerkleTree.root(all.prefix(m))
                let proof = MerkleTree.consistencyProof(from: m, leaves: second)
                #expect(MerkleTree.verifyConsistency(first: m, firstRoot: firstRoot, second: n, secondRoot: secondRoot, proof: proof), "\(m) → \(n)")
                guard m < n else { continue }
                // Any change to the proof, either root, or the sizes fails it.
                var bent = proof
                if !bent.isEmpty {
                    bent[bent.count / 2][0] ^= 1
                    #expect(!MerkleTree.verifyConsistency(first: m, firstRoot: firstRoot, second: n, secondRoot: secondRoot, proof: bent))
                }
                #expect(!MerkleTree.verifyConsistency(first: m, firstRoot: secondRoot, second: n, secondRoot: secondRoot, proof: proof))
                #expect(!MerkleTree.verifyConsistency(first: m, firstRoot: firstRoot, second: n, secondRoot: firstRoot, proof: proof))
            }
        }
    }

    @Test("a tree over other events does not extend the first one")
    func otherHistory() {
        let history = Self.leaves(20)
        var rewritten = history
        rewritten[3] = Self.leaves(1, salt: 9)[0]
        let proof = MerkleTree.consistencyProof(from: 8, leaves: rewritten)
        #expect(
            !MerkleTree.verifyConsistency(
                first: 8,
                firstRoot: MerkleTree.root(history.prefix(8)),
                second: 20,
                secondRoot: MerkleTree.root(rewritten[...]),
                proof: proof
            )
        )
    }
}

@Suite("Seals and the verification of a whole history")
struct SealTests {
    static let key = Curve25519.Signing.PrivateKey()

    static func allReadable(_ db: TestDatabase) async throws {
        #expect(try await db.waitUntilReadable(), "the read horizon did not pass the last event")
    }

    static func sealedHistory(_ db: TestDatabase) async throws -> HistorySealer {
        try await writeHistory(db)
        let sealer = HistorySealer(store: db.store, key: key, logger: db.logger)
        try await allReadable(db)
        #expect(try await sealer.seal() != nil)
        try await db.store.append(to: "case-c", expected: .noStream, events: [try event("ReportFiled", ["note": "late"])])
        try await allReadable(db)
        let second = try #require(try await sealer.seal())
        #expect(second.treeSize == 9)  // 7 events, the first seal, case-c
        try await allReadable(db)
        #expect(try await sealer.seal() == nil, "nothing new but the last seal: no seal")
        return sealer
    }

    static func findings(_ db: TestDatabase) async throws -> [String] {
        try await db.store.verifyHistory(publicKey: key.publicKey).findings.map(\.description)
    }

    @Test("an intact, sealed history verifies, every seal checked")
    func intact() async throws {
        try await TestDatabase.withFresh { db in
            _ = try await Self.sealedHistory(db)
            let verifier = try await db.store.verifyHistory(publicKey: Self.key.publicKey)
            #expect(verifier.findings == [])
            #expect(verifier.events == 10)
            #expect(verifier.sealsChecked == 2)
            let seals = try await db.store.seals()
            #expect(seals.allSatisfy { $0.isSigned(by: Self.key.publicKey) })
        }
    }

    @Test(
        "each tampering is found and named",
        arguments: [
            (
                "a changed payload byte",
                #"UPDATE events SET payload = jsonb_set(payload, '{note}', '"abd"') WHERE stream_id = 'case-a' AND stream_version = 1"#,
                "stream case-a version 1", "hash does not match"
            ),
            (
                "a deleted row", "DELETE FROM events WHERE stream_id = 'case-a' AND stream_version = 6",
                "seal 2", "not the root"
            ),
            (
                "a deleted row in the middle", "DELETE FROM events WHERE stream_id = 'case-a' AND stream_version = 3",
                "stream case-a version 4", "version 3 is missing"
            ),
            (
                "a stream's first event deleted", "DELETE FROM events WHERE stream_id = 'case-a' AND stream_version = 1",
                "stream case-a version 2", "not at version 1"
            ),
            (
                "two versions swapped",
                """
                UPDATE events SET stream_version = 100 WHERE stream_id = 'case-a' AND stream_version = 2;
                UPDATE events SET stream_version = 2 WHERE stream_id = 'case-a' AND stream_version = 3;
                UPDATE events SET stream_version = 3 WHERE stream_id = 'case-a' AND stream_version = 100
                """, "stream case-a version 2", "swapped"
            ),
            (
                "an event inserted in the middle of a stream",
                """
                UPDATE events SET stream_version = stream_version + 100 WHERE stream_id = 'case-a' AND stream_version >= 3;
                UPDATE events SET stream_version = stream_version - 99 WHERE stream_id = 'case-a' AND stream_version > 100;
                INSERT INTO events (transaction_id, stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, recorded_at, hash)
                  SELECT transaction_id, stream_id, 3, gen_random_uuid(), 'Noted', 1, '{"n": "forged"}', metadata, recorded_at, hash
                  FROM events WHERE stream_id = 'case-a' AND stream_version = 2
                """, "stream case-a version 3", "hash does not match"
            ),
            (
                "an altered seal",
                #"UPDATE events SET payload = jsonb_set(payload, '{root}', '"0000000000000000000000000000000000000000000000000000000000000000"') WHERE stream_id = 'seals' AND stream_version = 1"#,
                "seal 1", "signature does not verify"
            ),
        ]
    )
    func tampering(_ what: String, _ sql: String, _ named: String, _ says: String) async throws {
        try await TestDatabase.withFresh { db in
            _ = try await Self.sealedHistory(db)
            for statement in sql.split(separator: ";") { try await tamper(db, String(statement)) }
            try await Self.allReadable(db)
            let found = try await Self.findings(db)
            #expect(!found.isEmpty, "\(what) went unnoticed")
            #expect(found.contains { $0.hasPrefix(named) && $0.contains(says) }, "\(what): \(found)")
        }
    }

    @Test("a seal signed with another key, or over another history, is named")
    func forgedSeals() async throws {
        try await TestDatabase.withFresh { db in
            _ = try await Self.sealedHistory(db)
            // A seal over a history where case-a's first event was different, by the right key.
            var other = MerkleFrontier()
            for index in 0..<11 { other.append(eventHash: Array(SHA256.hash(data: [UInt8(index)]))) }
            let seals = try await db.store.seals()
            let forged = try Seal.sign(frontier: other, lastCursor: seals[1].lastCursor, at: 1, with: Self.key)
            try await db.store.append(to: Seal.stream, expected: .exactly(2), events: [try forged.eventData()])
            try await Self.allReadable(db)
            var found = try await Self.findings(db)
            #expect(found.contains { $0.hasPrefix("seal 3") && $0.contains("does not extend") }, "\(found)")

            // Signed by someone else's key.
            let stranger = Curve25519.Signing.PrivateKey()
            let strange = try Seal.sign(frontier: other, lastCursor: seals[1].lastCursor, at: 2, with: stranger)
            try await db.store.append(to: Seal.stream, expected: .exactly(3), events: [try strange.eventData()])
            try await Self.allReadable(db)
            found = try await Self.findings(db)
            #expect(found.contains { $0.hasPrefix("seal 4") && $0.contains("signature does not verify") }, "\(found)")

            // The sealer will not build on a seal that is not its key's.
            await #expect(throws: EventStoreError.corruptSeal(version: 4)) {
                try await HistorySealer(store: db.store, key: Self.key, logger: db.logger).seal()
            }
        }
    }

    @Test("an export verifies offline, and one altered line fails it")
    func exportOffline() async throws {
        try await TestDatabase.withFresh { db in
            _ = try await Self.sealedHistory(db)
            var lines = try ExportFile.headerLine(.init(complete: true, from: nil, to: nil, exportedAt: Date()))
            var cursor = EventCursor.start
            while true {
                let page = try await db.store.auditPage(after: cursor, limit: 3)
                guard let last = page.last else { break }
                for audited in page {
                    let line = AuditLine.encode(audited)
                    // Each line reads back to the same event, byte for byte.
                    #expect(try AuditLine.decode(Array(line.utf8.dropLast())) == audited)
                    lines += line
                }
                cursor = last.event.cursor
            }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("spona-export-\(UUID().uuidString).ndjson")
            defer { try? FileManager.default.removeItem(at: url) }
            try lines.write(to: url, atomically: true, encoding: .utf8)
            let (verifier, header) = try ExportFile.verify(url, publicKey: Self.key.publicKey)
            #expect(header?.complete == true)
            #expect(verifier.findings == [])
            #expect(verifier.events == 10)
            #expect(verifier.sealsChecked == 2)

            // One character of one payload changed.
            try lines.replacingOccurrences(of: #""note": "xyz""#, with: #""note": "xyw""#).write(to: url, atomically: true, encoding: .utf8)
            let altered = try ExportFile.verify(url, publicKey: Self.key.publicKey).verifier
            #expect(
                altered.findings.map(\.subject) == [
                    "stream case-b version 1 (position \(try #require(lines.split(separator: "\n").first { $0.contains(#""stream":"case-b""#) }.flatMap { try? AuditLine.decode(Array($0.utf8)) }).event.position))"
                ],
                "\(altered.findings)"
            )

            // Filters: one category, one type.
            let cases = try await db.store.auditPage(after: .start, limit: 100, filter: AuditFilter(category: "case", types: ["ReportFiled"]))
            #expect(cases.map(\.event.streamID.rawValue).sorted() == ["case-a", "case-b", "case-c"])
            #expect(cases.allSatisfy { $0.previousHash == nil })
            let noted = try await db.store.auditPage(after: .start, limit: 100, filter: AuditFilter(types: ["Noted"]))
            #expect(noted.count == 4 && noted.allSatisfy { $0.previousHash != nil })
        }
    }
}

@Suite("spona audit, as an auditor runs it")
struct AuditCommandTests {
    @Test("seal, export, then verify the export on its own; one altered line fails it")
    func exportAndVerifyOffline() async throws {
        try await TestDatabase.withFresh { db in
            try await writeHistory(db)
            try await SealTests.allReadable(db)
            let key = Curve25519.Signing.PrivateKey()
            let publicKey = key.publicKey.rawRepresentation.base64EncodedString()
            let environment = ["DATABASE_URL": db.appURL, "SPONA_SEAL_KEY": key.rawRepresentation.base64EncodedString()]
            let sealed = try await runProcess(sponaExecutable, ["audit", "seal"], environment: environment)
            #expect(sealed.status == 0 && sealed.output.contains("sealed 7 events"), "\(sealed.output)\(sealed.errorOutput)")
            try await SealTests.allReadable(db)

            let export = try await runProcess(sponaExecutable, ["audit", "export"], environment: ["DATABASE_URL": db.appURL])
            #expect(export.status == 0, "\(export.errorOutput)")
            #expect(export.output.split(separator: "\n").count == 9)  // the header, 7 events, the seal
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString).ndjson")
            defer { try? FileManager.default.removeItem(at: file) }
            try export.output.write(to: file, atomically: true, encoding: .utf8)

            // No database on this side: only the file and the public key.
            let verified = try await runProcess(sponaExecutable, ["audit", "verify", "--file", file.path, "--public-key", publicKey])
            #expect(verified.status == 0, "\(verified.output)\(verified.errorOutput)")
            #expect(verified.output.contains("ok: 8 events in 3 streams, 1 seals"), "\(verified.output)")
            let unsigned = try await runProcess(sponaExecutable, ["audit", "verify", "--file", file.path])
            #expect(unsigned.output.contains("signatures NOT checked"), "\(unsigned.output)")

            try export.output.replacingOccurrences(of: "Прокупље", with: "Прокупљe").write(to: file, atomically: true, encoding: .utf8)
            let altered = try await runProcess(sponaExecutable, ["audit", "verify", "--file", file.path, "--public-key", publicKey])
            #expect(altered.status == 1)
            #expect(altered.output.contains("FAILED: stream case-a version 1"), "\(altered.output)")

            let wrongKey = try await runProcess(
                sponaExecutable,
                ["audit", "verify", "--public-key", Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()],
                environment: ["DATABASE_URL": db.appURL]
            )
            #expect(wrongKey.status == 1 && wrongKey.output.contains("FAILED: seal 1"), "\(wrongKey.output)")
            let badKey = try await runProcess(
                sponaExecutable,
                ["audit", "verify", "--public-key", "not-a-key"],
                environment: ["DATABASE_URL": db.appURL]
            )
            #expect(badKey.status != 0 && badKey.errorOutput.contains("public key"), "\(badKey.errorOutput)")
        }
    }
}

@Suite("Rotating the seal key")
struct SealKeyRotationTests {
    @Test("after a rotation new seals carry on from the old key's, and both verify with both public keys")
    func rotation() async throws {
        try await TestDatabase.withFresh { db in
            try await writeHistory(db)
            try await SealTests.allReadable(db)
            let old = Curve25519.Signing.PrivateKey()
            let new = Curve25519.Signing.PrivateKey()
            #expect(try await HistorySealer(store: db.store, key: old, logger: db.logger).seal() != nil)
            try await db.store.append(to: "case-d", expected: .noStream, events: [try event("ReportFiled")])
            try await SealTests.allReadable(db)
            // Without the old key's public key the new key will not build on its seal.
            await #expect(throws: EventStoreError.corruptSeal(version: 1)) {
                try await HistorySealer(store: db.store, key: new, logger: db.logger).seal()
            }
            #expect(try await HistorySealer(store: db.store, key: new, previousKeys: [old.publicKey], logger: db.logger).seal() != nil)
            #expect(try await db.store.verifyHistory(publicKeys: [new.publicKey, old.publicKey]).findings == [])
            let newOnly = try await db.store.verifyHistory(publicKeys: [new.publicKey]).findings.map(\.description)
            #expect(newOnly.count == 1 && newOnly[0].hasPrefix("seal 1"), "\(newOnly)")
        }
    }
}
