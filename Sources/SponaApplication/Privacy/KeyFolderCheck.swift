import Foundation
import Logging
import SponaDomain
import SponaEventStore
import SponaRecords

/// Holds the subject key folder (`SPONA_KEY_DIR`) to the history when a server starts.
///
/// The folder lives outside the database and is backed up apart from it, so after a restore the
/// two can disagree: an older copy of the folder brings back keys that an erasure in the
/// history destroyed, and a wrong or empty folder would make every case read "erased" with
/// nothing to say why. So at start:
/// - every key of a subject whose erasure is in the history is destroyed again (and the log
///   says how many), so nothing erased comes back;
/// - the newest reports with sealed personal data are looked up: if none of their subjects has
///   a key here, or a key does not unwrap with the configured master keys, the server refuses to
///   start with one line saying so.
public enum KeyFolderCheck {
    public struct Outcome: Sendable, Equatable {
        /// Keys of erased subjects found in the folder and destroyed again.
        public var erasedAgain: Int
        /// Reports with sealed personal data checked, and how many of their keys were missing.
        public var checked: Int
        public var missing: Int
    }

    public enum Refusal: Error, CustomStringConvertible, Equatable {
        case noKeysForSealedData(folder: String, sealed: Int)
        case unusableKey(folder: String, reason: String)

        public var description: String {
            switch self {
            case let .noKeysForSealedData(folder, sealed):
                "the subject key folder \(folder) holds none of the keys of the \(sealed) newest reports with sealed personal data: it is empty or not this database's (check SPONA_KEY_DIR and its mount); refusing to serve every case as erased"
            case let .unusableKey(folder, reason):
                "a subject key in \(folder) cannot be used: \(reason)"
            }
        }
    }

    /// - Parameter sample: how many of the newest reports to check the folder against.
    @discardableResult
    public static func run(store: PostgresEventStore, vault: PersonalDataVault, logger: Logger, sample: Int = 200) async throws -> Outcome {
        var erased = Set<SubjectID>()
        var erasedAgain = 0
        var after: Int64 = 0
        while true {
            let page = try await store.readEvents(ofType: "PersonalDataErased", after: after, limit: 1000)
            guard let last = page.last else { break }
            for recorded in page {
                guard
                    case .personalDataErased(let erasure) = try CaseEvent(
                        typeName: recorded.type,
                        schemaVersion: recorded.schemaVersion,
                        payload: recorded.payload,
                        decoder: EventCoding.decoder
                    )
                else { continue }
                erased.insert(erasure.subject)
                if try await vault.erase(erasure.subject) { erasedAgain += 1 }
            }
            after = last.position
        }
        if erasedAgain > 0 {
            logger.warning(
                "destroyed again the keys of subjects whose personal data was erased: the key folder was restored from a copy older than their erasure",
                metadata: ["keys": "\(erasedAgain)", "folder": "\(vault.store.location)"]
            )
        }

        var checked = 0
        var missing = 0
        for recorded in try await store.readLatestEvents(ofType: "ReportFiled", limit: sample) {
            guard
                case .reportFiled(let report) = try CaseEvent(
                    typeName: recorded.type,
                    schemaVersion: recorded.schemaVersion,
                    payload: recorded.payload,
                    decoder: EventCoding.decoder
                ),
                report.personalData != nil, !erased.contains(report.subject.id)
            else { continue }
            checked += 1
            switch await vault.keyStatus(report.subject.id) {
            case .usable: break
            case .missing: missing += 1
            case .unusable(let error): throw Refusal.unusableKey(folder: vault.store.location, reason: error.description)
            }
        }
        if checked > 0, missing == checked {
            throw Refusal.noKeysForSealedData(folder: vault.store.location, sealed: checked)
        }
        if missing > 0 {
            logger.warning(
                "some of the newest reports' subjects have no key in the key folder: their personal data reads as erased",
                metadata: ["missing": "\(missing)", "checked": "\(checked)", "folder": "\(vault.store.location)"]
            )
        }
        return Outcome(erasedAgain: erasedAgain, checked: checked, missing: missing)
    }
}
