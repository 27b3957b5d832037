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

enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

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
    let format = Environment.value("SPONA_LOG_FORMAT") ?? "text"
    guard ["text", "json"].contains(format) else { throw CommandFailure("SPONA_LOG_FORMAT '\(format)' is not text or json") }
    var logger = Logger(label: label) { label -> any LogHandler in
        format == "json" ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
    }
    logger.logLevel = level
    return logger
}
