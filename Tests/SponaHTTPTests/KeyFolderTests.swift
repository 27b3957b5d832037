import Foundation
import HTTPTypes
import Logging
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaTestSupport
import Testing

/// The subject key folder is backed up apart from the database; after a restore the two are
/// held to each other before anything is served.
@Suite("The key folder after a restore")
struct KeyFolderTests {
    /// Copies every key file of `folder` into a new folder: a backup of `SPONA_KEY_DIR`.
    static func backup(_ folder: URL) throws -> URL {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-backup-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: folder, to: copy)
        return copy
    }

    static func restore(_ copy: URL, over folder: URL) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: copy.path) where name.hasSuffix(".key") {
            let target = folder.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: copy.appendingPathComponent(name), to: target)
        }
    }

    @Test("keys restored from a copy older than an erasure are destroyed again at start, and the erased data stays unreadable")
    func erasedKeysStayDestroyed() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            let erased = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
            let kept = try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData())
            let (erasedPath, keptPath) = (try #require(erased.location), try #require(kept.location))
            let copy = try Self.backup(api.vault.keyFolder!)
            defer { try? FileManager.default.removeItem(at: copy) }

            let erasure = try await api.send(
                .post,
                erasedPath + "/erase-personal-data",
                token: n.admin,
                json: ["legalBasis": "GDPR Art. 17", "reference": "DPA-7"],
                ifMatch: erased.etag
            )
            #expect(erasure.status == .ok, "\(erasure.text)")
            // The operator restores the key folder from last week's copy.
            try Self.restore(copy, over: api.vault.keyFolder!)

            let outcome = try await KeyFolderCheck.run(store: api.db.store, vault: api.vault, logger: api.db.logger)
            #expect(outcome.erasedAgain == 1)
            #expect(outcome.missing == 0 && outcome.checked == 1)
            let read = try await api.send(.get, erasedPath + "/personal-data", token: n.coordinator, headers: readReason("check"))
            #expect(read["status"] as? String == "erased", "\(read.text)")
            #expect(!read.text.contains("Milica"))
            let other = try await api.send(.get, keptPath + "/personal-data", token: n.coordinator, headers: readReason("check"))
            #expect(other["status"] as? String == "present", "\(other.text)")
            // Idempotent: the next start finds nothing more to destroy.
            #expect(try await KeyFolderCheck.run(store: api.db.store, vault: api.vault, logger: api.db.logger).erasedAgain == 0)
        }
    }

    @Test("an empty key folder, or keys under another master key, stop the start with one line while sealed data exists")
    func wrongFolderRefuses() async throws {
        try await APIHarness.run { api in
            let n = try await Network.make(api)
            #expect(try await api.send(.post, "/v1/cases", token: n.schoolStaff, json: reportWithPersonalData()).status == .created)
            let empty = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-empty-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: empty) }
            let master = try MasterKey(base64: MasterKey.generate())
            let emptyVault = PersonalDataVault(keys: MasterKeyring(current: master), store: try SubjectKeyStore(directory: empty))
            await #expect(throws: KeyFolderCheck.Refusal.noKeysForSealedData(folder: empty.path, sealed: 1)) {
                try await KeyFolderCheck.run(store: api.db.store, vault: emptyVault, logger: api.db.logger)
            }
            // The right folder with the wrong master key.
            let wrongMaster = PersonalDataVault(keys: MasterKeyring(current: master), store: try SubjectKeyStore(directory: api.vault.keyFolder!))
            await #expect {
                try await KeyFolderCheck.run(store: api.db.store, vault: wrongMaster, logger: api.db.logger)
            } throws: { error in
                guard case .unusableKey = error as? KeyFolderCheck.Refusal else { return false }
                return "\(error)".contains("master key")
            }

            // `spona serve` with the empty folder: it exits, saying why in one line.
            let server = try ServerProcess(databaseURL: api.db.appURL, keyDirectory: empty)
            defer { server.stop() }
            let deadline = ContinuousClock.now + .seconds(20)
            while server.process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!server.process.isRunning, "the server started with an empty key folder")
            #expect(server.process.isRunning || server.process.terminationStatus != 0)
            let log = (try? String(contentsOf: server.log, encoding: .utf8)) ?? ""
            #expect(log.contains("holds none of the keys"), "\(log.suffix(800))")
        }
    }
}
