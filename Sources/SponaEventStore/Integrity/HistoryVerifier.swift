import Crypto
import Foundation

/// Checks a whole history in one pass over the store's gap-safe order — from the database or
/// from an export file — with memory that grows only with the number of streams:
///
/// - every event's hash against its content and the previous hash of its stream;
/// - every stream's versions 1, 2, 3, … with nothing missing, repeated or out of order;
/// - every seal: its signature under the public key, its root against the root of the events
///   it covers, and that it extends the seal before it.
public struct HistoryVerifier: Sendable {
    /// Something wrong, named: which event or seal, and what.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        public var subject: String
        public var problem: String
        public var description: String { "\(subject): \(problem)" }
    }

    public private(set) var events = 0
    public private(set) var findings: [Finding] = []
    public private(set) var sealsChecked = 0
    /// Set when the seals' signatures could not be checked (no public key).
    public let signaturesChecked: Bool
    public var streams: Int { lastOf.count }
    public var isIntact: Bool { findings.isEmpty }

    /// How many findings are kept; one tampering usually explains the rest.
    static let findingLimit = 50

    /// Set when seals published outside (an auditor's copies) go beyond what this history
    /// holds: the history was restored to an earlier point. Not a finding: what the last kept
    /// seal covers is intact; the events after it are another branch.
    public private(set) var rollback: Rollback?
    /// Published seals whose root this history matches.
    public private(set) var publishedConfirmed = 0

    public struct Rollback: Sendable, Hashable, CustomStringConvertible {
        /// The last seal this history keeps (0: none).
        public var toSeal: Int
        public var toTreeSize: Int64
        /// Published seals after it that this history does not match.
        public var sealsAfter: Int
        public var description: String {
            "the history was rolled back to seal \(toSeal) (\(toTreeSize) events): \(sealsAfter) published seal\(sealsAfter == 1 ? "" : "s") after it cover\(sealsAfter == 1 ? "s" : "") events this database no longer has — it was restored to an earlier point; what seal \(toSeal) covers is intact"
        }
    }

    private var publishedPending: [PublishedSeal] = []
    private var lastStoredSeal: (number: Int, treeSize: Int64) = (0, 0)

    private var lastOf: [StreamID: (version: Int64, hash: [UInt8])] = [:]
    private var frontier = MerkleFrontier()
    private var pendingSeals: [(number: Int, seal: Seal)]
    private let complete: Bool

    /// - Parameters:
    ///   - seals: every seal, oldest first (the `seals` stream, read before the pass).
    ///   - publicKeys: the keys seals may be signed with (the current one, and those rotated
    ///     away from); with none, signatures go unchecked.
    ///   - complete: the events start at the beginning of the history (false for a partial
    ///     export: chains are then anchored by each line's previous hash and seals skipped).
    public init(seals: [Seal], publicKey: Curve25519.Signing.PublicKey?, complete: Bool = true) {
        self.init(seals: seals, publicKeys: publicKey.map { [$0] } ?? [], complete: complete)
    }

    public init(seals: [Seal], publicKeys: [Curve25519.Signing.PublicKey], complete: Bool = true) {
        self.complete = complete
        self.signaturesChecked = !publicKeys.isEmpty
        var pending: [(Int, Seal)] = []
        var previous: Seal?
        var early: [Finding] = []
        for (index, seal) in seals.enumerated() {
            let number = index + 1
            let subject = "seal \(number) (\(seal.treeSize) events, sealed \(seal.sealedAt.formatted(.iso8601)))"
            if !publicKeys.isEmpty, !publicKeys.contains(where: { seal.isSigned(by: $0) }) {
                early.append(
                    Finding(
                        subject: subject,
                        problem:
                            "its signature does not verify with the public key (key \(publicKeys.map(Seal.keyID).joined(separator: ", "))); the seal was forged or altered"
                    )
                )
            }
            if let previous, seal.treeSize < previous.treeSize {
                early.append(
                    Finding(
                        subject: subject,
                        problem: "covers fewer events than seal \(index) (\(previous.treeSize)); it does not extend the seal before it"
                    )
                )
            }
            if complete { pending.append((number, seal)) }
            previous = seal
        }
        pendingSeals = pending.sorted { $0.1.treeSize < $1.1.treeSize }
        findings = early
        if let last = seals.last { lastStoredSeal = (seals.count, last.treeSize) }
    }

    /// Also holds the history to seals published outside the database (an auditor's copies of
    /// `GET /v1/audit/seals`): one the history does not match is tampering when it is no newer
    /// than the database's last seal, and a rollback (a restore to an earlier point) when it is.
    public init(seals: [Seal], publicKeys: [Curve25519.Signing.PublicKey], published: [PublishedSeal]) {
        self.init(seals: seals, publicKeys: publicKeys, complete: true)
        publishedPending = published.sorted { $0.treeSize < $1.treeSize }
    }

    /// The next event in the gap-safe order, with the previous hash its line claims when it
    /// comes from an export.
    public mutating func check(_ event: RecordedEvent, claimedPrevious: [UInt8]?? = .none) {
        events += 1
        let subject = "stream \(event.streamID) version \(event.version) (position \(event.position))"
        let last = lastOf[event.streamID]
        var previous: [UInt8]?
        if let last {
            if event.version != last.version + 1 {
                let what =
                    event.version <= last.version
                    ? "comes after version \(last.version): versions were swapped, repeated or renumbered"
                    : "follows version \(last.version): version \(last.version + 1) is missing; an event was removed"
                record(subject, what)
            }
            previous = last.hash
            if case .some(let claimed) = claimedPrevious, claimed != last.hash {
                record(subject, "its previous hash is not the hash of the stream's event before it")
            }
        } else if complete {
            if event.version != 1 {
                record(subject, "the stream starts here, not at version 1; its first events were removed")
            }
        } else if case .some(let claimed) = claimedPrevious {
            previous = claimed  // a partial export: the line anchors its own chain
        }
        if EventHashChain.hash(of: event, previous: previous) != event.hash {
            record(subject, "its hash does not match its content and the previous event's hash; it, or the event before it, was altered or inserted")
        }
        lastOf[event.streamID] = (event.version, event.hash)

        guard complete else { return }
        frontier.append(eventHash: event.hash)
        while let next = pendingSeals.first, next.seal.treeSize <= frontier.size {
            pendingSeals.removeFirst()
            guard next.seal.treeSize == frontier.size else { continue }
            sealsChecked += 1
            if Hex.encode(frontier.root) != next.seal.root {
                record(
                    "seal \(next.number) (\(next.seal.treeSize) events, sealed \(next.seal.sealedAt.formatted(.iso8601)))",
                    "its root is not the root of the history's first \(next.seal.treeSize) events: an event under it was altered, removed, inserted or reordered, or the seal does not extend the ones before it"
                )
            }
        }
        while let next = publishedPending.first, next.treeSize <= frontier.size {
            publishedPending.removeFirst()
            if next.treeSize == frontier.size, Hex.encode(frontier.root) == next.root {
                publishedConfirmed += 1
            } else {
                unmatched(next, "its root is not the root of the history's first \(next.treeSize) events")
            }
        }
    }

    private mutating func unmatched(_ seal: PublishedSeal, _ problem: String) {
        if seal.treeSize > lastStoredSeal.treeSize {
            var rollback = self.rollback ?? Rollback(toSeal: lastStoredSeal.number, toTreeSize: lastStoredSeal.treeSize, sealsAfter: 0)
            rollback.sealsAfter += 1
            self.rollback = rollback
        } else {
            record(
                "the published seal of \(seal.treeSize) events\(seal.sealedAt.map { ", sealed \($0.formatted(.iso8601))" } ?? "")",
                "\(problem), though the database's own seals reach \(lastStoredSeal.treeSize) events: what it covered was altered or removed"
            )
        }
    }

    /// Call after the last event: seals that cover more events than there are.
    public mutating func finish() {
        for (number, seal) in pendingSeals {
            record(
                "seal \(number) (\(seal.treeSize) events, sealed \(seal.sealedAt.formatted(.iso8601)))",
                "covers \(seal.treeSize) events but the history has only \(events); events under it were removed"
            )
        }
        pendingSeals = []
        for seal in publishedPending { unmatched(seal, "it covers \(seal.treeSize) events but the history has only \(events)") }
        publishedPending = []
    }

    private mutating func record(_ subject: String, _ problem: String) {
        guard findings.count < Self.findingLimit else { return }
        findings.append(Finding(subject: subject, problem: problem))
    }
}

extension PostgresEventStore {
    /// Verifies the whole stored history and its seals, reading only: every committed event
    /// in the (transaction, position) order, page by page. Unlike readers, verification does
    /// not stop at the read horizon: it must see every event, and the events a seal covers
    /// were below the horizon when it was made, so nothing committed since can sort among them.
    public func verifyHistory(publicKey: Curve25519.Signing.PublicKey?) async throws -> HistoryVerifier {
        try await verifyHistory(publicKeys: publicKey.map { [$0] } ?? [])
    }

    public func verifyHistory(publicKeys: [Curve25519.Signing.PublicKey], published: [PublishedSeal] = []) async throws -> HistoryVerifier {
        var verifier = HistoryVerifier(seals: try await seals(), publicKeys: publicKeys, published: published)
        // The next page is read (on another connection) while this one's hashes are checked.
        var page = try await page(after: .start, limit: 5000, belowHorizon: false, recordedUpTo: nil)
        while let last = page.last {
            async let nextPage = self.page(after: last.cursor, limit: 5000, belowHorizon: false, recordedUpTo: nil)
            for event in page { verifier.check(event) }
            page = try await nextPage
        }
        verifier.finish()
        return verifier
    }
}
