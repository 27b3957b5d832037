import Foundation

/// Runs a command-line program and collects its exit status and output.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var output: String
    public var errorOutput: String
}

/// A program that was still running at its time limit: it and everything it started were
/// killed.
public struct ProcessTimedOut: Error, CustomStringConvertible {
    public var program: String
    public var limit: Duration
    public var output: String
    public var description: String {
        "\(program) was still running after \(limit) and was killed; its last output:\n\(output.suffix(1_500))"
    }
}

/// Runs a program to its end, as tests and their helpers run `spona`, curl, pg_dump or a
/// browser script.
///
/// Two things about it keep a test run from hanging, which it once did for an hour in CI:
/// - The wait holds no thread. Swift's cooperative pool has as many threads as cores (two
///   here); a test that blocked one in `waitUntilExit` while another did the same stalled every
///   in-process server and projection runner, and a child that waited for one of them (for the
///   read horizon a runner's open transaction held back, say) then waited for ever.
/// - The program gets `limit`, then it and every process it started are killed (it runs under
///   coreutils' `timeout`, in a process group of its own) and the wait throws
///   `ProcessTimedOut` with what it printed.
///
/// Its output goes to files, not pipes: a grandchild that outlives the program (a browser, a
/// server it started) would otherwise keep a pipe open, and reading it to its end would never
/// end.
public func runProcess(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    limit: Duration = .seconds(300)
) async throws -> ProcessResult {
    let stem = FileManager.default.temporaryDirectory.appendingPathComponent("spona-child-\(UUID().uuidString.prefix(12))")
    let outputFile = stem.appendingPathExtension("out")
    let errorFile = stem.appendingPathExtension("err")
    _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outputFile)
        try? FileManager.default.removeItem(at: errorFile)
    }
    let output = try FileHandle(forWritingTo: outputFile)
    let errorOutput = try FileHandle(forWritingTo: errorFile)
    defer {
        try? output.close()
        try? errorOutput.close()
    }
    let seconds = max(1, Int(limit.components.seconds))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
    process.arguments = ["--kill-after=10", "\(seconds)", executable] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = output
    process.standardError = errorOutput
    let started = ContinuousClock.now
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in done.resume() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            done.resume(throwing: error)
        }
    }
    let result = ProcessResult(
        status: process.terminationStatus,
        output: (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "",
        errorOutput: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    )
    // timeout(1) answers 124 when it sent the program TERM at the limit, 137 when it had to KILL.
    if [124, 137].contains(result.status), ContinuousClock.now - started >= limit {
        throw ProcessTimedOut(
            program: ([URL(fileURLWithPath: executable).lastPathComponent] + arguments.prefix(2)).joined(separator: " "),
            limit: limit,
            output: result.output + result.errorOutput
        )
    }
    return result
}
