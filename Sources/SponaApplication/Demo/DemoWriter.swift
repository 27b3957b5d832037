import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords

/// Carries out a ``DemoHistory`` through the ``CaseService``, several cases at a time, each
/// case's commands in order with the version the previous one left — exactly as staff would
/// over HTTP, with an idempotency key per command so a second run of the same seed writes
/// nothing it wrote before.
public struct DemoWriter: Sendable {
    let service: CaseService
    let history: DemoHistory
    let seed: UInt64

    public init(service: CaseService, history: DemoHistory, seed: UInt64) {
        self.service = service
        self.history = history
        self.seed = seed
    }

    public struct Summary: Sendable, Hashable {
        public var cases = 0
        public var commands = 0
        /// Commands found already carried out by an earlier run.
        public var alreadyThere = 0
    }

    /// A command the domain refused: a fault of the generator, named so it can be fixed.
    public struct Refused: Error, CustomStringConvertible {
        public var caseIndex: Int
        public var step: Int
        public var command: String
        public var reason: String
        public var description: String { "demo case \(caseIndex), step \(step) (\(command)): \(reason)" }
    }

    /// Writes cases `0..<count`, `concurrency` at a time; `progress` gets the number of cases done.
    public func write(cases count: Int, concurrency: Int = 8, progress: @escaping @Sendable (Int) -> Void = { _ in }) async throws -> Summary {
        try await withThrowingTaskGroup(of: Summary.self) { group in
            var next = 0
            var total = Summary()
            for _ in 0..<min(concurrency, count) {
                let index = next
                group.addTask { try await self.write(case: index) }
                next += 1
            }
            while let done = try await group.next() {
                total.cases += done.cases
                total.commands += done.commands
                total.alreadyThere += done.alreadyThere
                progress(total.cases)
                if next < count {
                    let index = next
                    group.addTask { try await self.write(case: index) }
                    next += 1
                }
            }
            return total
        }
    }

    /// Writes the cases numbered `range` decided in memory, each case's events in one append whose
    /// metadata carries the report's moment: the same history an order of magnitude faster,
    /// for benchmarks and large test histories (views then count a case's later steps in the
    /// month it was reported). Answers the number of events written.
    public func writeInBulk(cases range: Range<Int>, concurrency: Int = 8) async throws -> Int {
        let history = self.history
        let seed = self.seed
        let store = service.store
        let service = self.service
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var written = 0
                    for index in stride(from: range.lowerBound + worker, to: range.upperBound, by: concurrency) {
                        let plan = history.plan(case: index)
                        guard let first = plan.steps.first else { continue }
                        let decided = try history.decide(plan).map(\.event)
                        guard case .reportFiled(let report)? = decided.first else { continue }
                        let events = try await service.seal(decided, subject: report.subject.id)
                        let data = try events.map {
                            EventData(type: $0.typeName, schemaVersion: $0.schemaVersion, payload: try $0.encodePayload(with: EventCoding.encoder))
                        }
                        let metadata = try EventCoding.metadata(
                            CommandMetadata(actor: first.caller.actor, requestID: "demo-\(seed)-\(index)", occurredAt: first.at)
                        )
                        try await store.append(to: Streams.case(plan.caseID), expected: .noStream, events: data, metadata: metadata)
                        written += data.count
                    }
                    return written
                }
            }
            return try await group.reduce(0, +)
        }
    }

    func write(case index: Int) async throws -> Summary {
        let plan = history.plan(case: index)
        var summary = Summary(cases: 1)
        var version: Int64?
        for (number, step) in plan.steps.enumerated() {
            do {
                let snapshot = try await service.handle(
                    step.command,
                    on: plan.caseID,
                    expectedVersion: version,
                    caller: step.caller,
                    requestID: "demo-\(seed)-\(index)-\(number)",
                    idempotencyKey: "demo-\(seed)-\(index)-\(number)",
                    occurredAt: step.at
                )
                version = snapshot.version
                summary.commands += 1
                if snapshot.isReplay { summary.alreadyThere += 1 }
            } catch let error as CaseError {
                throw Refused(
                    caseIndex: index,
                    step: number,
                    command: "\(step.command)".prefix(while: { $0 != "(" }).description,
                    reason: error.description
                )
            }
        }
        return summary
    }
}
