import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SponaApplication
import SponaDomain
import SponaEventStore
import SponaHTTP
import SponaProjections
import SponaRecords

/// Rebuilding the views from a large history, beside the raw read of the same events
/// (`COPY … TO STDOUT` in the store's gap-safe order), with the process's memory sampled
/// throughout to show it does not grow with the number of events.
struct RebuildBench {
    let owner: PostgresClient
    let ownerURL: String
    let geography: Geography
    let logger: Logger
    let events: Int
    /// Reads of each case in the read trail (an event each): the part of the log that grows
    /// fastest, which the views never fold.
    let readsPerCase: Int
    let psql: String?

    struct Result {
        var events: Int64
        var readTrailEvents: Int64
        var generateSeconds: Double
        var rawSeconds: Double?
        var rebuilds: [(name: String, seconds: Double)]
        var rssBeforeMiB: Int
        var rssPeakMiB: Int
        var exported: Int
        var exportSeconds: Double
        var verified: Int
        var verifySeconds: Double
        var intact: Bool
        var exportRSSBeforeMiB: Int
        var exportRSSPeakMiB: Int
        /// The Center's municipality view now, and as of moments through the history.
        var viewNowSeconds: Double
        var asOf: [(label: String, seconds: Double)]
    }

    func run() async throws -> Result {
        let store = PostgresEventStore(client: owner, logger: logger)
        let clock = ContinuousClock()
        let generated = clock.now
        try await generate()
        let generateSeconds = (clock.now - generated).inSeconds
        let total = try await store.backlog(after: .start).events
        let readTrailEvents = try await store.backlog(after: .start, categories: ["access"]).events

        var rawSeconds: Double?
        if let psql {
            let began = clock.now
            let process = Process()
            process.executableURL = URL(fileURLWithPath: psql)
            process.arguments = [
                ownerURL, "-X", "-q", "-c",
                """
                COPY (SELECT global_position, transaction_id, stream_id, stream_version, event_id, event_type, schema_version,
                             payload, metadata, recorded_at, hash FROM events ORDER BY transaction_id, global_position) TO STDOUT
                """,
            ]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus == 0 { rawSeconds = (clock.now - began).inSeconds }
        }

        let before = Self.residentMegabytes()
        let sampler = Self.samplePeakMemory()
        var rebuilds: [(String, Double)] = []
        for projection in allProjections(geography: geography) {
            let result = try await ProjectionRebuild(owner: owner, store: store, logger: logger).rebuild(projection)
            rebuilds.append((projection.name, result.elapsed.inSeconds))
        }
        // `spona projections rebuild --all`: every view in one pass over the history.
        let onePass = try await ProjectionRebuild(owner: owner, store: store, logger: logger).rebuild(allProjections(geography: geography))
        rebuilds.append(("all, one pass", onePass.elapsed.inSeconds))
        sampler.cancel()
        let peak = max(await sampler.value, before)

        // The Center's municipality view (every place, every month) now, and as of moments a
        // tenth, half and all the way through the history: an as-of view replays the
        // statistics up to its moment (`PointInTime`), so its time grows with the moment.
        let places = geography.districts.flatMap { geography.municipalities(in: $0.code) }.map(\.code.rawValue)
        let logger = self.logger
        @Sendable func view(_ read: TableReader) async throws -> Int {
            try await CaseStatisticsProjection.municipalityMonths(places, from: "0000-00", to: "9999-99", through: "9999-99", read: read).count
        }
        let nowStarted = clock.now
        _ = try await view { try await owner.query($0, logger: logger) }
        let viewNowSeconds = (clock.now - nowStarted).inSeconds
        // Moments a tenth, half and all the way through the history: the end of the month
        // before each (what analysts get, and the Center's usual question), and the moment
        // itself, inside a month (the Center's own).
        var moments: [Date] = []
        let rows = try await owner.query(
            """
            SELECT extract(epoch FROM m)::float8 FROM unnest((SELECT percentile_disc(ARRAY[0.1, 0.5, 1.0]) WITHIN GROUP (ORDER BY recorded_at) FROM events)) AS m
            """,
            logger: logger
        )
        for try await seconds in rows.decode(Double.self) { moments.append(Date(timeIntervalSince1970: seconds + 0.000_001)) }
        var asOf: [(String, Double)] = []
        for (label, moment) in zip(["a tenth in", "half way", "at the end"], moments) {
            let monthEnd = MonthEnds.end(of: MonthEnds.month(of: moment) - 1)
            for (kind, at) in [("month's end", monthEnd), ("inside", moment)] {
                let started = clock.now
                _ = try await PointInTime.withViews([CaseStatisticsProjection()], at: at, client: owner, store: store, logger: logger) { connection in
                    try await view { try await connection.query($0, logger: logger) }
                }
                asOf.append(("\(label), \(kind)", (clock.now - started).inSeconds))
            }
        }

        // The auditors' export (every line formatted as `spona audit export` writes it, to
        // nowhere) and a verification of every chain and a seal, memory sampled again.
        let exportSampler = Self.samplePeakMemory()
        let exportBefore = Self.residentMegabytes()
        let exportStarted = clock.now
        let sink = FileHandle(forWritingAtPath: "/dev/null")
        let exported = try await store.exportAuditLines { lines in sink?.write(Data(lines.readableBytesView)) }
        let exportSeconds = (clock.now - exportStarted).inSeconds
        let key = Curve25519.Signing.PrivateKey()
        try await HistorySealer(store: store, key: key, logger: logger).seal()
        let verifyStarted = clock.now
        let verifier = try await store.verifyHistory(publicKey: key.publicKey)
        let verifySeconds = (clock.now - verifyStarted).inSeconds
        exportSampler.cancel()
        let exportPeak = max(await exportSampler.value, exportBefore)
        return Result(
            events: total,
            readTrailEvents: readTrailEvents,
            generateSeconds: generateSeconds,
            rawSeconds: rawSeconds,
            rebuilds: rebuilds,
            rssBeforeMiB: before,
            rssPeakMiB: peak,
            exported: exported,
            exportSeconds: exportSeconds,
            verified: verifier.events,
            verifySeconds: verifySeconds,
            intact: verifier.isIntact,
            exportRSSBeforeMiB: exportBefore,
            exportRSSPeakMiB: exportPeak,
            viewNowSeconds: viewNowSeconds,
            asOf: asOf
        )
    }

