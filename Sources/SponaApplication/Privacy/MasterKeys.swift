import Crypto
import Foundation

/// A key-encryption key from configuration. Subject keys are wrapped by it (AES key wrap,
/// RFC 3394); it never touches personal data itself and is never stored by Spona.
public struct MasterKey: Sendable {
    /// The first 8 bytes of the key's SHA-256, in hex: names the key in wrapped subject keys
    /// without revealing it.
    public let id: String
    let key: SymmetricKey

    public init(base64 text: String) throws(PrivacyError) {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .masterKeyInvalid("it is not base64")
        }
        guard data.count == 32 else { throw .masterKeyInvalid("it must be 32 bytes (256 bits), not \(data.count)") }
        self.key = SymmetricKey(data: data)
        self.id = SHA256.hash(data: data).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A new random master key, as base64.
    public static func generate() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }
}

/// The master keys a process knows: the current one, which wraps every new subject key, and
/// previous ones still accepted for unwrapping while `spona keys rotate` re-wraps.
public struct MasterKeyring: Sendable {
    public let current: MasterKey
    public let previous: [MasterKey]

    public init(current: MasterKey, previous: [MasterKey] = []) {
        self.current = current
        self.previous = previous
    }

    func key(id: String) -> MasterKey? {
        current.id == id ? current : previous.first { $0.id == id }
    }

    /// `SPONA_MASTER_KEY` or the file `SPONA_MASTER_KEY_FILE` names; `SPONA_PREVIOUS_MASTER_KEY`
    /// or `SPONA_PREVIOUS_MASTER_KEY_FILE` for a rotation. Nil when none is configured.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(PrivacyError) -> MasterKeyring? {
        func read(_ name: String) throws(PrivacyError) -> MasterKey? {
            if let text = environment[name], !text.isEmpty { return try MasterKey(base64: text) }
            if let path = environment[name + "_FILE"], !path.isEmpty {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw .masterKeyInvalid("cannot read \(name)_FILE \(path)")
                }
                return try MasterKey(base64: text)
            }
            return nil
        }
        guard let current = try read("SPONA_MASTER_KEY") else { return nil }
        return MasterKeyring(current: current, previous: try read("SPONA_PREVIOUS_MASTER_KEY").map { [$0] } ?? [])
    }
}
