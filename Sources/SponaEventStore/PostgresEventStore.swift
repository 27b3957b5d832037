import Crypto
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The event store on PostgreSQL: the `events` table of `Schema/0001_event_store.sql`, written
/// only through its `spona_append` function.
///
/// Run it as a service (``run()``) beside its `PostgresClient`: that is what wakes
/// subscribers of every process after an append. Without it, subscribers still see every
/// event, on their next poll.
public struct PostgresEventStore: EventStore, Service {
    public let client: PostgresClient
    let logger: Logger
    let notifier: AppendNotifier
    let pollInterval: Duration
    /// How long one read of events may take before its connection is given up on (closed and
    /// replaced): a read on a connection the server dropped would otherwise wait for ever, and
    /// with it every subscriber and projection.
    let readTimeout: Duration

    /// The channel that wakes subscribers. Notifications carry nothing: a subscriber woken
    /// reads from its own cursor, so a lost or coalesced notification costs latency, not events.
    public static let notificationChannel = "spona_events"

    public init(client: PostgresClient, logger: Logger, pollInterval: Duration = .seconds(1), readTimeout: Duration = .seconds(30)) {
        self.client = client
        self.logger = logger
        self.readTimeout = readTimeout
        self.notifier = AppendNotifier(client: client, channel: Self.notificationChannel, logger: logger)
        self.pollInterval = pollInterval
    }

    /// Sends the wake-up notifications until graceful shutdown.
    public func run() async throws {
        await notifier.run()
    }

    // MARK: Appending

