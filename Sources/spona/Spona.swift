import ArgumentParser
import Foundation
import Logging
import SponaEventStore

/// The `spona` command: the server, its database schema, and the auditors' tools.
@main
struct Spona: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spona",
        abstract: "Spona: the coordination server of the network against human trafficking.",
        discussion: """
            Configuration comes from environment variables; each subcommand's --help lists the
            ones it reads. DATABASE_URL comes first.
            """,
        subcommands: [Serve.self, Migrate.self, Tokens.self, Keys.self, Reference.self, Projections.self, Audit.self, Demo.self]
    )
}

/// A refusal of the command: printed as one line, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The command's settings: the process's environment over the optional settings file
/// `SPONA_CONFIG_FILE` (lines of `NAME=value`, as in a systemd or Docker env file), read once,
/// so that every part of the command reads the same values. A problem in the file is reported
/// by ``makeLogger(label:level:)``, which every subcommand calls first.
enum Environment {
    static var variables: [String: String] { loaded.variables }
    static var fileProblems: [String] { loaded.problems }

    private static let loaded: (variables: [String: String], problems: [String]) = {
        let process = ProcessInfo.processInfo.environment
        guard let path = process["SPONA_CONFIG_FILE"], !path.isEmpty else { return (process, []) }
        guard let data = FileManager.default.contents(atPath: path) else { return (process, ["SPONA_CONFIG_FILE \(path) cannot be read"]) }
        let (file, problems) = parse(String(decoding: data, as: UTF8.self), path: path)
        // A variable set but empty does not hide the file's value.
        return (file.merging(process.filter { !$0.value.isEmpty }) { _, fromProcess in fromProcess }, problems)
    }()

    /// `NAME=value` lines; blank lines and `#` comments skipped, `export ` allowed, a value in
    /// matching quotes taken without them. Each malformed line is a problem naming its number.
    static func parse(_ text: String, path: String) -> ([String: String], [String]) {
        var values: [String: String] = [:]
        var problems: [String] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                problems.append("\(path) line \(index + 1): expected NAME=value")
                continue
            }
            let name = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            guard let first = name.unicodeScalars.first, first == "_" || ("A"..."Z").contains(first),
                name.unicodeScalars.allSatisfy({ $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
            else {
                problems.append("\(path) line \(index + 1): '\(name.prefix(40))' is not a setting's name (capitals, digits and _)")
                continue
            }
            var value = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                value = String(value.dropFirst().dropLast())
            }
            values[name] = value
        }
        return (values, problems)
    }

    static func value(_ name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    /// `SPONA_REFERENCE_DIR`, or `Reference` in the working directory.
    static var referenceDirectory: URL { URL(fileURLWithPath: value("SPONA_REFERENCE_DIR") ?? "Reference") }

    /// A secret from `NAME`, or from the file `NAME_FILE` names (Docker and Kubernetes secrets
    /// are files; a trailing line break is not part of the secret).
    static func secret(_ name: String) throws -> String? {
        if let value = value(name) { return value }
        guard let path = value(name + "_FILE") else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("\(name)_FILE \(path) cannot be read")
        }
        var text = String(decoding: data, as: UTF8.self)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        guard !text.isEmpty else { throw CommandFailure("\(name)_FILE \(path) is empty") }
        return text
    }

    /// The database URL in `urlName` (or its `_FILE`), with the password from `passwordName`
    /// (or its `_FILE`) when that is set, so that the password need not sit in a URL.
    static func databaseURL(_ text: String, passwordFrom passwordName: String) throws -> DatabaseURL {
        var url: DatabaseURL
        do { url = try DatabaseURL(text) } catch { throw CommandFailure("database URL: \(error)") }
        if let password = try secret(passwordName) { url.configuration.password = password }
        return url
    }
}

/// Logs go to standard error: plain lines, or one JSON object per line with
/// `SPONA_LOG_FORMAT=json` (the image, the units and the manifests set it). They never carry
/// personal data: the code logs ids, counts and kinds of errors, never payloads.
func makeLogger(label: String, level: String?) throws -> Logger {
    let levelText = level ?? Environment.value("SPONA_LOG_LEVEL") ?? "info"
    guard let level = Logger.Level(rawValue: levelText) else {
        throw CommandFailure("SPONA_LOG_LEVEL '\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
    }
    guard Environment.fileProblems.isEmpty else { throw CommandFailure(Environment.fileProblems.joined(separator: "\n")) }
    let format = Environment.value("SPONA_LOG_FORMAT") ?? "text"
    guard ["text", "json"].contains(format) else { throw CommandFailure("SPONA_LOG_FORMAT '\(format)' is not text or json") }
    var logger = Logger(label: label) { label -> any LogHandler in
        format == "json" ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
    }
    logger.logLevel = level
    return logger
}
