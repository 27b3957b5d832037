import Crypto
import Foundation
import Logging
import ServiceLifecycle
import SponaDomain
import SponaEventStore

/// Seals, opens and erases subjects' personal data: AES-GCM under a key of the subject's
/// own, that key wrapped by the master key and kept in the ``SubjectKeyStore``.
public struct PersonalDataVault: Sendable {
    public let keys: MasterKeyring
    public let store: any SubjectKeyStorage

    public init(keys: MasterKeyring, store: any SubjectKeyStorage) {
        self.keys = keys
        self.store = store
    }

    /// Seals `data` for `subject`, creating the subject's key when it has none. The nonce is
    /// derived from the key and the plaintext, so a retried request seals to the same bytes
    /// (and is recognised as the same request); the only thing this reveals is that two
    /// sealings of one subject's data are equal.
    ///
    /// - Returns: the sealed data, and whether the key was created now (to destroy it again
    ///   if the report is then refused).
    public func seal(_ data: PersonalData, subject: SubjectID) async throws(PrivacyError) -> (sealed: SealedPersonalData, createdKey: Bool) {
        try data.validate()
        let (key, created) = try await subjectKey(subject, create: true)
        guard let key else { throw .keyStoreUnavailable("the key of a new subject could not be stored") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let plaintext = try? encoder.encode(data) else { throw .invalidPersonalData("personal data cannot be encoded") }
        let nonceBytes = Data(HMAC<SHA256>.authenticationCode(for: plaintext, using: key)).prefix(12)
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: try AES.GCM.Nonce(data: nonceBytes), authenticating: Self.context(subject))
            guard let combined = box.combined else { throw PrivacyError.sealedDataCorrupt }
            return (SealedPersonalData(ciphertext: combined.base64EncodedString(), keyID: subject.rawValue.uuidString.lowercased()), created)
        } catch let error as PrivacyError {
            throw error
        } catch {
            throw .sealedDataCorrupt
        }
    }

    /// A stable digest of `data` (hex of SHA-256 over its canonical JSON), or "none": what
    /// makes two requests' personal data the same.
    public static func digest(_ data: PersonalData?) -> String {
        guard let data else { return "none" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let bytes = try? encoder.encode(data) else { return "unencodable" }
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Opens sealed data; nil when the subject's key was destroyed (the data is erased).
    public func open(_ sealed: SealedPersonalData, subject: SubjectID) async throws(PrivacyError) -> PersonalData? {
        guard let key = try await subjectKey(subject, create: false).key else { return nil }
        do {
            guard let combined = Data(base64Encoded: sealed.ciphertext) else { throw PrivacyError.sealedDataCorrupt }
            let plaintext = try AES.GCM.open(try AES.GCM.SealedBox(combined: combined), using: key, authenticating: Self.context(subject))
            return try JSONDecoder().decode(PersonalData.self, from: plaintext)
        } catch {
            throw .sealedDataCorrupt
        }
    }

    /// Seals a text written into the subject's case (a note, a reason) under the subject's
    /// key. The nonce is random: two equal notes do not look equal in the history.
    ///
    /// - Parameter createKey: whether the subject may be given a key now: only when nothing of
    ///   theirs was ever sealed. A key missing after that was destroyed by an erasure (perhaps
    ///   one that a restored backup does not record), and a new one would outlive it.
    public func seal(text: String, subject: SubjectID, createKey: Bool) async throws(PrivacyError) -> CaseText {
        try await textSealer(subject: subject, createKey: createKey).seal(text)
    }

    /// What seals texts for `subject` (the key read, or made, once for all of them).
    public func textSealer(subject: SubjectID, createKey: Bool) async throws(PrivacyError) -> CaseTextSealer {
        let (key, _) = try await subjectKey(subject, create: createKey)
        guard let key else { throw createKey ? .keyStoreUnavailable("the key of a subject could not be stored") : .subjectKeyDestroyed }
        return CaseTextSealer(key: key, subject: subject)
    }

    /// Seals case texts with one subject's key.
    public struct CaseTextSealer: Sendable {
        let key: SymmetricKey
        let subject: SubjectID

        public func seal(_ text: String) throws(PrivacyError) -> CaseText {
            do {
                let box = try AES.GCM.seal(Data(text.utf8), using: key, authenticating: PersonalDataVault.textContext(subject))
                guard let combined = box.combined else { throw PrivacyError.sealedDataCorrupt }
                return .sealed(ciphertext: combined.base64EncodedString(), keyID: subject.rawValue.uuidString.lowercased())
            } catch let error as PrivacyError {
                throw error
            } catch {
                throw .sealedDataCorrupt
            }
        }
    }

    /// What opens the case texts sealed for `subject`; nil when the subject's key was
    /// destroyed (the texts are erased). The key is read once for all of a case's texts.
    public func textOpener(subject: SubjectID) async throws(PrivacyError) -> CaseTextOpener? {
        guard let key = try await subjectKey(subject, create: false).key else { return nil }
        return CaseTextOpener(key: key, subject: subject)
    }

    /// Opens case texts with one subject's key.
    public struct CaseTextOpener: Sendable {
        let key: SymmetricKey
        let subject: SubjectID

        /// The text; texts recorded in the clear, or not yet sealed, come back as they are.
        public func open(_ text: CaseText) throws(PrivacyError) -> String {
            guard case let .sealed(ciphertext, keyID) = text else { return text.plain ?? "" }
            guard keyID == subject.rawValue.uuidString.lowercased(), let combined = Data(base64Encoded: ciphertext) else {
                throw .sealedDataCorrupt
            }
            do {
                let box = try AES.GCM.SealedBox(combined: combined)
                return String(decoding: try AES.GCM.open(box, using: key, authenticating: PersonalDataVault.textContext(subject)), as: UTF8.self)
            } catch {
                throw .sealedDataCorrupt
            }
        }
    }

    /// Destroys the subject's key: its sealed data can never be opened again, wherever a copy
    /// of it is. True when there was a key.
    @discardableResult
    public func erase(_ subject: SubjectID) async throws(PrivacyError) -> Bool {
        try await store.destroy(subject)
    }

    public enum KeyStatus: Sendable, Equatable {
        /// The key is here and unwraps with a configured master key.
        case usable
        case missing
        /// There is a key file, and it does not unwrap (a master key not configured, a damaged file).
        case unusable(PrivacyError)
    }

    /// Whether the subject's key is here and usable, without opening anything.
    public func keyStatus(_ subject: SubjectID) async -> KeyStatus {
        do {
            guard let wrapped = try await store.read(subject) else { return .missing }
            _ = try unwrap(wrapped)
            return .usable
        } catch {
            return .unusable(error)
        }
    }

    /// The folder the subjects' keys are kept in, when they are kept in one.
    public var keyFolder: URL? { (store as? SubjectKeyStore)?.directory }

    /// Re-wraps every subject key under the current master key; events are not touched.
    public func rotate() async throws(PrivacyError) -> (rewrapped: Int, current: Int) {
        var rewrapped = 0
        var current = 0
        for subject in try await store.subjects() {
            guard var wrapped = try await store.read(subject) else { continue }
            if wrapped.masterKeyID == keys.current.id {
                current += 1
                continue
            }
            let key = try unwrap(wrapped)
            do {
                wrapped.wrappedKey = try AES.KeyWrap.wrap(key, using: keys.current.key)
            } catch {
                throw .masterKeyInvalid("wrapping failed")
            }
            wrapped.masterKeyID = keys.current.id
            _ = try await store.write(wrapped, replacing: true)
            rewrapped += 1
        }
        return (rewrapped, current)
    }

    private func subjectKey(_ subject: SubjectID, create: Bool) async throws(PrivacyError) -> (key: SymmetricKey?, created: Bool) {
        if let wrapped = try await store.read(subject) { return (try unwrap(wrapped), false) }
        guard create else { return (nil, false) }
        let key = SymmetricKey(size: .bits256)
        let wrapped: Data
        do { wrapped = try AES.KeyWrap.wrap(key, using: keys.current.key) } catch { throw .masterKeyInvalid("wrapping failed") }
        if try await store.write(
            WrappedSubjectKey(subject: subject, masterKeyID: keys.current.id, wrappedKey: wrapped, createdAt: Date()),
            replacing: false
        ) {
            return (key, true)
        }
        // Another request for the same subject stored its key first: use that one.
        guard let existing = try await store.read(subject) else { throw .keyStoreUnavailable("a subject key vanished while being created") }
        return (try unwrap(existing), false)
    }

    private func unwrap(_ wrapped: WrappedSubjectKey) throws(PrivacyError) -> SymmetricKey {
        guard let master = keys.key(id: wrapped.masterKeyID) else { throw .unknownMasterKey(id: wrapped.masterKeyID) }
        do {
            return try AES.KeyWrap.unwrap(wrapped.wrappedKey, using: master.key)
        } catch {
            throw .masterKeyInvalid("subject key \(wrapped.subject) does not unwrap with master key \(master.id)")
        }
    }

    /// Binds a ciphertext to its subject: it cannot be moved to another subject's report.
    private static func context(_ subject: SubjectID) -> Data {
        Data("spona-personal-data|\(subject.rawValue.uuidString.lowercased())".utf8)
    }

    /// The same for case texts, apart from personal data: neither can pass for the other.
    static func textContext(_ subject: SubjectID) -> Data {
        Data("spona-case-text|\(subject.rawValue.uuidString.lowercased())".utf8)
    }
}

extension PersonalDataVault {
    /// A vault of its own for an invented history (`spona demo`, benchmarks, tests): a fresh
    /// master key that is never written down and a new folder under the system's temporary
    /// one, so nothing it seals can be opened once the process ends. Its writes are not synced:
    /// nothing in it is worth keeping.
    public static func temporary() throws(PrivacyError) -> PersonalDataVault {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spona-keys-\(UUID().uuidString.lowercased())")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            return PersonalDataVault(
                keys: MasterKeyring(current: try MasterKey(base64: MasterKey.generate())),
                store: try SubjectKeyStore(directory: folder, durable: false)
            )
        } catch let error as PrivacyError {
            throw error
        } catch {
            throw .keyStoreUnavailable("a temporary key folder could not be made: \(error)")
        }
    }

    /// The vault configured by `SPONA_MASTER_KEY`/`SPONA_MASTER_KEY_FILE` (and the previous
    /// key during a rotation) and `SPONA_KEY_DIR`.
    ///
    /// The keys are kept in `SPONA_KEY_DATABASE_URL`'s database when it is set (its password
    /// may come from `SPONA_KEY_DATABASE_PASSWORD[_FILE]`), else in the folder `SPONA_KEY_DIR`.
    /// A database store must be run (it is a ``Service``) and prepared before use.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "spona.keys")
    ) throws(PrivacyError) -> PersonalDataVault {
        guard let keys = try MasterKeyring.fromEnvironment(environment) else { throw .masterKeyMissing }
        func value(_ name: String) throws(PrivacyError) -> String? {
            if let text = environment[name], !text.isEmpty { return text }
            guard let path = environment[name + "_FILE"], !path.isEmpty else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else { throw .keyStoreUnavailable("\(name)_FILE \(path) cannot be read") }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        }
        if let text = try value("SPONA_KEY_DATABASE_URL") {
            guard environment["SPONA_KEY_DIR"].map(\.isEmpty) ?? true else {
                throw .keyStoreUnavailable("set SPONA_KEY_DATABASE_URL or SPONA_KEY_DIR, not both: the keys are kept in one place")
            }
            var url: DatabaseURL
            do { url = try DatabaseURL(text) } catch { throw .keyStoreUnavailable("SPONA_KEY_DATABASE_URL: \(error)") }
            if let password = try value("SPONA_KEY_DATABASE_PASSWORD") { url.configuration.password = password }
            return PersonalDataVault(keys: keys, store: PostgresSubjectKeyStore(url: url, logger: logger))
        }
        guard let store = try SubjectKeyStore.fromEnvironment(environment) else {
            throw .keyStoreUnavailable(
                "set SPONA_KEY_DIR to the folder, or SPONA_KEY_DATABASE_URL to the database, that keeps the subjects' keys (outside the database of events and its backups)"
            )
        }
        return PersonalDataVault(keys: keys, store: store)
    }
}

extension PersonalDataVault {
    /// The store's own services (a key database's connection pool), for a server to run.
    public var services: [any Service] {
        (store as? PostgresSubjectKeyStore).map { [$0] } ?? []
    }

    /// Runs `body` with the store running and prepared: for a command (`spona keys rotate`,
    /// `spona demo`) that uses the vault outside a server.
    public func withStoreRunning<T: Sendable>(_ body: @Sendable (PersonalDataVault) async throws -> T) async throws -> T {
        guard let database = store as? PostgresSubjectKeyStore else {
            try await store.prepare()
            return try await body(self)
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await database.run() }
            defer { group.cancelAll() }
            try await database.prepare()
            return try await body(self)
        }
    }
}