    @discardableResult
    public func append(
        to stream: StreamID,
        expected: ExpectedVersion,
        events: [EventData],
        metadata: EventMetadata,
        idempotencyKey: String?,
        requestFingerprint: Data?,
        unchanged: [StreamCondition]
    ) async throws -> AppendResult {
        guard !events.isEmpty else { throw EventStoreError.noEvents }
        guard unchanged.count <= StreamCondition.maximumPerAppend else { throw EventStoreError.tooManyConditions }
        for event in events where event.type.isEmpty || event.type.utf8.count > 200 {
            throw EventStoreError.invalidEventType(event.type)
        }
        if let key = idempotencyKey, key.isEmpty || key.utf8.count > 300 {
            throw EventStoreError.invalidIdempotencyKey
        }
        let statement = AppendStatement(
            stream: stream.rawValue,
            expected: expected.databaseValue,
            ids: events.map(\.id),
            types: events.map(\.type),
            schemaVersions: events.map(\.schemaVersion),
            payloads: events.map { String(decoding: $0.payload, as: UTF8.self) },
            metadata: String(decoding: metadata.json, as: UTF8.self),
            idempotencyKey: idempotencyKey,
            requestHash: idempotencyKey.map { _ in requestFingerprint ?? Self.requestHash(stream: stream, expected: expected, events: events) },
            conditionStreams: unchanged.map(\.stream.rawValue),
            conditionVersions: unchanged.map(\.version)
        )

        // A concurrent first use of the same key for another stream surfaces as a unique
        // violation on the key; the second attempt then sees the key and answers properly.
        var attempt = 0
        while true {
            attempt += 1
            do {
                for try await (outcome, version, positions, recordedAt, conflictStream) in try await client.execute(statement, logger: logger) {
                    switch outcome {
                    case "appended", "duplicate":
                        if outcome == "appended" { notifier.signal() }
                        return AppendResult(
                            streamVersion: version,
                            positions: positions ?? [],
                            recordedAtMicroseconds: recordedAt ?? 0,
                            wasDuplicate: outcome == "duplicate"
                        )
                    case "conflict":
                        throw EventStoreError.versionConflict(stream: stream, expected: expected, actual: version)
                    case "condition_conflict":
                        let moved = unchanged.first { $0.stream.rawValue == conflictStream }
                        throw EventStoreError.conditionFailed(
                            stream: moved?.stream ?? StreamID(stored: conflictStream ?? ""),
                            expected: moved?.version ?? 0,
                            actual: version
                        )
                    default:
                        throw EventStoreError.idempotencyKeyReused(key: idempotencyKey ?? "")
                    }
                }
                preconditionFailure("spona_append returned no row")
            } catch let error as PSQLError where attempt == 1 && error.isUniqueViolation(on: "idempotency_keys_pkey") {
                continue
            } catch let error as PSQLError where attempt <= 2 && error.code == .clientClosedConnection && !Task.isCancelled {
                // The pool handed out a connection this process was closing (a read on it was
                // cancelled a moment before): the statement never left, so it is sent again.
                continue
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "22P02" {
                // invalid_text_representation: a payload or the metadata is not JSON.
                throw EventStoreError.invalidJSON(what: "payload or metadata")
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55000" {
                throw EventStoreError.orderUntrusted
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "22023" {
                throw EventStoreError.invalidJSON(what: "metadata (it must be a JSON object), or an event")
            }
        }
    }

    /// One append, prepared once per connection: the server parses and plans it once, not on
    /// every call.
    struct AppendStatement: PostgresPreparedStatement {
        static let sql = """
            SELECT outcome, stream_version, positions, (extract(epoch FROM recorded_at) * 1000000)::bigint, conflict_stream
            FROM spona_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            """
        typealias Row = (String, Int64, [Int64]?, Int64?, String?)

        var stream: String
        var expected: Int64?
        var ids: [UUID]
        var types: [String]
        var schemaVersions: [Int32]
        var payloads: [String]
        var metadata: String
        var idempotencyKey: String?
        var requestHash: Data?
        var conditionStreams: [String]
        var conditionVersions: [Int64]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 11)
            bindings.append(stream)
            bindings.append(expected)
            bindings.append(ids)
            bindings.append(types)
            bindings.append(schemaVersions)
            bindings.append(payloads)
            bindings.append(metadata)
            bindings.append(idempotencyKey)
            try bindings.append(requestHash)
            bindings.append(conditionStreams)
            bindings.append(conditionVersions)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// What makes two appends "the same request" for idempotency: the stream, the expectation,
    /// and each event's type, schema version and payload. Not the event ids or the metadata,
    /// which a client's retry may generate anew.
    static func requestHash(stream: StreamID, expected: ExpectedVersion, events: [EventData]) -> Data {
        var hasher = SHA256()
        func field(_ bytes: some Collection<UInt8>) {
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(bytes))
        }
        field(Array(stream.rawValue.utf8))
        field(Array(expected.description.utf8))
        for event in events {
            field(Array(event.type.utf8))
            field(Array(String(event.schemaVersion).utf8))
            field(event.payload)
        }
        return Data(hasher.finalize())
    }

    // MARK: Reading

    static let eventColumns = """
        global_position, transaction_id::text::bigint, stream_id, stream_version, event_id, event_type,
        schema_version, payload::text, metadata::text, (extract(epoch FROM recorded_at) * 1000000)::bigint, hash
        """

    public func readStream(_ stream: StreamID, fromVersion version: Int64, limit: Int) async throws -> [RecordedEvent] {
        try await fetch(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE stream_id = \(stream.rawValue) AND stream_version >= \(version)
            ORDER BY stream_version LIMIT \(Int64(max(0, limit)))
            """
        )
    }

    public func readStreams(_ streams: [StreamID]) async throws -> [RecordedEvent] {
        guard !streams.isEmpty else { return [] }
        return try await fetch(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE stream_id = ANY(\(streams.map(\.rawValue)))
            ORDER BY stream_id, stream_version
            """
        )
    }

    /// The last event readers can see now: the last below the read horizon.
    public func readableHead() async throws -> EventCursor? {
        let rows = try await client.query(
            """
            SELECT transaction_id::text::bigint, global_position FROM events WHERE transaction_id < spona_read_horizon()
            ORDER BY transaction_id DESC, global_position DESC LIMIT 1
            """,
            logger: logger
        )
        for try await (transaction, position) in rows.decode((Int64, Int64).self) {
            return EventCursor(transactionID: UInt64(transaction), position: position)
        }
        return nil
    }

    /// The last event committed now, whether or not the read horizon has passed it: what a
    /// reader must reach to have seen the history as it stands. A transaction held open
    /// anywhere in the cluster holds readers back from it (the read horizon) for as long as
    /// it runs; it does not make those commits any less part of the history.
    public func lastCommitted() async throws -> EventCursor? {
        let rows = try await client.query(
            "SELECT transaction_id::text::bigint, global_position FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
            logger: logger
        )
        for try await (transaction, position) in rows.decode((Int64, Int64).self) {
            return EventCursor(transactionID: UInt64(transaction), position: position)
        }
        return nil
    }

    /// How far a reader at `cursor` is behind: the events after it (committed or not yet
    /// below the read horizon) and the recording time of the oldest of them.
    public func backlog(after cursor: EventCursor, categories: Set<String>? = nil) async throws -> (events: Int64, oldest: Date?) {
        let categories = categories.map { Array($0).sorted() }
        let rows = try await client.query(
            """
            SELECT count(*)::bigint, min(recorded_at) FROM events
            WHERE (transaction_id, global_position) > (\(String(cursor.transactionID))::xid8, \(cursor.position))
              AND (\(categories)::text[] IS NULL OR split_part(stream_id, '-', 1) = ANY(\(categories)::text[]))
            """,
            logger: logger
        )
        for try await (count, oldest) in rows.decode((Int64, Date?).self) { return (count, oldest) }
        return (0, nil)
    }

    public func previousAppend(idempotencyKey: String) async throws -> PreviousAppend? {
        let rows = try await client.query(
            """
            SELECT stream_id, request_hash, stream_version, positions, (extract(epoch FROM recorded_at) * 1000000)::bigint
            FROM idempotency_keys WHERE idempotency_key = \(idempotencyKey)
            """,
            logger: logger
        )
        for try await (stream, hash, version, positions, recordedAt) in rows.decode((String, ByteBuffer, Int64, [Int64], Int64).self) {
            return PreviousAppend(
                stream: StreamID(stored: stream),
                requestHash: Data(buffer: hash),
                result: AppendResult(streamVersion: version, positions: positions, recordedAtMicroseconds: recordedAt, wasDuplicate: true)
            )
        }
        return nil
    }

    /// Events of one type by position, after `position` (oldest first) — or the newest first,
    /// before it. For the few types a partial index serves (`Schema/0009`); any other type is
    /// read by a scan of the whole table.
    public func readEvents(ofType type: String, after position: Int64 = 0, limit: Int) async throws -> [RecordedEvent] {
        try await fetch(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE event_type = \(type) AND global_position > \(position)
            ORDER BY global_position LIMIT \(Int64(max(0, limit)))
            """
        )
    }

    public func readLatestEvents(ofType type: String, before position: Int64 = .max, limit: Int) async throws -> [RecordedEvent] {
        try await fetch(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE event_type = \(type) AND global_position < \(position)
            ORDER BY global_position DESC LIMIT \(Int64(max(0, limit)))
            """
        )
    }

    public func readStreamBackward(_ stream: StreamID, limit: Int) async throws -> [RecordedEvent] {
        try await fetch(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE stream_id = \(stream.rawValue)
            ORDER BY stream_version DESC LIMIT \(Int64(max(0, limit)))
            """
        )
    }

    /// Reads only events of transactions below the oldest one still running: every such
    /// transaction has committed or aborted, so nothing can later appear before the last event
    /// returned. The order (transaction id, position) is the order a cursor advances in.
    public func readAll(after cursor: EventCursor, limit: Int) async throws -> [RecordedEvent] {
        try await page(after: cursor, limit: limit, belowHorizon: true, recordedUpTo: nil)
    }

    /// Like ``readAll(after:limit:)``, only events of streams of the given categories
    /// (``StreamID/category``): a reader that folds cases never fetches the read trail. The
    /// last event returned is the cursor to go on from; the events of other categories
    /// before it are passed over in the database.
    public func readAll(after cursor: EventCursor, limit: Int, categories: Set<String>) async throws -> [RecordedEvent] {
        try await page(after: cursor, limit: limit, belowHorizon: true, recordedUpTo: nil, categories: categories)
    }

    /// Like ``readAll(after:limit:)``, only events recorded at or before `moment`: a history
    /// cut at a past moment, for views as they stood then.
    /// Only streams of `categories` too, when given.
    public func readAll(
        after cursor: EventCursor,
        limit: Int,
        recordedUpTo moment: Date,
        categories: Set<String>? = nil
    ) async throws -> [RecordedEvent] {
        try await page(after: cursor, limit: limit, belowHorizon: true, recordedUpTo: moment, categories: categories)
    }

    /// Like ``readAll(after:limit:recordedUpTo:categories:)``, only events up to `end` in the
    /// history's order (nil: to the end): a reader that knows where the events it may want
    /// stop never scans the rest of the history for them.
    public func readAll(
        after cursor: EventCursor,
        through end: EventCursor?,
        limit: Int,
        recordedUpTo moment: Date,
        categories: Set<String>? = nil
    ) async throws -> [RecordedEvent] {
        try await page(after: cursor, through: end, limit: limit, belowHorizon: true, recordedUpTo: moment, categories: categories)
    }

    /// Events after `cursor` in (transaction id, position) order. Readers stay below the read
    /// horizon; only verification, which must see every committed event, reads past it.
    func page(
        after cursor: EventCursor,
        through end: EventCursor? = nil,
        limit: Int,
        belowHorizon: Bool,
        recordedUpTo moment: Date?,
        categories: Set<String>? = nil
    ) async throws -> [RecordedEvent] {
        let categories = categories.map { Array($0).sorted() }
        let end = end ?? EventCursor(transactionID: UInt64(Int64.max), position: Int64.max)
        return try await fetch(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE (transaction_id, global_position) > (\(String(cursor.transactionID))::xid8, \(cursor.position))
              AND (transaction_id, global_position) <= (\(String(end.transactionID))::xid8, \(end.position))
              AND (NOT \(belowHorizon) OR transaction_id < spona_read_horizon())
              AND (\(moment)::timestamptz IS NULL OR recorded_at <= \(moment))
              AND (\(categories)::text[] IS NULL OR split_part(stream_id, '-', 1) = ANY(\(categories)::text[]))
            -- Qualified: the bare name would sort by the output column transaction_id (the
            -- cast to bigint), which no index has, and every batch would scan the whole table.
            ORDER BY events.transaction_id, events.global_position
            LIMIT \(Int64(max(0, limit)))
            """
        )
    }

    public func subscribe(after cursor: EventCursor) -> EventSubscription {
        EventSubscription(store: self, after: cursor, pollInterval: pollInterval)
    }

    func fetch(_ query: PostgresQuery) async throws -> [RecordedEvent] {
        let (client, logger, limit) = (self.client, self.logger, readTimeout)
        // The wait for a connection is bounded with the read: a pool whose connections the
        // server dropped can keep a caller waiting for one as long as a query on one of them.
        // A cancelled caller (a shutting-down runner, a client gone) stops waiting at once: a
        // read hung on a dead connection must not hold a SIGTERM up for the whole limit.
        let leased = LeasedConnection()
        return try await withTimeout(
            limit,
            timeout: { DatabaseTimeout(limit: limit) },
            onTimeout: { await leased.close() },
            givingUpOnCancel: true
        ) {
            try await client.withConnection { connection in
                leased.set(connection)
                let rows = try await connection.query(query, logger: logger)
                var events: [RecordedEvent] = []
                for try await row in rows {
                    events.append(try Self.decodeEvent(row))
                }
                return events
            }
        }
    }

    static func decodeEvent(_ row: PostgresRow) throws -> RecordedEvent {
        let (position, transaction, stream, version, id, type, schemaVersion, payload, metadata, recordedAt, hash) =
            try row.decode((Int64, Int64, String, Int64, UUID, String, Int32, ByteBuffer, ByteBuffer, Int64, ByteBuffer).self)
        return RecordedEvent(
            position: position,
            transactionID: UInt64(transaction),
            streamID: StreamID(stored: stream),
            version: version,
            id: id,
            type: type,
            schemaVersion: schemaVersion,
            payload: Data(buffer: payload, byteTransferStrategy: .copy),
            metadata: Data(buffer: metadata, byteTransferStrategy: .copy),
            recordedAtMicroseconds: recordedAt,
            hash: Array(buffer: hash)
        )
    }
}

extension PSQLError {
    func isUniqueViolation(on constraint: String) -> Bool {
        serverInfo?[.sqlState] == "23505" && serverInfo?[.constraintName] == constraint
    }
}
