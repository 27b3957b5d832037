import Foundation
import SponaDomain

#if canImport(Glibc)
import Glibc
#endif

/// One subject's data key, wrapped by a master key: what the key store keeps.
public struct WrappedSubjectKey: Codable, Sendable {
    public var subject: SubjectID
    public var masterKeyID: String
    public var wrappedKey: Data
    public var createdAt: Date
}

/// Where the subjects' wrapped keys are kept: always apart from the database of events and
/// its backups, so that destroying a key erases the subject's data in every copy of the
/// history, however old. A folder (``SubjectKeyStore``: one machine, or a volume the servers
/// share) or a small database of its own (``PostgresSubjectKeyStore``: servers on several
/// machines).
public protocol SubjectKeyStorage: Sendable {
    func read(_ subject: SubjectID) async throws(PrivacyError) -> WrappedSubjectKey?
    /// Stores `key`; with `replacing` false only when the subject has none yet (answers false
    /// when another writer was first).
    func write(_ key: WrappedSubjectKey, replacing: Bool) async throws(PrivacyError) -> Bool
    /// Destroys the subject's key; true when there was one.
    func destroy(_ subject: SubjectID) async throws(PrivacyError) -> Bool
    func subjects() async throws(PrivacyError) -> [SubjectID]
    /// Gets the store ready (a database's table); the server calls it before serving.
    func prepare() async throws(PrivacyError)
    /// Where the keys are, for messages and logs (never a password).
    var location: String { get }
}

/// The subjects' wrapped keys, one small file each, in a folder of their own — deliberately
/// outside the database. A backup of the database then holds only ciphertext: once a key is
/// destroyed here, no copy of the database, however old, can open that subject's data again.
/// (Keep this folder's own backups short-lived, and share it between server processes that
/// serve the same database.)
///
/// Writes are atomic and durable: a temporary file is written and synced, then linked into
/// place (never overwriting a key another request created first), and the folder is synced.
public struct SubjectKeyStore: SubjectKeyStorage {
    public let directory: URL
    public var location: String { directory.path }
    public func prepare() async throws(PrivacyError) {}
    /// Whether writes are synced to disk; only a throw-away store (``PersonalDataVault/temporary()``)
    /// skips it.
    let durable: Bool

    public init(directory: URL) throws(PrivacyError) {
        try self.init(directory: directory, durable: true)
    }

    init(directory: URL, durable: Bool) throws(PrivacyError) {
        self.directory = directory
        self.durable = durable
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .keyStoreUnavailable("cannot create \(directory.path)")
        }
        guard FileManager.default.isWritableFile(atPath: directory.path) else {
            throw .keyStoreUnavailable("\(directory.path) is not writable")
        }
    }

    /// `SPONA_KEY_DIR`, or nil.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(PrivacyError) -> SubjectKeyStore?
    {
        guard let path = environment["SPONA_KEY_DIR"], !path.isEmpty else { return nil }
        return try SubjectKeyStore(directory: URL(fileURLWithPath: path))
    }

    private func file(_ subject: SubjectID) -> URL {
        directory.appendingPathComponent("\(subject.rawValue.uuidString.lowercased()).key")
    }

    public func read(_ subject: SubjectID) throws(PrivacyError) -> WrappedSubjectKey? {
        let url = file(subject)
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            // Absent when we looked (another request may be creating it this very moment).
            return nil
        } catch {
            throw .keyStoreUnavailable("cannot read \(url.lastPathComponent): \(error)")
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(WrappedSubjectKey.self, from: data)
        } catch {
            throw .keyStoreUnavailable("\(url.lastPathComponent) is damaged")
        }
    }

    public func write(_ key: WrappedSubjectKey, replacing: Bool) throws(PrivacyError) -> Bool {
        let target = file(key.subject)
        let temporary = directory.appendingPathComponent(".\(UUID().uuidString).tmp")
        do {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            let data = try encoder.encode(key)
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw PrivacyError.keyStoreUnavailable("cannot write in \(directory.path)")
            }
            let handle = try FileHandle(forWritingTo: temporary)
            try handle.write(contentsOf: data)
            if durable { try handle.synchronize() }
            try handle.close()
            defer { try? FileManager.default.removeItem(at: temporary) }
            if replacing {
                guard rename(temporary.path, target.path) == 0 else {
                    throw PrivacyError.keyStoreUnavailable("cannot replace \(target.lastPathComponent)")
                }
            } else {
                guard link(temporary.path, target.path) == 0 else {
                    if errno == EEXIST { return false }
                    throw PrivacyError.keyStoreUnavailable("cannot store \(target.lastPathComponent)")
                }
            }
            syncDirectory()
            return true
        } catch let error as PrivacyError {
            throw error
        } catch {
            throw .keyStoreUnavailable("cannot write in \(directory.path)")
        }
    }

    public func destroy(_ subject: SubjectID) throws(PrivacyError) -> Bool {
        let url = file(subject)
        guard FileManager.default.fileExists(atPath: url.path) else { return false }
        guard unlink(url.path) == 0 else { throw .keyStoreUnavailable("cannot delete \(url.lastPathComponent)") }
        syncDirectory()
        return true
    }

    public func subjects() throws(PrivacyError) -> [SubjectID] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else {
            throw .keyStoreUnavailable("cannot list \(directory.path)")
        }
        return names.compactMap { name in
            guard name.hasSuffix(".key"), let id = UUID(uuidString: String(name.dropLast(4))) else { return nil }
            return SubjectID(rawValue: id)
        }
    }

    private func syncDirectory() {
        guard durable else { return }
        let descriptor = open(directory.path, O_RDONLY)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
