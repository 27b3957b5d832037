import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SchemaMigrations
import SponaApplication
import SponaEventStore
import SponaProjections

/// `make bench`: the event store's append throughput and latency, beside the physical limit of
/// a durable append measured in the same run on the same cluster — plain INSERTs of the same
/// rows into a bare table with an identity key and the stream-version key only.
@main
struct SponaBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spona-bench",
        abstract: "Measure event store appends against plain INSERTs of the same rows."
    )

    @Option(help: "Seconds each scenario runs.")
    var seconds: Double = 4

    @Option(help: "Concurrent writers, comma-separated.")
    var writers: String = "1,4,16"

    @Option(help: "Events per append, comma-separated.")
    var eventsPerAppend: String = "1,10"

    @Option(help: "Concurrent HTTP clients for the API scenarios in this process (0 skips them).")
    var httpClients: Int = 16

    @Option(help: "wrk connections to `spona serve` in its own process (0 skips it; needs SPONA_SERVER_BIN and SPONA_WRK).")
    var serverClients: Int = 16

    @Option(help: "Reports per second for the append-to-visible scenario (0 skips it).")
    var visibilityRate: Int = 200

    @Option(help: "Events of the history the views are rebuilt from (0 skips it).")
    var rebuildEvents: Int = 1_000_000

    @Option(help: "Reads of each case recorded in the read trail of that history (each read is an event).")
    var readsPerCase: Int = 12

    func run() async throws {
        let logger = {
            var logger = Logger(label: "spona.bench")
            logger.logLevel = .warning
            return logger
        }()
        let environment = ProcessInfo.processInfo.environment
        guard let adminURL = environment["SPONA_ADMIN_DATABASE_URL"],
            let ownerURL = environment["SPONA_OWNER_DATABASE_URL"],
            let appURL = environment["DATABASE_URL"]
        else {
            throw ValidationError("run through `make bench`: it sets SPONA_ADMIN_DATABASE_URL, SPONA_OWNER_DATABASE_URL and DATABASE_URL")
        }
        let writerCounts = writers.split(separator: ",").compactMap { Int($0) }
        let batchSizes = eventsPerAppend.split(separator: ",").compactMap { Int($0) }
        let database = "spona_bench"
        let owner = URLComponents(string: ownerURL)?.user ?? "spona_owner"

        try await withPostgresClient(try DatabaseURL(adminURL).configuration, logger: logger) { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"), logger: logger)
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database) OWNER \(owner)"), logger: logger)
        }
        var ownerConfiguration = try DatabaseURL(Self.url(ownerURL, database: database)).configuration
        ownerConfiguration.options.maximumConnections = 2
        try await withPostgresClient(ownerConfiguration, logger: logger) { owner in
            let schema = URL(fileURLWithPath: environment["SPONA_SCHEMA_DIR"] ?? "Schema")
            try await SchemaMigrator(directory: schema).migrate(client: owner, logger: logger)
            for statement in Self.baselineTable {
                try await owner.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }

        emit("Event store appends vs plain INSERTs of the same rows (same run, same cluster)")
        emit("each scenario \(seconds) s; p50/p99 are per append (or per INSERT statement)")
        emit("")
        emit(
            pad("writers", 8),
            pad("events/append", 14),
            pad("append ev/s", 12),
            pad("p50 ms", 8),
            pad("p99 ms", 8),
            pad("INSERT rows/s", 14),
            pad("p50 ms", 8),
            pad("p99 ms", 8),
            "ratio"
        )
        var singleEventRates: [Int: Double] = [:]
        var insertRates: [Int: Double] = [:]
        var appConfiguration = try DatabaseURL(Self.url(appURL, database: database)).configuration
        appConfiguration.options.maximumConnections = (writerCounts.max() ?? 16) + 2
        try await withPostgresClient(appConfiguration, logger: logger) { app in
            let store = PostgresEventStore(client: app, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                // Warm the pool and the caches.
                _ = try await measure(writers: writerCounts.max() ?? 16, duration: .seconds(1)) { writer, n in
                    try await store.append(to: try StreamID("warm-\(writer)"), expected: .any, events: Self.events(1, n))
                }
                for batch in batchSizes {
                    for writerCount in writerCounts {
                        let appends = try await measure(writers: writerCount, duration: .seconds(seconds)) { writer, n in
                            let stream = try StreamID("case-\(writerCount)-\(batch)-\(writer)")
                            try await store.append(
                                to: stream,
                                expected: n == 0 ? .noStream : .exactly(Int64(n * batch)),
                                events: Self.events(batch, n),
                                metadata: Self.metadata
                            )
                        }
                        let inserts = try await measure(writers: writerCount, duration: .seconds(seconds)) { writer, n in
                            try await Self.plainInsert(
                                app,
                                stream: "plain-\(writerCount)-\(batch)-\(writer)",
                                from: Int64(n * batch),
                                count: batch,
                                logger: logger
                            )
                        }
                        let appendRate = Double(appends.operations * batch) / appends.seconds
                        let insertRate = Double(inserts.operations * batch) / inserts.seconds
                        if batch == 1 {
                            singleEventRates[writerCount] = appendRate
                            insertRates[writerCount] = insertRate
                        }
                        emit(
                            pad("\(writerCount)", 8),
                            pad("\(batch)", 14),
                            pad(String(format: "%.0f", appendRate), 12),
                            pad(ms(appends.p50), 8),
                            pad(ms(appends.p99), 8),
                            pad(String(format: "%.0f", insertRate), 14),
                            pad(ms(inserts.p50), 8),
                            pad(ms(inserts.p99), 8),
                            String(format: "%.0f%%", 100 * appendRate / insertRate)
                        )
                    }
                }
                group.cancelAll()
            }
        }
        if let pgbench = environment["SPONA_PGBENCH"] {
            emit("")
            emit("pgbench, the C client, prepared statements: the database's own cost of each, without Swift's")
            emit(
                pad("clients", 8),
                pad("spona_append ev/s", 18),
                pad("plain INSERT rows/s", 20),
                pad("ratio", 7),
                "Swift single-event append vs pgbench INSERT"
            )
            let appBenchURL = Self.url(appURL, database: database)
            for writerCount in writerCounts {
                // pgbench's -T needs SIGALRM, which a child of this process may have blocked; a
                // transaction count sized from this run's own rates takes about as long.
                let perClient = max(200, Int(2 * (insertRates[writerCount] ?? 2000) * seconds) / writerCount)
                let appendTPS = try Self.pgbench(
                    pgbench,
                    url: appBenchURL,
                    clients: writerCount,
                    transactions: perClient,
                    statement: Self.pgbenchAppend
                )
                let insertTPS = try Self.pgbench(
                    pgbench,
                    url: appBenchURL,
                    clients: writerCount,
                    transactions: perClient,
                    statement: Self.pgbenchInsert
                )
                let swiftAppend = singleEventRates[writerCount] ?? 0
                emit(
                    pad("\(writerCount)", 8),
                    pad(String(format: "%.0f", appendTPS), 18),
                    pad(String(format: "%.0f", insertTPS), 20),
                    pad(String(format: "%.0f%%", 100 * appendTPS / insertTPS), 7),
                    String(format: "%.0f%%", 100 * swiftAppend / insertTPS)
                )
            }
        }
        if serverClients > 0, let spona = environment["SPONA_SERVER_BIN"], let wrk = environment["SPONA_WRK"],
            let pgbench = environment["SPONA_PGBENCH"]
        {
            let figures = try await ServerBench(
                spona: spona,
                wrk: wrk,
                pgbench: pgbench,
                adminURL: adminURL,
                ownerURL: ownerURL,
                appURL: appURL,
                referenceDirectory: environment["SPONA_REFERENCE_DIR"] ?? "Reference",
                schemaDirectory: environment["SPONA_SCHEMA_DIR"] ?? "Schema",
                clients: serverClients,
                seconds: max(4, Int(seconds * 2)),
                logger: logger
            ).run()
            emit("")
            emit("The server as deployed: `spona serve` (release) in its own process with its projections running, driven over")
            emit("loopback by wrk (\(serverClients) connections, 2 threads) from another process; the baseline is pgbench's plain")
            emit("single-row INSERTs of the same payload into the bare table (identity key, UNIQUE (stream_id, stream_version)),")
            emit("\(serverClients) clients, same cluster, same run. A report is authenticated, decided, appended and answered in full.")
            emit(pad("request", 24), pad("req/s", 8), pad("p50", 10), pad("p99", 10), pad("non-2xx", 8), pad("INSERT rows/s", 14), "ratio")
            for (name, figure) in [("GET /healthz", figures.health), ("file a report (POST)", figures.report)] {
                emit(
                    pad(name, 24),
                    pad(String(format: "%.0f", figure.requestsPerSecond), 8),
                    pad(figure.p50, 10),
                    pad(figure.p99, 10),
                    pad("\(figure.failures)", 8),
                    pad(String(format: "%.0f", figures.insertsPerSecond), 14),
                    String(format: "%.2f", figure.requestsPerSecond / figures.insertsPerSecond)
                )
            }
            emit("goal for filing a report: ratio at least 0.40, p99 under 20 ms")
        }
        if httpClients > 0 {
            // A database of its own, so that the projections follow only what the clients write.
            let httpDatabase = "spona_bench_http"
            try await withPostgresClient(try DatabaseURL(adminURL).configuration, logger: logger) { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(httpDatabase) WITH (FORCE)"), logger: logger)
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(httpDatabase) OWNER \(owner)"), logger: logger)
            }
            var httpOwnerConfiguration = try DatabaseURL(Self.url(ownerURL, database: httpDatabase)).configuration
            httpOwnerConfiguration.options.maximumConnections = 2
            var httpConfiguration = try DatabaseURL(Self.url(appURL, database: httpDatabase)).configuration
            httpConfiguration.options.maximumConnections = httpClients + 4
            let geography = try ReferenceData.geography(in: URL(fileURLWithPath: environment["SPONA_REFERENCE_DIR"] ?? "Reference"))
            let result = try await withPostgresClient(httpConfiguration, logger: logger) { app in
                try await withPostgresClient(httpOwnerConfiguration, logger: logger) { owner in
                    let schema = URL(fileURLWithPath: environment["SPONA_SCHEMA_DIR"] ?? "Schema")
                    try await SchemaMigrator(directory: schema).migrate(client: owner, logger: logger)
                    return try await HTTPBench(app: app, owner: owner, geography: geography, logger: logger, clients: httpClients, seconds: seconds)
                        .run()
                }
            }
            // The baseline: plain single-row INSERTs at the writer count nearest the clients'.
            let nearest = insertRates.keys.min { abs($0 - httpClients) < abs($1 - httpClients) }
            let insertRate = nearest.flatMap { insertRates[$0] } ?? 0
            emit("")
            emit("HTTP API, \(httpClients) concurrent clients, the server in this process with its projections running;")
            emit("the client in this process too; /healthz is HTTP alone, /v1/districts adds the token lookup; a report or")
            emit("a referral is authenticated, the case and its institutions read, decided, appended, answered in full")
            emit(pad("request", 18), pad("req/s", 8), pad("p50 ms", 8), pad("p99 ms", 8), pad("INSERT rows/s (\(nearest ?? 0) writers)", 28), "ratio")
            for (name, measurement) in [
                ("GET /healthz", result.health), ("GET /v1/districts", result.authenticated),
                ("file a report", result.report), ("send a referral", result.referral),
            ] {
                let rate = Double(measurement.operations) / measurement.seconds
                emit(
                    pad(name, 18),
                    pad(String(format: "%.0f", rate), 8),
                    pad(ms(measurement.p50), 8),
                    pad(ms(measurement.p99), 8),
                    pad(String(format: "%.0f", insertRate), 28),
                    insertRate > 0 ? String(format: "%.0f%%", 100 * rate / insertRate) : "-"
                )
            }
        }
        if visibilityRate > 0 {
            let viewsDatabase = "spona_bench_views"
            try await withPostgresClient(try DatabaseURL(adminURL).configuration, logger: logger) { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(viewsDatabase) WITH (FORCE)"), logger: logger)
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(viewsDatabase) OWNER \(owner)"), logger: logger)
            }
            _ = try await withPostgresClient(try DatabaseURL(Self.url(ownerURL, database: viewsDatabase)).configuration, logger: logger) { owner in
                try await SchemaMigrator(directory: URL(fileURLWithPath: environment["SPONA_SCHEMA_DIR"] ?? "Schema")).migrate(
                    client: owner,
                    logger: logger
                )
            }
            let geography = try ReferenceData.geography(in: URL(fileURLWithPath: environment["SPONA_REFERENCE_DIR"] ?? "Reference"))
            let result = try await withPostgresClient(try DatabaseURL(Self.url(appURL, database: viewsDatabase)).configuration, logger: logger) {
                app in
                try await VisibilityBench(app: app, geography: geography, logger: logger, rate: visibilityRate, seconds: seconds * 2).run()
            }
            emit("")
            emit("From append to visible in a view: reports filed through the application at a steady \(visibilityRate)/s for \(seconds * 2) s,")
            emit("the three projection runners following; time from the append's start until the report's row is in case_reports")
            emit(pad("reports", 9), pad("p50 ms", 8), pad("p99 ms", 8), pad("max ms", 8), "goal: p99 < 100 ms")
            emit(
                pad("\(result.appended)", 9),
                pad(ms(result.p50), 8),
                pad(ms(result.p99), 8),
                pad(ms(result.max), 8),
                result.p99 < .milliseconds(100) ? "met" : "NOT met"
            )
        }
        if rebuildEvents > 0 {
            let rebuildDatabase = "spona_bench_rebuild"
            try await withPostgresClient(try DatabaseURL(adminURL).configuration, logger: logger) { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(rebuildDatabase) WITH (FORCE)"), logger: logger)
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(rebuildDatabase) OWNER \(owner)"), logger: logger)
            }
            let rebuildOwnerURL = Self.url(ownerURL, database: rebuildDatabase)
            var configuration = try DatabaseURL(rebuildOwnerURL).configuration
            configuration.options.maximumConnections = 12
            let geography = try ReferenceData.geography(in: URL(fileURLWithPath: environment["SPONA_REFERENCE_DIR"] ?? "Reference"))
            let psql = environment["SPONA_PGBENCH"].map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("psql").path }
                .flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil }
            let result = try await withPostgresClient(configuration, logger: logger) { owner in
                try await SchemaMigrator(directory: URL(fileURLWithPath: environment["SPONA_SCHEMA_DIR"] ?? "Schema")).migrate(
                    client: owner,
                    logger: logger
                )
                return try await RebuildBench(
                    owner: owner,
                    ownerURL: rebuildOwnerURL,
                    geography: geography,
                    logger: logger,
                    events: rebuildEvents,
                    readsPerCase: readsPerCase,
                    psql: psql
                ).run()
            }
            emit("")
            emit(
                "Rebuilding the views from \(result.events) events (the demo history: cases of the 2025 report's proportions decided by the domain, recorded over 36 months, \(result.readTrailEvents) of them reads on the read trail; written in \(String(format: "%.0f", result.generateSeconds)) s)"
            )
            let raw = result.rawSeconds.map { Double(result.events) / $0 }
            if let raw, let seconds = result.rawSeconds {
                emit("raw read (psql COPY in gap-safe order to /dev/null): \(String(format: "%.1f", seconds)) s, \(String(format: "%.0f", raw)) ev/s")
            }
            emit(pad("projection", 18), pad("seconds", 9), pad("ev/s", 9), "vs raw read (ev/s counts every event of the history)")
            for (name, seconds) in result.rebuilds {
                let rate = Double(result.events) / seconds
                emit(
                    pad(name, 18),
                    pad(String(format: "%.1f", seconds), 9),
                    pad(String(format: "%.0f", rate), 9),
                    raw.map { String(format: "%.0f%%", 100 * rate / $0) } ?? "-"
                )
            }
            let all = result.rebuilds.dropLast().map(\.seconds).reduce(0, +)
            emit(
                pad("one after another", 18),
                pad(String(format: "%.1f", all), 9),
                pad(String(format: "%.0f", Double(result.events) / all), 9),
                raw.map { String(format: "%.0f%%", 100 * (Double(result.events) / all) / $0) } ?? "-"
            )
            emit(
                "resident memory: \(result.rssBeforeMiB) MiB before the rebuilds, at most \(result.rssPeakMiB) MiB during them (batches of \(ProjectionRebuild.defaultBatchSize) events)"
            )
            emit("")
            emit("The Center's municipality view (every place and month): now \(String(format: "%.3f", result.viewNowSeconds)) s; as of a moment")
            for (label, seconds) in result.asOf {
                emit(
                    "  \(pad(label, 24)) \(String(format: "%.2f", seconds)) s = \(String(format: "%.0f", seconds / max(result.viewNowSeconds, 0.000_001)))× the view now (goal: within 2×)"
                )
            }
            emit("")
            emit("Auditors")
            let exportRate = Double(result.exported) / result.exportSeconds
            emit(
                "export (NDJSON lines with previous hashes, gap-safe order): \(result.exported) events in \(String(format: "%.1f", result.exportSeconds)) s = \(String(format: "%.0f", exportRate)) ev/s"
                    + (raw.map { String(format: " (%.0f%% of the raw read)", 100 * exportRate / $0) } ?? "")
            )
            emit(
                "verify (every hash chain, every seal): \(result.verified) events in \(String(format: "%.1f", result.verifySeconds)) s = \(String(format: "%.0f", Double(result.verified) / result.verifySeconds)) ev/s, \(result.intact ? "intact" : "NOT INTACT")"
            )
            emit("resident memory: \(result.exportRSSBeforeMiB) MiB before, at most \(result.exportRSSPeakMiB) MiB during export and verification")
        }
        emit("")
        emit("peak resident memory of this process: \(Self.peakResidentMegabytes()) MiB")
    }

    /// The bare table of the baseline: the events table's columns with only an identity primary
    /// key and UNIQUE (stream_id, stream_version) — what an outside pgbench run compares
    /// against — without the function, the hash chain, the lock, the triggers or other indexes.
    static let baselineTable = [
        """
        CREATE TABLE bench_plain (
            global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
            stream_id text NOT NULL, stream_version bigint NOT NULL,
            event_id uuid NOT NULL, event_type text NOT NULL, schema_version integer NOT NULL,
            payload jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            hash bytea NOT NULL,
            UNIQUE (stream_id, stream_version)
        )
        """,
        "GRANT INSERT, SELECT ON bench_plain TO spona_app",
    ]

    static let payload = Data(
        #"{"ageGroup":"child_14_17","channel":"app","exploitation":["labour","begging"],"gender":"female","indicators":["SP-R03","SP-E01","SP-E07","SP-D02"],"municipality":"RS-21-70106","reportingInstitution":"7d4f2b6e-5a51-4f0e-9d0b-2c7d9c1e6a10","risk":{"catalogue":"2025.1","level":"high","rule":"2025.1"},"subject":"3b9e1f2a-0c4d-4e8f-a1b2-c3d4e5f60718","urgency":"urgent"}"#
            .utf8
    )
    static let metadata = EventMetadata(
        json: Data(
            #"{"actor":"5e0c7f1a-2b3d-4c5e-8f90-a1b2c3d4e5f6","institution":"7d4f2b6e-5a51-4f0e-9d0b-2c7d9c1e6a10","requestId":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","role":"reporter"}"#
                .utf8
        )
    )
    static let metadataText = String(decoding: metadata.json, as: UTF8.self)

    static func events(_ count: Int, _ n: Int) -> [EventData] {
        (0..<count).map { _ in EventData(type: "ReportFiled", payload: payload) }
    }

    /// The baseline's INSERT, prepared like the append, so both pay the same client costs.
    struct PlainInsert: PostgresPreparedStatement {
        static let sql = """
            INSERT INTO bench_plain (stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, hash)
            SELECT $1, v, id, 'ReportFiled', 1, p::jsonb, $2::jsonb, substr(convert_to(h, 'UTF8'), 1, 32)
            FROM unnest($3::bigint[], $4::uuid[], $5::text[], $6::text[]) AS u(v, id, p, h)
            """
        typealias Row = Void
        var stream: String
        var versions: [Int64]
        var ids: [UUID]
        var payloads: [String]
        var hashes: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(stream)
            bindings.append(SponaBench.metadataText)
            bindings.append(versions)
            bindings.append(ids)
            bindings.append(payloads)
            bindings.append(hashes)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    static func plainInsert(_ client: PostgresClient, stream: String, from version: Int64, count: Int, logger: Logger) async throws {
        let statement = PlainInsert(
            stream: stream,
            versions: (1...Int64(count)).map { version + $0 },
            ids: (0..<count).map { _ in UUID() },
            payloads: Array(repeating: String(decoding: payload, as: UTF8.self), count: count),
            hashes: (0..<count).map { _ in UUID().uuidString + UUID().uuidString }
        )
        for try await _ in try await client.execute(statement, logger: logger) {}
    }

    /// Runs pgbench with a custom script of single-row INSERTs; returns transactions per second.
    static var pgbenchInsert: String {
        "INSERT INTO bench_plain (stream_id, stream_version, event_id, event_type, schema_version, payload, metadata, hash) VALUES ('pgb-' || :client_id || '-' || :n, 1, gen_random_uuid(), 'ReportFiled', 1, '\(String(decoding: payload, as: UTF8.self))'::jsonb, '\(metadataText)'::jsonb, sha256(convert_to(:n::text, 'UTF8')));"
    }

    static var pgbenchAppend: String {
        "SELECT * FROM spona_append('pgb-' || :client_id || '-' || :n, 0, ARRAY[gen_random_uuid()], ARRAY['ReportFiled'], ARRAY[1], ARRAY['\(String(decoding: payload, as: UTF8.self))'], '\(metadataText)', NULL, NULL, NULL, NULL);"
    }

    static func pgbench(_ executable: String, url: String, clients: Int, transactions: Int, statement: String) throws -> Double {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("spona-pgbench-\(UUID()).sql")
        try "\\set n random(1, 2000000000)\n\(statement)\n".write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-n", "-M", "prepared", "-c", "\(clients)", "-j", "\(min(clients, 2))", "-t", "\(transactions)", "-f", script.path, url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst(6).split(separator: " ").first ?? "")
        else { throw ValidationError("pgbench printed no rate: \(text.suffix(300))") }
        return tps
    }

    static func url(_ url: String, database: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/\(database)"
        return components.string!
    }

    static func peakResidentMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }
}

