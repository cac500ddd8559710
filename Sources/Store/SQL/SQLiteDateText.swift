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
        // By hand: String(format:) cost a few percent of the hub's CPU in a whole-cluster sleep.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(23)
        func digits(_ value: Int, _ count: Int, then separator: UInt8?) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            while divisor > 0 {
                bytes.append(UInt8(48 + value / divisor % 10))
                divisor /= 10
            }
            if let separator { bytes.append(separator) }
        }
        digits(Int(parts.tm_year) + 1900, 4, then: 45)
        digits(Int(parts.tm_mon) + 1, 2, then: 45)
        digits(Int(parts.tm_mday), 2, then: 32)
        digits(Int(parts.tm_hour), 2, then: 58)
        digits(Int(parts.tm_min), 2, then: 58)
        digits(Int(parts.tm_sec), 2, then: 46)
        digits(Int(fraction), 3, then: nil)
        return String(decoding: bytes, as: UTF8.self)
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
