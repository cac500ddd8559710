import Foundation

/// Dates as SQLite columns hold them: `yyyy-MM-dd HH:mm:ss.SSS` in UTC, the format GRDB wrote
/// before this module had its own SQL, so that databases written then still read and compare.
enum SQLiteDateText {
    static func string(from date: Date) -> String {
        let milliseconds = SQLValue.milliseconds(of: date)
        var seconds = time_t(milliseconds.floorDivided(by: 1000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fraction = milliseconds - Int64(seconds) * 1000
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%03d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction)
        )
    }

    /// Reads `yyyy-MM-dd HH:mm:ss[.SSS]` (or with a `T`), the forms GRDB accepts; nil otherwise.
    static func date(from text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard bytes.count >= 19, bytes[4] == 45, bytes[7] == 45, bytes[10] == 32 || bytes[10] == 84, bytes[13] == 58, bytes[16] == 58,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var milliseconds = 0
        if bytes.count > 19 {
            guard bytes[19] == 46, bytes.count > 20, let digits = number(20..<bytes.count) else { return nil }
            let count = bytes.count - 20
            milliseconds = count >= 3 ? digits / Int(pow(10, Double(count - 3))) : digits * Int(pow(10, Double(3 - count)))
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = Int64(timegm(&parts))
        return SQLValue.date(milliseconds: seconds * 1000 + Int64(milliseconds))
    }
}

private extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