struct Measurement {
    var operations: Int
    var seconds: Double
    var p50: Duration
    var p99: Duration
}

/// Runs `operation` from `writers` concurrent tasks until `duration` has passed; `operation`
/// gets the writer's number and how many operations that writer completed before.
func measure(writers: Int, duration: Duration, _ operation: @escaping @Sendable (Int, Int) async throws -> Void) async throws -> Measurement {
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + duration
    let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
        for writer in 0..<writers {
            group.addTask {
                var latencies: [Duration] = []
                var n = 0
                while clock.now < deadline {
                    let began = clock.now
                    try await operation(writer, n)
                    latencies.append(clock.now - began)
                    n += 1
                }
                return latencies
            }
        }
        return try await group.reduce(into: [Duration]()) { $0 += $1 }
    }.sorted()
    let elapsed = clock.now - start
    func percentile(_ p: Double) -> Duration {
        latencies.isEmpty ? .zero : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
    }
    return Measurement(
        operations: latencies.count,
        seconds: elapsed.inSeconds,
        p50: percentile(0.5),
        p99: percentile(0.99)
    )
}

func ms(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return String(format: "%.2f", value)
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// Prints a line at once, also when standard output is a file (make bench | tee).
func emit(_ items: String...) {
    FileHandle.standardOutput.write(Data((items.joined(separator: " ") + "\n").utf8))
}
