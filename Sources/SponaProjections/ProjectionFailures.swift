import Foundation
import Logging
import PostgresNIO
import SponaDomain
import SponaEventStore
import SponaRecords

/// An event a projection could not apply: the projection stands still just before it until it
/// applies (after a fix, or an operator's retry) or an operator skips it.
public struct ProjectionFailure: Sendable, Hashable, Encodable {
    public var projection: String
    public var eventID: UUID
    public var stream: String
    public var version: Int64
    public var position: Int64
    public var type: String
    /// What went wrong, without any value of the event.
    public var error: String
    public var failedSince: Date?
    public var attempts: Int64

    init(projection: String, event: RecordedEvent, error: String) {
        self.projection = projection
        self.eventID = event.id
        self.stream = event.streamID.rawValue
        self.version = event.version
        self.position = event.position
        self.type = event.type
        self.error = error
        self.failedSince = nil
        self.attempts = 1
    }

    init(
        projection: String,
        eventID: UUID,
        stream: String,
        version: Int64,
        position: Int64,
        type: String,
        error: String,
        failedSince: Date?,
        attempts: Int64
    ) {
        self.projection = projection
        self.eventID = eventID
        self.stream = stream
        self.version = version
        self.position = position
        self.type = type
        self.error = error
        self.failedSince = failedSince
        self.attempts = attempts
    }

    var logMetadata: Logger.Metadata {
        [
            "projection": "\(projection)", "event.id": "\(eventID)", "event.stream": "\(stream)", "event.version": "\(version)",
            "event.position": "\(position)", "event.type": "\(type)", "error": "\(error)",
        ]
    }
}

/// The `projection_failures` table: which projections stand still, and at which event. Its
/// runner writes and clears a projection's row; status, readiness and metrics read it.
public enum ProjectionFailures {
    static func record(_ failure: ProjectionFailure, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO projection_failures AS f (projection, event_id, stream_id, stream_version, global_position, event_type, error)
            VALUES (\(failure.projection), \(failure.eventID), \(failure.stream), \(failure.version), \(failure.position),
                    \(failure.type), \(failure.error))
            ON CONFLICT (projection) DO UPDATE SET
                failed_since = CASE WHEN f.event_id = EXCLUDED.event_id THEN f.failed_since ELSE now() END,
                attempts = CASE WHEN f.event_id = EXCLUDED.event_id THEN f.attempts + 1 ELSE 1 END,
                event_id = EXCLUDED.event_id, stream_id = EXCLUDED.stream_id, stream_version = EXCLUDED.stream_version,
                global_position = EXCLUDED.global_position, event_type = EXCLUDED.event_type, error = EXCLUDED.error,
                last_attempt_at = now()
            """,
            logger: logger
        )
    }

    static func clear(_ projection: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("DELETE FROM projection_failures WHERE projection = \(projection)", logger: logger)
    }

    static func failure(of projection: String, on connection: PostgresConnection, logger: Logger) async throws -> ProjectionFailure? {
        try await decode(connection.query(query(where: projection), logger: logger)).first
    }

    /// Every stopped projection, by name.
    public static func all(client: PostgresClient, logger: Logger) async throws -> [String: ProjectionFailure] {
        let failures = try await decode(client.query(query(where: nil), logger: logger))
        return Dictionary(failures.map { ($0.projection, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Forgets that `projection` stopped, so its runner tries the event again now; true when it
    /// had stopped.
    public static func retry(_ projection: String, client: PostgresClient, logger: Logger) async throws -> Bool {
        let rows = try await client.query("DELETE FROM projection_failures WHERE projection = \(projection) RETURNING 1", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    private static func query(where projection: String?) -> PostgresQuery {
        """
        SELECT projection, event_id, stream_id, stream_version, global_position, event_type, error, failed_since, attempts
        FROM projection_failures WHERE \(projection)::text IS NULL OR projection = \(projection) ORDER BY projection
        """
    }

    private static func decode(_ rows: PostgresRowSequence) async throws -> [ProjectionFailure] {
        var result: [ProjectionFailure] = []
        for try await (name, id, stream, version, position, type, error, since, attempts) in rows.decode(
            (String, UUID, String, Int64, Int64, String, String, Date, Int64).self
        ) {
            result.append(
                ProjectionFailure(
                    projection: name,
                    eventID: id,
                    stream: stream,
                    version: version,
                    position: position,
                    type: type,
                    error: error,
                    failedSince: since,
                    attempts: attempts
                )
            )
        }
        return result
    }
}

/// An operator's decision, recorded in the history, that a projection goes on without one
/// event it cannot apply (`spona projections skip`). The history keeps the event; only this
/// projection's figures leave it out, and anyone can see that and why.
public struct ProjectionEventSkipped: Codable, Sendable, Hashable {
    public var projection: String
    public var eventID: UUID
    public var stream: String
    public var version: Int64
    public var reason: String

    public init(projection: String, eventID: UUID, stream: String, version: Int64, reason: String) {
        self.projection = projection
        self.eventID = eventID
        self.stream = stream
        self.version = version
        self.reason = reason
    }

    public static let typeName = "ProjectionEventSkipped"
    public static let schemas = EventSchemas(family: "projection", [typeName: .init(current: 1)])
    public static var schemaVersion: Int32 { schemas.current(typeName) }
    /// Every skip of every projection, in one stream.
    public static let stream: StreamID = "projections-skips"

    /// The events `projection` was told to skip.
    public static func recorded(for projection: String, in store: PostgresEventStore) async throws -> Set<UUID> {
        var skipped = Set<UUID>()
        for event in try await store.readStream(stream) where event.type == typeName {
            // A skip this version cannot read is no skip: the projection stays stopped.
            guard let skip = try? EventCoding.decode(ProjectionEventSkipped.self, event, schemas: schemas), skip.projection == projection else {
                continue
            }
            skipped.insert(skip.eventID)
        }
        return skipped
    }
}
