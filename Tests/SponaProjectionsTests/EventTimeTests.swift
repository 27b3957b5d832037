import Foundation
import SponaEventStore
import Testing

@testable import SponaProjections
@testable import SponaRecords

/// A rebuild reads a time and a month from every event by arithmetic, not through
/// Foundation's formatters; these pin down that the answers are exactly Foundation's.
@Suite("Reading events' times")
struct EventTimeTests {
    static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    static let plain = Date.ISO8601FormatStyle()
    static func foundation(_ text: String) -> Date? { (try? withFraction.parse(text)) ?? (try? plain.parse(text)) }

    @Test("the canonical form reads as the very Date Foundation reads, to the bit, or is left to Foundation")
    func canonicalTimesAsFoundation() {
        var generator = SystemRandomNumberGenerator()
        var fastlyRead = 0
        for index in 0..<200_000 {
            let digits = [0, 1, 2, 3, 6][index % 5]
            var text =
                "\(Int.random(in: 1990...2099, using: &generator))-\(pad(Int.random(in: 1...12, using: &generator)))-"
                + "\(pad(Int.random(in: 1...31, using: &generator)))T\(pad(Int.random(in: 0...23, using: &generator))):"
                + "\(pad(Int.random(in: 0...59, using: &generator))):\(pad(Int.random(in: 0...59, using: &generator)))"
            if digits > 0 { text += "." + String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) }) }
            text += "Z"
            let expected = Self.foundation(text)
            if let fast = ISO8601.canonical(text) {
                fastlyRead += 1
                #expect(fast.timeIntervalSinceReferenceDate.bitPattern == expected?.timeIntervalSinceReferenceDate.bitPattern, "\(text)")
            }
            #expect(ISO8601.date(from: text) == expected, "\(text)")
        }
        #expect(fastlyRead > 80_000)
    }

    @Test(
        "what is not the canonical form goes to Foundation, and nonsense is no date",
        arguments: [
            "2025-03-01T10:00:00+01:00", "2023-02-29T10:00:00Z", "2025-13-01T10:00:00Z", "2025-03-01 10:00:00Z",
            "2025-03-01T10:00:00.Z", "2025-03-01T10:00:00.1234567Z", "2001-01-01T00:00:00Z", "１９９９-03-01T10:00:00Z", "",
        ]
    )
    func otherFormsAsFoundation(text: String) {
        #expect(ISO8601.canonical(text) == nil)
        #expect(ISO8601.date(from: text) == Self.foundation(text))
    }

    @Test("the month of a moment is the UTC calendar's")
    func monthsAsTheCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        var moments = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: 951_868_799)]
        for _ in 0..<50_000 { moments.append(Date(timeIntervalSince1970: Double.random(in: -3e9...5e9, using: &generator))) }
        for moment in moments {
            let components = calendar.dateComponents([.year, .month], from: moment)
            let expected = String(format: "%04d-%02d", components.year ?? 0, components.month ?? 0)
            #expect(StatisticsRules.month(moment) == expected, "\(moment.timeIntervalSince1970)")
        }
    }

    @Test("an export's recorded-at text is Foundation's, to the millisecond it truncates to")
    func timestampsAsFoundation() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var generator = SystemRandomNumberGenerator()
        var moments = [Date(timeIntervalSinceReferenceDate: 0), Date(timeIntervalSince1970: 1_747_857_554.931)]
        for _ in 0..<200_000 {
            let microseconds = Int64.random(in: 978_307_200_000_000...4_000_000_000_000_000, using: &generator)
            moments.append(Date(timeIntervalSince1970: Double(microseconds) / 1_000_000))
        }
        for moment in moments {
            #expect(CivilCalendar.timestamp(moment) == moment.formatted(style), "\(moment.timeIntervalSince1970)")
        }
        #expect(CivilCalendar.timestamp(Date(timeIntervalSinceReferenceDate: -1)) == nil)
    }

    private func pad(_ number: Int) -> String { number < 10 ? "0\(number)" : "\(number)" }
}
