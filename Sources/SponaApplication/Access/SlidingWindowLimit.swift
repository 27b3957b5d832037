/// A sliding window of events per key (an analyst's filtered queries, a person's reads of
/// personal data, an address's failed sign-ins), in this process. Several processes each allow
/// as many: limits are set with that in mind.
///
/// Bounded: at most ``capacity`` keys are remembered; when full, keys whose window has
/// emptied are forgotten first, and if none has, the oldest half — so a flood of distinct
/// keys (made-up addresses) cannot grow the process, at worst it forgives some of them early.
public actor SlidingWindowLimit {
    public nonisolated let most: Int
    public nonisolated let window: Duration
    public nonisolated let capacity: Int
    private var seen: [String: [ContinuousClock.Instant]] = [:]

    public init(most: Int, per window: Duration, capacity: Int = 50_000) {
        self.most = most
        self.window = window
        self.capacity = capacity
    }

    /// Nil when one more may happen now (and it is counted); else the seconds to wait.
    public func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        if let wait = wait(key, now: now) { return wait }
        record(key, now: now)
        return nil
    }

    /// The seconds `key` must wait before the next may happen; nil when it may now.
    public func wait(_ key: String, now: ContinuousClock.Instant = .now) -> Int? {
        guard let times = seen[key] else { return nil }
        let recent = times.filter { now - $0 < window }
        seen[key] = recent.isEmpty ? nil : recent
        guard recent.count >= most else { return nil }
        return max(1, Int((recent[recent.count - most] + window - now).components.seconds) + 1)
    }

    /// Counts one for `key` without asking (a failure already happened).
    public func record(_ key: String, now: ContinuousClock.Instant = .now) {
        if seen[key] == nil, seen.count >= capacity { makeRoom(now: now) }
        seen[key, default: []].append(now)
        if let count = seen[key]?.count, count > most * 2 { seen[key]?.removeFirst(count - most) }
    }

    private func makeRoom(now: ContinuousClock.Instant) {
        seen = seen.filter { _, times in times.contains { now - $0 < window } }
        if seen.count >= capacity {
            let oldest = seen.sorted { ($0.value.last ?? now) < ($1.value.last ?? now) }.prefix(seen.count / 2).map(\.key)
            for key in oldest { seen[key] = nil }
        }
    }
}
