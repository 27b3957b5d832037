/// Statistical disclosure control for what analysts see: a count below the threshold (but not
/// zero) is shown as "<5", and other cells of its group are hidden with it ("x") until the
/// group's total no longer gives it back.
///
/// A reader who knows this rule knows that a "<5" cell is between 1 and 4 and an "x" cell is
/// at least 5, and from the total the sum S of the hidden cells. With k small cells and c
/// complementary ones, a small cell can then be anything from max(1, S − (k−1)·4) (or 1 when
/// c > 0) to min(4, S − (k−1) − 5c); the total is shown only while that leaves at least two
/// values. The smallest visible cells are hidden one by one until it does; when no choice
/// does, the total is hidden instead (and the other cells shown, since without the total they
/// give nothing away).
public struct Disclosure: Sendable {
    public let threshold: Int

    public init(threshold: Int = 5) { self.threshold = threshold }

    public enum Cell: Hashable, Sendable, Encodable, CustomStringConvertible {
        case count(Int)
        /// A small count, hidden.
        case small(threshold: Int)
        /// Hidden so that a total does not give a small count back.
        case complementary

        public var description: String {
            switch self {
            case .count(let n): String(n)
            case .small(let threshold): "<\(threshold)"
            case .complementary: "x"
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if case .count(let n) = self { try container.encode(n) } else { try container.encode(description) }
        }
    }

    /// The cells of one group and their total, as an analyst may see them. A hidden total is
    /// ``Cell/complementary``.
    public func protect(_ cells: [Int]) -> (cells: [Cell], total: Cell) {
        let total = cells.reduce(0, +)
        let small = cells.indices.filter { cells[$0] > 0 && cells[$0] < threshold }
        var shown: [Cell] = cells.map { $0 > 0 && $0 < threshold ? .small(threshold: threshold) : .count($0) }
        guard !small.isEmpty else { return (shown, .count(total)) }
        var complementary: [Int] = []
        var candidates = cells.indices.filter { cells[$0] >= threshold }.sorted { cells[$0] < cells[$1] }
        while !safe(small.map { cells[$0] }, complementary.map { cells[$0] }) {
            guard !candidates.isEmpty else {
                // No choice of hidden cells protects the small ones: hide the total instead.
                return (shown, .complementary)
            }
            complementary.append(candidates.removeFirst())
        }
        for index in complementary { shown[index] = .complementary }
        return (shown, .count(total))
    }

    /// Whether, with the total shown, every small cell keeps at least two possible values.
    func safe(_ small: [Int], _ complementary: [Int]) -> Bool {
        let sum = small.reduce(0, +) + complementary.reduce(0, +)
        let (k, c) = (small.count, complementary.count)
        let upper = min(threshold - 1, sum - (k - 1) - c * threshold)
        let lower = c > 0 ? 1 : max(1, sum - (k - 1) * (threshold - 1))
        return upper > lower
    }
}
