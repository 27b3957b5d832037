import Foundation
import Logging
import PostgresNIO
import SponaDomain
import SponaEventStore
import SponaRecords

/// The registry as a table (`institutions`), for listing and searching institutions.
/// Decisions never read it: they fold the institutions' own streams, which cannot lag.
public struct InstitutionsProjection: Projection {
    public static let projectionName = "institutions"
    public let name = projectionName
    public let tables = ["institutions"]
    public var categories: Set<String>? { [Streams.Category.institutions] }
    /// Raise it with any change to the fold or the tables: servers then rebuild it from the
    /// history on start (see ``Projection/version``).
    /// 2: `is_center` by the Center's id alone, never by what a registration said.
    public static let currentVersion = 2
    public var version: Int { Self.currentVersion }
    let geography: Geography

    public init(geography: Geography) { self.geography = geography }

    public func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws {
        for event in events {
            guard let id = Streams.institutionID(of: event.streamID) else { continue }
            let fact = try InstitutionEvent(
                typeName: event.type,
                schemaVersion: event.schemaVersion,
                payload: event.payload,
                decoder: EventCoding.decoder
            )
            switch fact {
            case .registered(let details), .updated(let details):
                let district = details.municipality.flatMap { geography.municipality($0) }?.district.rawValue
                try await connection.query(
                    """
                    INSERT INTO institutions (id, name_lat, name_cyr, sector, municipality, district, active, is_center, updated_at)
                    VALUES (\(id.rawValue), \(details.nameLatin), \(details.nameCyrillic), \(details.sector.rawValue),
                            \(details.municipality?.rawValue), \(district), true, \(Institution.isCenter(details.id)), \(event.recordedAt))
                    ON CONFLICT (id) DO UPDATE SET name_lat = EXCLUDED.name_lat, name_cyr = EXCLUDED.name_cyr,
                        sector = EXCLUDED.sector, municipality = EXCLUDED.municipality, district = EXCLUDED.district,
                        is_center = EXCLUDED.is_center, updated_at = EXCLUDED.updated_at
                    """,
                    logger: logger
                )
            case .deactivated, .reactivated:
                let active = fact == .reactivated
                try await connection.query(
                    "UPDATE institutions SET active = \(active), updated_at = \(event.recordedAt) WHERE id = \(id.rawValue)",
                    logger: logger
                )
            }
        }
    }
}

// MARK: - Reading the table

extension InstitutionsProjection {
    /// What a listing may ask for; nil means any.
    public struct Filter: Sendable {
        public var district: String?
        public var sector: String?
        public var municipality: String?
        public init(district: String? = nil, sector: String? = nil, municipality: String? = nil) {
            self.district = district
            self.sector = sector
            self.municipality = municipality
        }
    }

    /// One page of the registry in Latin alphabetical order, starting after the institution
    /// `after` (the last of the previous page), and whether more follow. Ordered by (name,
    /// id), so a page boundary never repeats or skips an institution however many are added.
    public static func list(
        _ filter: Filter,
        after: InstitutionID?,
        limit: Int,
        on client: PostgresClient,
        logger: Logger
    ) async throws -> (institutions: [Institution], more: Bool) {
        let rows = try await client.query(
            """
            SELECT id, name_lat, name_cyr, sector, municipality, active, is_center FROM institutions
            WHERE (\(filter.district)::text IS NULL OR district = \(filter.district))
              AND (\(filter.sector)::text IS NULL OR sector = \(filter.sector))
              AND (\(filter.municipality)::text IS NULL OR municipality = \(filter.municipality))
              AND (\(after?.rawValue)::uuid IS NULL
                   OR (name_lat, id) > (SELECT name_lat, id FROM institutions WHERE id = \(after?.rawValue)))
            ORDER BY name_lat, id LIMIT \(limit + 1)
            """,
            logger: logger
        )
        var institutions: [Institution] = []
        for try await (id, nameLatin, nameCyrillic, sector, municipality, active, isCenter)
            in rows.decode((UUID, String, String?, String, String?, Bool, Bool).self)
        {
            institutions.append(
                Institution(
                    id: InstitutionID(rawValue: id),
                    nameLatin: nameLatin,
                    nameCyrillic: nameCyrillic,
                    sector: Sector(rawValue: sector) ?? .other,
                    municipality: municipality.map(MunicipalityCode.init(rawValue:)),
                    isActive: active,
                    isCenter: isCenter
                )
            )
        }
        let more = institutions.count > limit
        return (Array(institutions.prefix(limit)), more)
    }

    /// Whether `id` is in the table (a page cursor must name a listed institution).
    public static func contains(_ id: InstitutionID, on client: PostgresClient, logger: Logger) async throws -> Bool {
        let rows = try await client.query("SELECT 1 FROM institutions WHERE id = \(id.rawValue)", logger: logger)
        for try await _ in rows { return true }
        return false
    }
}