    /// The demo history (``DemoHistory``: the reference institutions and trainings, cases in
    /// the proportions of the 2025 report), decided by the domain in memory and appended one
    /// case at a time, eight cases at once, until there are `events` events. It is recorded as
    /// a history of three years is: the registry three years ago, then each month's share of
    /// the cases in that month (the owner imports it with those times, migration 0020), so that
    /// views as of past moments find the month ends a real history has.
    private func generate() async throws {
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SPONA_REFERENCE_DIR"] ?? "Reference")
        let importer = ReferenceImport(geography: geography)
        let details = try importer.institutions(
            try CSVTable(parsing: String(contentsOf: directory.appendingPathComponent("institutions-2025.csv"), encoding: .utf8))
        )
        let trainings = try importer.trainings(
            try CSVTable(parsing: String(contentsOf: directory.appendingPathComponent("trainings-2025.csv"), encoding: .utf8))
        )
        let months = 36
        try await withStore(recordedDaysEarlier: months * 30 + 15) { store in
            try await RegistryService(store: store, geography: geography).load(
                institutions: details,
                trainings: trainings,
                actor: Actor(id: "bench", institution: .center, role: .admin),
                requestID: "bench"
            )
        }
        let institutions = details.map(Institution.init(registered:))
        let history = try DemoHistory(
            geography: geography,
            institutions: institutions,
            trainings: trainings,
            from: Date(timeIntervalSince1970: 1_704_067_200),
            until: Date(),
            seed: 2025
        )
        let vault = try PersonalDataVault.temporary()
        // About nine events a case, and its reads.
        let casesPerMonth = max(10, events / (9 + readsPerCase) / months)
        var written = 0
        var next = 0
        var month = 0
        while written < events {
            let daysEarlier = max(0, (months - 1 - month) * 30)
            let cases = next..<(next + casesPerMonth)
            try await withStore(recordedDaysEarlier: daysEarlier) { store in
                let writer = DemoWriter(service: CaseService(store: store, geography: geography, vault: vault), history: history, seed: 2025)
                written += try await writer.writeInBulk(cases: cases)
                written += try await readTrail(of: cases.map { history.plan(case: $0).caseID }, store: store)
            }
            next += casesPerMonth
            month += 1
        }
    }

    /// `readsPerCase` reads of each case on its read trail, as staff reading it leave them (a
    /// case read now and then its history), written in one append per case to be quick:
    /// the rows are the same as one append per read would leave. Answers the events written.
    private func readTrail(of cases: [CaseID], store: PostgresEventStore) async throws -> Int {
        guard readsPerCase > 0 else { return 0 }
        let reader = Actor(id: "bench-reader", institution: .center, role: .coordinator)
        let version = ReadTrail.schemas.current(ReadTrail.eventType)
        let reads = readsPerCase
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var written = 0
                    for index in stride(from: worker, to: cases.count, by: 8) {
                        let id = cases[index].rawValue.uuidString.lowercased()
                        let events = (0..<reads).map { read in
                            EventData(
                                type: ReadTrail.eventType,
                                schemaVersion: version,
                                payload: Data(#"{"case":"\#(id)","read":"\#(read % 6 == 5 ? "history" : "case")"}"#.utf8)
                            )
                        }
                        let metadata = try EventCoding.metadata(CommandMetadata(actor: reader, requestID: "bench-read-\(index)"))
                        try await store.append(to: Streams.access(cases[index]), expected: .any, events: events, metadata: metadata)
                        written += reads
                    }
                    return written
                }
            }
            return try await group.reduce(0, +)
        }
    }

    /// A store on the owner's login whose appends are recorded `days` earlier than now.
    private func withStore(recordedDaysEarlier days: Int, _ body: (PostgresEventStore) async throws -> Void) async throws {
        var configuration = try DatabaseURL(ownerURL).configuration
        configuration.options.maximumConnections = 8
        if days > 0 { configuration.options.additionalStartupParameters = [("spona.recorded_earlier_by", "\(days) days")] }
        try await withPostgresClient(configuration, logger: logger) { client in
            try await body(PostgresEventStore(client: client, logger: logger))
        }
    }

    /// Samples the resident memory every 50 ms until cancelled; its value is the peak.
    static func samplePeakMemory() -> Task<Int, Never> {
        Task {
            var peak = 0
            while !Task.isCancelled {
                peak = max(peak, residentMegabytes())
                try? await Task.sleep(for: .milliseconds(50))
            }
            return peak
        }
    }

    static func residentMegabytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kilobytes / 1024
    }
}
