/// Statistical disclosure control for what analysts see: cell-key perturbation, as statistical
/// offices answer user-defined tables live (the Australian Bureau of Statistics' TableBuilder),
/// together with closed periods (see the README's "Disclosure control" note).
///
/// Every record counted (a case, a referral) has a fixed pseudo-random key
/// (``StatisticsRules/recordKey(_:)``); every count carries the sum of its records' keys (its
/// *cell key*, modulo 2^32). An analyst sees each non-zero count moved by a perturbation of at
/// most ±``spread`` derived from the count and its cell key alone (never below 1), and anything
/// below the threshold as "<5". So:
/// - the same records give the same answer wherever and whenever they are asked for (a district
///   of one municipality, the same month in two views, a view asked again): averaging or
///   differencing repeated answers gains nothing;
/// - two cells differing by one record differ by a perturbation an analyst cannot tell from
///   the record, so no difference of two views gives a count back;
/// - subsets (children, high risk, reports by trained staff ⊆ reports) are never shown above the
///   whole, so their constraints pin nothing;
/// - every total an analyst sees (a district, a training's twelve months) is the sum of the
///   perturbed values of the cells it adds up, not a count perturbed anew: totals and cells
///   then agree, and no difference of a total and its cells tells more than the cells do.
/// Zero is shown as zero: that nothing happened is not disclosive.
public struct Disclosure: Sendable {
    public let threshold: Int
    /// The largest perturbation.
    public let spread: Int

    public init(threshold: Int = 5, spread: Int = 2) {
        self.threshold = threshold
        self.spread = spread
    }

    public enum Cell: Hashable, Sendable, Encodable, CustomStringConvertible {
        case count(Int)
        /// A small count, hidden.
        case small(threshold: Int)

        public var description: String {
            switch self {
            case .count(let n): String(n)
            case .small(let threshold): "<\(threshold)"
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if case .count(let n) = self { try container.encode(n) } else { try container.encode(description) }
        }
    }

    /// The perturbation of a count with this cell key: from −spread to +spread, fixed by both.
    public func perturbation(_ value: Int, key: Int64) -> Int {
        var z = UInt64(bitPattern: key) &+ UInt64(truncatingIfNeeded: value) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(2 * spread + 1)) - spread
    }

    /// A count's perturbed value: zero stays zero; any other count moves by its perturbation,
    /// never below 1. An analyst learns at most this, and it leaves at least three possible
    /// counts (1 → 1, 2 or 3).
    public func value(_ count: Int, key: Int64) -> Int {
        guard count > 0 else { return 0 }
        return max(1, count + perturbation(count, key: key))
    }

    /// A count and counts of subsets of what it counts (children ⊆ reports): each perturbed,
    /// and no subset above the whole, so that `subset ≤ whole` pins nothing.
    public func values(whole: (count: Int, key: Int64), parts: [(count: Int, key: Int64)]) -> (whole: Int, parts: [Int]) {
        let shownWhole = value(whole.count, key: whole.key)
        return (shownWhole, parts.map { min(value($0.count, key: $0.key), shownWhole) })
    }

    /// How a perturbed value (or a sum of them) is shown: below the threshold as "<5".
    public func cell(_ value: Int) -> Cell {
        value > 0 && value < threshold ? .small(threshold: threshold) : .count(value)
    }

    /// A count as an analyst sees it.
    public func perturbed(_ count: Int, key: Int64) -> Cell { cell(value(count, key: key)) }
}
