import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords

/// Every read of a case by a person is itself a fact: who (in the metadata), which case, what
/// was read, and why when the route asks. Recorded in the case's access stream before the
/// answer leaves the server, so no read happens without its trace.
public struct ReadTrail: Sendable {
    let store: any EventStore

    public init(store: any EventStore) { self.store = store }

    public enum Read: String, Codable, Sendable, CaseIterable {
        case `case`
        case history
        case personalData = "personal_data"
    }

    public struct CaseRead: Codable, Hashable, Sendable {
        public var `case`: CaseID
        public var read: Read
        /// Why personal data was read, as the reader said it: sealed under the subject's key
        /// (it may well name the person), opened for auditors, erased with the subject.
        public var reason: CaseText?
    }

    public static let eventType = "CaseRead"

    /// The versions of the access records (reads of cases and auditors' queries), as for
    /// ``CaseEvent/schemas``.
    public static let schemas = EventSchemas(
        family: "access",
        [
            // Version 2: the reason sealed (``CaseText``); version 1 held it in the clear.
            eventType: .init(current: 2, upcasters: [1: CaseEvent.clearTexts(["reason"])]), "AuditQueried": .init(current: 1),
            ViewQuery.eventType: .init(current: 1), ReadRefused.eventType: .init(current: 1),
        ]
    )

    /// An analyst's question to a regional view: which view, with which filters. Combined,
    /// such questions are how small counts are attacked, so each is on record for auditors.
    public struct ViewQuery: Codable, Hashable, Sendable {
        public static let eventType = "ViewQueried"
        public var view: String
        public var filters: [String: String]
        public init(view: String, filters: [String: String]) {
            self.view = view
            self.filters = filters
        }
    }

    /// Every analyst's view query, in one stream of the access category.
    public static let viewQueries: StreamID = "access-views"

    public func record(_ query: ViewQuery, caller: Caller, requestID: String) async throws {
        let payload = try EventCoding.encoder.encode(query)
        let metadata = try EventCoding.metadata(CommandMetadata(actor: caller.actor, requestID: requestID))
        try await store.append(
            to: Self.viewQueries,
            expected: .any,
            events: [EventData(type: ViewQuery.eventType, schemaVersion: Self.schemas.current(ViewQuery.eventType), payload: payload)],
            metadata: metadata
        )
    }

    /// A read refused because its reader had read too much personal data this hour: on the
    /// case's trail, so that an attempt at bulk reading is as visible as the reads themselves.
    public struct ReadRefused: Codable, Hashable, Sendable {
        public static let eventType = "CaseReadRefused"
        public var `case`: CaseID
        public var read: Read
        /// The limit that refused it: reads allowed per hour.
        public var limitPerHour: Int
    }

    public func recordRefusal(_ read: Read, of id: CaseID, limitPerHour: Int, caller: Caller, requestID: String) async throws {
        try await append(
            ReadRefused(case: id, read: read, limitPerHour: limitPerHour),
            type: ReadRefused.eventType,
            to: Streams.access(id),
            caller,
            requestID
        )
    }

    public func record(_ read: Read, of id: CaseID, reason: CaseText?, caller: Caller, requestID: String) async throws {
        try await append(CaseRead(case: id, read: read, reason: reason), type: Self.eventType, to: Streams.access(id), caller, requestID)
    }

    /// One access record, at its type's current schema version, with the caller in its metadata.
    private func append(_ record: some Encodable, type: String, to stream: StreamID, _ caller: Caller, _ requestID: String) async throws {
        try await store.append(
            to: stream,
            expected: .any,
            events: [EventData(type: type, schemaVersion: Self.schemas.current(type), payload: try EventCoding.encoder.encode(record))],
            metadata: try EventCoding.metadata(CommandMetadata(actor: caller.actor, requestID: requestID))
        )
    }

    /// The records of reads of one case, oldest first.
    public func records(of id: CaseID) async throws -> [(read: CaseRead, metadata: CommandMetadata, at: Date)] {
        try await store.readStream(Streams.access(id)).map {
            (
                try EventCoding.decode(CaseRead.self, $0, schemas: Self.schemas),
                try EventCoding.decoder.decode(CommandMetadata.self, from: $0.metadata), $0.recordedAt
            )
        }
    }
}
