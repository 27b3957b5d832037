import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords

/// The institutions a command names, as they stand now: folded from their own streams, in
/// one round trip, so a decision never works from a stale copy (an institution deactivated a
/// second ago receives no referral).
public struct InstitutionDirectory: Sendable {
    let store: any EventStore

    public init(store: any EventStore) { self.store = store }

    public func institutions(_ ids: some Sequence<InstitutionID>) async throws -> [InstitutionID: Institution] {
        try Self.fold(try await store.readStreams(Set(ids).map(Streams.institution)))
    }

    /// The institutions whose streams' events these are (in stream order).
    public static func fold(_ events: [RecordedEvent]) throws -> [InstitutionID: Institution] {
        var result: [InstitutionID: Institution] = [:]
        for event in events {
            guard let id = Streams.institutionID(of: event.streamID) else { continue }
            let fact = try InstitutionEvent(
                typeName: event.type,
                schemaVersion: event.schemaVersion,
                payload: event.payload,
                decoder: EventCoding.decoder
            )
            result[id] = InstitutionEvent.evolve(result[id], fact)
        }
        return result
    }

    public func institution(_ id: InstitutionID) async throws -> (Institution, version: Int64)? {
        let events = try await store.readStream(Streams.institution(id))
        var state: Institution?
        for event in events {
            state = InstitutionEvent.evolve(
                state,
                try InstitutionEvent(typeName: event.type, schemaVersion: event.schemaVersion, payload: event.payload, decoder: EventCoding.decoder)
            )
        }
        return state.map { ($0, Int64(events.count)) }
    }
}
