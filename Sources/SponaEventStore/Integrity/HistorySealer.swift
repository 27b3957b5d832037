import Crypto
import Foundation
import Logging
import ServiceLifecycle

/// Signs a seal over every event below the read horizon and appends it to the `seals`
/// stream. Carries on from the last seal's frontier, so each seal reads only the events
/// written since. Several server processes may run one: the append expects the seals
/// stream's version, so of two racing seals one is stored and the other dropped.
public struct HistorySealer: Sendable {
    let store: PostgresEventStore
    let key: Curve25519.Signing.PrivateKey
    /// Keys rotated away from: seals they signed may still be carried on from.
    let previousKeys: [Curve25519.Signing.PublicKey]
    let logger: Logger

    public init(store: PostgresEventStore, key: Curve25519.Signing.PrivateKey, previousKeys: [Curve25519.Signing.PublicKey] = [], logger: Logger) {
        self.store = store
        self.key = key
        self.previousKeys = previousKeys
        self.logger = logger
    }

    /// Seals what is new; nil when nothing but the last seal itself was written since it, or
    /// another process sealed at the same moment.
    @discardableResult
    public func seal(now: Date = Date()) async throws -> Seal? {
        let last = try await store.readStreamBackward(Seal.stream, limit: 1).first
        var frontier = MerkleFrontier()
        var cursor = EventCursor.start
        if let last {
            let previous = try Seal(event: last)
            let subtrees = previous.frontier.compactMap(Hex.decode)
            frontier = MerkleFrontier(size: previous.treeSize, subtrees: subtrees)
            // Never build on a seal that is not what this key signed.
            guard subtrees.count == previous.frontier.count, Hex.encode(frontier.root) == previous.root,
                ([key.publicKey] + previousKeys).contains(where: { previous.isSigned(by: $0) })
            else { throw EventStoreError.corruptSeal(version: last.version) }
            cursor = previous.lastCursor
        }
        var onlySeals = true
        while true {
            let page = try await store.readAll(after: cursor, limit: 5000)
            guard let end = page.last else { break }
            for event in page {
                frontier.append(eventHash: event.hash)
                if event.streamID != Seal.stream { onlySeals = false }
            }
            cursor = end.cursor
        }
        guard !onlySeals || last == nil, frontier.size > 0 else { return nil }
        let seal = try Seal.sign(frontier: frontier, lastCursor: cursor, at: Int64(now.timeIntervalSince1970 * 1_000_000), with: key)
        do {
            try await store.append(
                to: Seal.stream,
                expected: last.map { .exactly($0.version) } ?? .noStream,
                events: [try seal.eventData()],
                metadata: try EventMetadata(encoding: ["actor": "spona-sealer"])
            )
        } catch EventStoreError.versionConflict {
            logger.debug("another process sealed at the same moment")
            return nil
        }
        logger.info("sealed the history", metadata: ["events": "\(seal.treeSize)", "root": "\(seal.root)"])
        return seal
    }
}

/// Seals the history every `interval` while the server runs (`SPONA_SEAL_INTERVAL`), and once
/// more as it stops. With several servers each seals on its own schedule; the seals stream's
/// version makes racing seals harmless.
public struct SealSchedule: Service {
    let sealer: HistorySealer
    let interval: Duration
    let logger: Logger

    public init(sealer: HistorySealer, interval: Duration, logger: Logger) {
        self.sealer = sealer
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            do {
                try await sealer.seal()
            } catch {
                logger.error("could not seal the history", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
        }
    }
}
