import ArgumentParser
import Foundation
import Logging

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
}

/// Logs go to standard error as plain lines. They never carry personal data: the code logs
/// ids, counts and kinds of errors, never payloads.
func makeLogger(label: String, level: String?) throws -> Logger {
    let levelText = level ?? Environment.value("SPONA_LOG_LEVEL") ?? "info"
    guard let level = Logger.Level(rawValue: levelText) else {
        throw CommandFailure("SPONA_LOG_LEVEL '\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
    }
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    return logger
}
