import Foundation

/// What identifies the person a report is about. It exists in clear only in a request that
/// brings it and in the answer to a read that gives a reason; everywhere else — events,
/// backups, logs, projections — it is sealed under the subject's own key.
public struct PersonalData: Codable, Hashable, Sendable {
    public var name: String?
    /// As known, e.g. "2010-05-01" or "2010".
    public var birthDate: String?
    public var contacts: [String]?
    public var documents: [String]?
    /// The reporter's account of what happened.
    public var narrative: String?

    public init(name: String? = nil, birthDate: String? = nil, contacts: [String]? = nil, documents: [String]? = nil, narrative: String? = nil) {
        self.name = name
        self.birthDate = birthDate
        self.contacts = contacts
        self.documents = documents
        self.narrative = narrative
    }

    /// Limits that keep one report's personal data a few kilobytes. The messages name the
    /// field, never its content.
    public func validate() throws(PrivacyError) {
        func check(_ value: String?, _ field: String, _ limit: Int) throws(PrivacyError) {
            guard let value else { return }
            guard value.utf8.count <= limit else { throw .invalidPersonalData("field 'personalData.\(field)' is longer than \(limit) bytes") }
        }
        try check(name, "name", 500)
        try check(birthDate, "birthDate", 20)
        try check(narrative, "narrative", 20_000)
        for (field, list) in [("contacts", contacts ?? []), ("documents", documents ?? [])] {
            guard list.count <= 20 else { throw .invalidPersonalData("field 'personalData.\(field)' has more than 20 entries") }
            for value in list { try check(value, field, 500) }
        }
        if self == PersonalData() { throw .invalidPersonalData("field 'personalData' is empty; leave it out instead") }
    }
}

/// Why personal data could not be sealed, opened or erased. Messages never carry the data.
public enum PrivacyError: Error, Hashable, Sendable, CustomStringConvertible {
    case masterKeyMissing
    case masterKeyInvalid(String)
    case unknownMasterKey(id: String)
    case keyStoreUnavailable(String)
    case invalidPersonalData(String)
    case sealedDataCorrupt
    /// The subject's key is gone although the history records no erasure: it was erased in a
    /// history this database was restored from before.
    case subjectKeyDestroyed

    public var description: String {
        switch self {
        case .masterKeyMissing:
            "no master key is configured: set SPONA_MASTER_KEY (base64 of 32 random bytes) or SPONA_MASTER_KEY_FILE; `spona keys generate` makes one"
        case .masterKeyInvalid(let reason): "the master key is not usable: \(reason)"
        case .unknownMasterKey(let id):
            "a subject key is wrapped by master key \(id), which is not configured; set it as SPONA_PREVIOUS_MASTER_KEY and run `spona keys rotate`"
        case .keyStoreUnavailable(let reason): "the subject key store is not usable: \(reason)"
        case .invalidPersonalData(let reason): reason
        case .sealedDataCorrupt: "the sealed personal data does not open with its key: it was altered"
        case .subjectKeyDestroyed:
            "the subject's personal data was erased (its key is destroyed), though this history does not record it; no text about the subject can be recorded any more"
        }
    }
}
