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
    public static func start() throws -> TestCluster {
        let folder = URL(fileURLWithPath: "/tmp/spona-cluster-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // The cluster's own user must reach it when root starts it.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        let port = 55_000 + Int.random(in: 0..<4_000)
        try run(projectRoot.appendingPathComponent("scripts/dev-db.sh").path, ["start"],
                environment: ["SPONA_PG_DATA": folder.path, "SPONA_PG_PORT": String(port)])
        let envFile = folder.appendingPathComponent("env")
        guard let text = try? String(contentsOf: envFile, encoding: .utf8) else { throw Failure.noEnvironment(envFile.path) }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst(7).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            values[String(pair[0])] = String(pair[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return TestCluster(folder: folder, port: port, adminURL: values["SPONA_ADMIN_DATABASE_URL"] ?? "",
                           ownerURL: values["SPONA_OWNER_DATABASE_URL"] ?? "", appURL: values["DATABASE_URL"] ?? "")
    }

    /// Stops the cluster and removes its folder.
    public func stop() {
        _ = try? Self.run(Self.projectRoot.appendingPathComponent("scripts/dev-db.sh").path, ["stop"],
                          environment: ["SPONA_PG_DATA": folder.path, "SPONA_PG_PORT": String(port)])
        try? FileManager.default.removeItem(at: folder)
        // The cluster itself may live in /var/tmp when dev-db.sh found the folder unreachable.
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("pg").path) {
            try? FileManager.default.removeItem(atPath: target)
        }
    }

    /// Runs a PostgreSQL client tool (`pg_dump`, `pg_restore`) from the cluster's installation.
    public static func runTool(_ tool: String, _ arguments: [String]) throws {
        let bindir = ProcessInfo.processInfo.environment["SPONA_PG_BINDIR"]
            ?? ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last.map { "/usr/lib/postgresql/\($0)/bin" } ?? "/usr/bin")
        try run("\(bindir)/\(tool)", arguments, environment: [:])
    }

    /// Runs a program with its output in a file, not a pipe: `pg_ctl start` leaves the server
    /// holding the output it was given, and a pipe would then never end.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> String {
        let log = URL(fileURLWithPath: "/tmp/spona-tool-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let output = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? output.close()
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failure.tool(URL(fileURLWithPath: executable).lastPathComponent, status: process.terminationStatus, output: text)
        }
        return text
    }
}
