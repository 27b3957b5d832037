import Foundation

/// A second PostgreSQL cluster of its own, started by `scripts/dev-db.sh` in a folder of its
/// own: what a database is restored into after a loss, or moved to. Its transaction counter
/// starts where a fresh cluster's does, far below the first cluster's.
public struct TestCluster: Sendable {
    public let folder: URL
    public let port: Int
    public let adminURL: String
    public let ownerURL: String
    public let appURL: String

    public enum Failure: Error, CustomStringConvertible {
        case tool(String, status: Int32, output: String)
        case noEnvironment(String)
        public var description: String {
            switch self {
            case let .tool(tool, status, output): "\(tool) exited \(status): \(output.suffix(600))"
            case .noEnvironment(let path): "dev-db.sh wrote no \(path)"
            }
        }
    }

    static var projectRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Starts a fresh cluster (initdb, roles, an empty database) and answers its URLs.
    /// `settings` are added to its postgresql.conf.
    public static func start(settings: [String] = []) async throws -> TestCluster {
        let folder = URL(fileURLWithPath: "/tmp/spona-cluster-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // The cluster's own user must reach it when root starts it.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        // A port of its own (another test's cluster or server may have taken one): a few tries.
        var port = 0
        for attempt in 1...3 {
            port = 61_000 + Int.random(in: 0..<4_000)
            do {
                try await run(
                    projectRoot.appendingPathComponent("scripts/dev-db.sh").path,
                    ["start"],
                    environment: [
                        "SPONA_PG_DATA": folder.path, "SPONA_PG_PORT": String(port), "SPONA_PG_EXTRA_CONF": settings.joined(separator: "\n"),
                    ]
                )
                break
            } catch  where attempt < 3 {
                try? await asClusterUser("pg_ctl", ["-D", folder.appendingPathComponent("pg/cluster").path, "-m", "immediate", "stop"])
                try? FileManager.default.removeItem(at: folder.appendingPathComponent("pg"))
                try? FileManager.default.removeItem(at: folder.appendingPathComponent("env"))
            }
        }
        let envFile = folder.appendingPathComponent("env")
        guard let text = try? String(contentsOf: envFile, encoding: .utf8) else { throw Failure.noEnvironment(envFile.path) }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            values[String(pair[0])] = String(pair[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return TestCluster(
            folder: folder,
            port: port,
            adminURL: values["SPONA_ADMIN_DATABASE_URL"] ?? "",
            ownerURL: values["SPONA_OWNER_DATABASE_URL"] ?? "",
            appURL: values["DATABASE_URL"] ?? ""
        )
    }

    /// The cluster's data directory.
    public var dataDirectory: URL { folder.appendingPathComponent("pg/cluster") }

    /// The system user PostgreSQL runs as when the tests run as root (as dev-db.sh has it).
    static let osUser = ProcessInfo.processInfo.environment["SPONA_PG_OS_USER"] ?? "spona-pg"
    public static var isRoot: Bool { getuid() == 0 }

    /// Makes `path` the cluster user's, when root made it.
    public static func handOver(_ path: URL) async throws {
        guard isRoot else { return }
        try await run("/bin/chown", ["-R", osUser, path.path], environment: [:])
    }

    /// Runs a server program (pg_ctl) as the cluster's user, through a shell that first closes
    /// every descriptor beyond 0-2: a server started by it would hold them for its lifetime,
    /// and this process would wait for ever for the program to be done.
    static func asClusterUser(_ tool: String, _ arguments: [String]) async throws {
        let command = ([bindir + "/" + tool] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let script =
            "for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ \"$fd\" -gt 2 ] 2>/dev/null && eval \"exec $fd>&-\" 2>/dev/null; done; exec " + command
        if isRoot {
            try await run("/usr/sbin/runuser", ["-u", osUser, "--", "/bin/bash", "-c", script], environment: [:])
        } else {
            try await run("/bin/bash", ["-c", script], environment: [:])
        }
    }

    static var bindir: String {
        ProcessInfo.processInfo.environment["SPONA_PG_BINDIR"]
            ?? ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last.map { "/usr/lib/postgresql/\($0)/bin" }
                ?? "/usr/bin")
    }

    /// A base backup of the whole cluster (pg_basebackup), its WAL left to the archive.
    public func baseBackup(to directory: URL) async throws {
        try await Self.runTool("pg_basebackup", ["--dbname=\(adminURL)", "--pgdata=\(directory.path)", "--wal-method=none", "--checkpoint=fast"])
    }

    /// A new cluster from `backup` (moved into a folder of its own), replaying the WAL of
    /// `archive` up to `time` (a timestamp PostgreSQL reads) and then promoted: point-in-time
    /// recovery. Its roles and passwords are this cluster's.
    public func recover(from backup: URL, archive: URL, until time: String) async throws -> TestCluster {
        let folder = URL(fileURLWithPath: "/tmp/spona-cluster-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("pg/run"), withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let data = folder.appendingPathComponent("pg/cluster")
        try FileManager.default.moveItem(at: backup, to: data)
        let port = 61_000 + Int.random(in: 0..<4_000)
        let settings = """

            # Point-in-time recovery (the tests).
            port = \(port)
            unix_socket_directories = '\(folder.appendingPathComponent("pg/run").path)'
            archive_mode = off
            restore_command = 'cp \(archive.path)/%f %p'
            recovery_target_time = '\(time)'
            recovery_target_action = 'promote'

            """
        let config = try FileHandle(forWritingTo: data.appendingPathComponent("postgresql.conf"))
        try config.seekToEnd()
        try config.write(contentsOf: Data(settings.utf8))
        try config.close()
        _ = FileManager.default.createFile(atPath: data.appendingPathComponent("recovery.signal").path, contents: nil)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: data.path)
        try await Self.handOver(folder.appendingPathComponent("pg"))
        try await Self.asClusterUser("pg_ctl", ["-D", data.path, "-l", data.appendingPathComponent("server.log").path, "-w", "-t", "60", "start"])
        func moved(_ url: String) -> String {
            var components = URLComponents(string: url)!
            components.port = port
            return components.string!
        }
        return TestCluster(folder: folder, port: port, adminURL: moved(adminURL), ownerURL: moved(ownerURL), appURL: moved(appURL))
    }

    /// Restarts the server: `fast` (sessions ended, a clean shutdown) or `immediate` (as a
    /// crash: recovery from the WAL at start).
    public func restart(mode: String) async throws {
        try await Self.asClusterUser(
            "pg_ctl",
            [
                "-D", dataDirectory.path, "-m", mode, "-w", "-t", "60", "-l",
                dataDirectory.appendingPathComponent("server.log").path, "restart",
            ]
        )
    }

    /// Stops the cluster and removes its folder.
    public func stop() {
        Self.stopNow(dataDirectory)
        try? FileManager.default.removeItem(at: folder)
        // The cluster itself may live in /var/tmp when dev-db.sh found the folder unreachable.
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("pg").path) {
            try? FileManager.default.removeItem(atPath: target)
        }
    }

    /// Runs a PostgreSQL client tool (`pg_dump`, `pg_restore`) from the cluster's installation.
    public static func runTool(_ tool: String, _ arguments: [String]) async throws {
        try await run("\(bindir)/\(tool)", arguments, environment: [:])
    }

    /// Runs a program to its end (see `runProcess`: no thread held while it runs, a time limit)
    /// and answers its output, or throws with it when it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]) async throws -> String {
        let result = try await runProcess(executable, arguments, environment: environment)
        let text = result.output + result.errorOutput
        guard result.status == 0 else {
            throw Failure.tool(URL(fileURLWithPath: executable).lastPathComponent, status: result.status, output: text)
        }
        return text
    }

    /// Stops a cluster at once, from a `defer` where nothing can be awaited: `pg_ctl stop -m
    /// immediate` is done in a moment, and gives up by itself after a minute.
    static func stopNow(_ dataDirectory: URL) {
        let command = "'\(bindir)/pg_ctl' -D '\(dataDirectory.path)' -m immediate -w stop"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: isRoot ? "/usr/sbin/runuser" : "/bin/bash")
        process.arguments = (isRoot ? ["-u", osUser, "--", "/bin/bash"] : []) + ["-c", command + " >/dev/null 2>&1"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }
}
