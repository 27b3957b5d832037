import ArgumentParser
import Crypto
import Foundation
import SponaApplication

/// The master key and the subjects' keys. Neither subcommand touches the database: keys live
/// outside it, so that erasure reaches every backup of it.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a master key, or re-wrap the subjects' keys under a new one; generate the seal key.",
        subcommands: [Generate.self, Rotate.self, GenerateSealKey.self, SealPublicKey.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random master key (base64 of 32 bytes).",
            discussion:
                "Keep it like a password, e.g. `spona keys generate > /etc/spona/master.key; chmod 600 /etc/spona/master.key` and SPONA_MASTER_KEY_FILE=/etc/spona/master.key."
        )

        func run() async throws {
            print(MasterKey.generate())
        }
    }

    struct GenerateSealKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new Ed25519 seal key (base64) on standard output, and its public key on standard error.",
            discussion:
                "The server signs seals with it (SPONA_SEAL_KEY_FILE); auditors verify with the public key. E.g. `spona keys generate-seal-key > /etc/spona/seal.key 2> seal.pub.txt`."
        )

        func run() async throws {
            let key = Curve25519.Signing.PrivateKey()
            print(key.rawRepresentation.base64EncodedString())
            FileHandle.standardError.write(Data("public key: \(key.publicKey.rawRepresentation.base64EncodedString())\n".utf8))
        }
    }

    struct SealPublicKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seal-public-key",
            abstract: "Print the public key of the configured seal key, for auditors.",
            discussion: "Environment: SPONA_SEAL_KEY or SPONA_SEAL_KEY_FILE."
        )

        func run() async throws {
            guard let key = try SealKeys.privateKeyFromEnvironment() else {
                throw CommandFailure("no seal key: set SPONA_SEAL_KEY or SPONA_SEAL_KEY_FILE")
            }
            print(key.publicKey.rawRepresentation.base64EncodedString())
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap every subject key under the current master key; events are not touched.",
            discussion: """
                To change the master key: generate a new one; configure every server with \
                SPONA_MASTER_KEY[_FILE] = the new key and SPONA_PREVIOUS_MASTER_KEY[_FILE] = the old \
                one, and restart them; run `spona keys rotate` with the same configuration; then \
                remove the previous key from the configuration and destroy it.

                Environment: SPONA_MASTER_KEY[_FILE], SPONA_PREVIOUS_MASTER_KEY[_FILE], SPONA_KEY_DIR or SPONA_KEY_DATABASE_URL.
                """
        )

        func run() async throws {
            do {
                let vault = try PersonalDataVault.fromEnvironment(Environment.variables)
                let (rewrapped, current) = try await vault.withStoreRunning { try await $0.rotate() }
                print("re-wrapped \(rewrapped) subject keys under master key \(vault.keys.current.id); \(current) were already under it")
            } catch {
                throw CommandFailure("\(error)")
            }
        }
    }
}
