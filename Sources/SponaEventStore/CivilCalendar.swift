import Foundation

/// UTC calendar arithmetic for the hot paths (reading every event's time, its month):
/// pure integer functions, no time zone, no allocation.
public enum CivilCalendar {
    /// Days from 1970-01-01 to a day of the proleptic Gregorian calendar (H. Hinnant's
    /// `days_from_civil`): pure arithmetic, no time zone, no allocation.
    public static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The UTC year and month of a moment.
    public static func yearMonth(of date: Date) -> (year: Int, month: Int) {
        let (year, month, _) = civil(daysSinceEpoch: Int((date.timeIntervalSince1970 / 86_400).rounded(.down)))
        return (year, month)
    }

    public static func days(in month: Int, of year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The year, month and day of a count of days since 1970-01-01.
    public static func civil(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
    }

    /// `2025-03-01T10:00:00.123Z` for a moment after 2001, exactly as Foundation's
    /// `ISO8601FormatStyle(includingFractionalSeconds: true)` writes it (which truncates the
    /// binary fraction to milliseconds): an export writes one per event, and Foundation's
    /// formatter is most of its time. Nil before 2001; the caller then asks Foundation.
    public static func timestamp(_ date: Date) -> String? {
        let sinceReference = date.timeIntervalSinceReferenceDate
        guard sinceReference >= 0, sinceReference < 1e11 else { return nil }
        let whole = sinceReference.rounded(.down)
        let milliseconds = Int((sinceReference - whole) * 1000)
        let seconds = Int(whole) + 978_307_200
        let (year, month, day) = civil(daysSinceEpoch: seconds / 86_400)
        let secondOfDay = seconds % 86_400
        var bytes = [UInt8](repeating: UInt8(ascii: "0"), count: 24)
        func put(_ value: Int, at end: Int, width: Int) {
            var value = value
            for index in stride(from: end, to: end - width, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 3, width: 4)
        put(month, at: 6, width: 2)
        put(day, at: 9, width: 2)
        put(secondOfDay / 3_600, at: 12, width: 2)
        put(secondOfDay / 60 % 60, at: 15, width: 2)
        put(secondOfDay % 60, at: 18, width: 2)
        put(milliseconds, at: 22, width: 3)
        for (index, separator) in [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")] {
            bytes[index] = UInt8(ascii: Unicode.Scalar(separator)!)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
