import Foundation

/// Local wall-clock arithmetic: days numbered from 1970-01-01 in a time zone, and the instant
/// of a wall time, with the rules for times that do not exist or happen twice.
enum WallClock {
    /// The local day (days since 1970-01-01) that `instant` falls on in `zone`.
    static func dayNumber(of instant: Date, in zone: TimeZone) -> Int {
        let wall = instant.timeIntervalSince1970 + Double(zone.secondsFromGMT(for: instant))
        return Int((wall / 86_400).rounded(.down))
    }

    /// 0 is Sunday, as in cron. 1970-01-01 was a Thursday.
    static func weekday(ofDay day: Int) -> Int {
        ((day + 4) % 7 + 7) % 7
    }

    /// The instant a local wall time happens. A time skipped by a clock change happens at the
    /// change; a time that happens twice happens the first time.
    static func instant(day: Int, hour: Int, minute: Int, in zone: TimeZone) -> Date {
        let wall = Double(day) * 86_400 + Double(hour) * 3600 + Double(minute) * 60
        let before = zone.secondsFromGMT(for: Date(timeIntervalSince1970: wall - 86_400))
        if before == zone.secondsFromGMT(for: Date(timeIntervalSince1970: wall + 86_400)) {
            // No clock change within a day either side (the common case): one offset applies.
            return Date(timeIntervalSince1970: wall - Double(before))
        }
        let offsets = Set([-86_400.0, 0, 86_400].map { zone.secondsFromGMT(for: Date(timeIntervalSince1970: wall + $0)) })
        let valid = offsets.map { wall - Double($0) }.filter { candidate in
            Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: candidate))) == wall - candidate
        }
        if let first = valid.min() {
            return Date(timeIntervalSince1970: first)
        }
        // In a gap: the wall time lies between the last instant before the change and the change itself.
        let earliest = wall - Double(offsets.max() ?? 0)
        if let change = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: earliest - 1)) {
            return change
        }
        return Date(timeIntervalSince1970: wall - Double(offsets.min() ?? 0))
    }
}

/// A date on the calendar (no time, no zone): `2026-03-29`.
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Reads `YYYY-MM-DD`; nil for anything else, including dates that do not exist.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    static func daysIn(month: Int, year: Int) -> Int {
        [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    }

    /// The date of a day number (days since 1970-01-01), by Howard Hinnant's civil calendar algorithm.
    public init(dayNumber: Int) {
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// Days since 1970-01-01.
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public var description: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }
}
