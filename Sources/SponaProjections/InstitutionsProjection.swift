import Foundation
import Logging
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore

/// The registry as a table (`institutions`), for listing and searching institutions.
/// Decisions never read it: they fold the institutions' own streams, which cannot lag.
public struct InstitutionsProjection: Projection {
    public static let projectionName = "institutions"
    public let name = projectionName
    public let tables = ["institutions"]
    let geography: Geography

    public init(geography: Geography) { self.geography = geography }

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        for event in events {
            guard let id = Streams.institutionID(of: event.streamID) else { continue }
            let fact = try InstitutionEvent(typeName: event.type, payload: event.payload, decoder: EventCoding.decoder)
            switch fact {
            case .registered(let details), .updated(let details):
                let district = details.municipality.flatMap { geography.municipality($0) }?.district.rawValue
                try await connection.query("""
                    INSERT INTO institutions (id, name_lat, name_cyr, sector, municipality, district, active, is_center, updated_at)
                    VALUES (\(id.rawValue), \(details.nameLatin), \(details.nameCyrillic), \(details.sector.rawValue),
                            \(details.municipality?.rawValue), \(district), true, \(details.isCenter), \(event.recordedAt))
                    ON CONFLICT (id) DO UPDATE SET name_lat = EXCLUDED.name_lat, name_cyr = EXCLUDED.name_cyr,
                        sector = EXCLUDED.sector, municipality = EXCLUDED.municipality, district = EXCLUDED.district,
                        is_center = EXCLUDED.is_center, updated_at = EXCLUDED.updated_at
                    """, logger: logger)
            case .deactivated, .reactivated:
                let active = fact == .reactivated
                try await connection.query(
                    "UPDATE institutions SET active = \(active), updated_at = \(event.recordedAt) WHERE id = \(id.rawValue)",
                    logger: logger)
            }
        }
    }
}
