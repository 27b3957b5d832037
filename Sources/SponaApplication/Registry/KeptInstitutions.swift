import SponaDomain
import SponaEventStore
import SponaRecords
import Synchronization

/// The institutions case decisions read, kept in memory between requests, each with the
/// version of its stream it was folded from.
///
/// Nearly every command names the same few hundred institutions, and their streams change a
/// few times a year; reading and folding them on every request was a round trip and a JSON
/// decode per command. A kept copy may be stale — another process registered a change a
/// moment ago — and that is why every append a decision leads to carries the versions it was
/// read at (``StreamCondition``): the store writes nothing if one has moved, the copy is
/// forgotten, and the command is decided again from the streams. A refusal is never answered
/// from a kept copy alone: the caller's decision is taken again from the streams first
/// (``CaseService``).
///
/// Unknown institutions (version 0) are never kept: a hostile client naming random ids
/// cannot fill memory, and ``capacity`` bounds the rest.
public final class KeptInstitutions: Sendable {
    struct Entry: Sendable {
        var institution: Institution
        var version: Int64
    }

    /// Far above the network's institutions (a few thousand): reached only by a registry gone
    /// wild, and then everything is forgotten and read again.
    let capacity: Int
    private let entries = Mutex<[InstitutionID: Entry]>([:])

    public init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    /// What a decision needs: the institutions as folded, and the versions they were read at.
    public struct Reading: Sendable {
        public var institutions: [InstitutionID: Institution]
        public var conditions: [StreamCondition]
        /// Some came from memory, not from the streams in this request.
        public var fromMemory: Bool
    }

    /// The institutions `ids`: the kept copies unless `fresh`, the others read in one round trip
    /// and kept.
    func read(_ ids: Set<InstitutionID>, from store: any EventStore, fresh: Bool = false) async throws -> Reading {
        var reading = Reading(institutions: [:], conditions: [], fromMemory: false)
        var missing: [InstitutionID] = []
        if fresh {
            missing = Array(ids)
        } else {
            entries.withLock { entries in
                for id in ids {
                    if let entry = entries[id] {
                        reading.institutions[id] = entry.institution
                        reading.conditions.append(StreamCondition(Streams.institution(id), at: entry.version))
                        reading.fromMemory = true
                    } else {
                        missing.append(id)
                    }
                }
            }
        }
        guard !missing.isEmpty else { return reading }

        let recorded = try await store.readStreams(missing.map(Streams.institution))
        let folded = try InstitutionDirectory.fold(recorded)
        var versions: [InstitutionID: Int64] = [:]
        for event in recorded {
            if let id = Streams.institutionID(of: event.streamID) { versions[id] = max(versions[id] ?? 0, event.version) }
        }
        var read: [InstitutionID: Entry] = [:]
        for id in missing {
            let version = versions[id] ?? 0
            reading.conditions.append(StreamCondition(Streams.institution(id), at: version))
            if let institution = folded[id] {
                reading.institutions[id] = institution
                read[id] = Entry(institution: institution, version: version)
            }
        }
        keep(read)
        return reading
    }

    private func keep(_ read: [InstitutionID: Entry]) {
        guard !read.isEmpty else { return }
        let capacity = self.capacity
        entries.withLock { entries in
            if entries.count + read.count > capacity { entries.removeAll(keepingCapacity: true) }
            for (id, entry) in read where (entries[id]?.version ?? 0) <= entry.version {
                entries[id] = entry
            }
        }
    }

    /// Forgets the copy of the institution whose stream this is (it moved).
    func forget(_ stream: StreamID) {
        guard let id = Streams.institutionID(of: stream) else { return }
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}
