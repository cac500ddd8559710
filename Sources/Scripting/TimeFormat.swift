import Foundation
import Scheduling

/// Local time in an IANA time zone, and `strftime`-style formatting, for `sandman.time`.
/// Pure: the only input is the epoch and the zone, never the process's TZ.
enum TimeFormat {
    /// Used by `sandman.time.format` when no pattern is given: `2026-03-02 19:30 CET`.
    static let defaultPattern = "%Y-%m-%d %H:%M %Z"

    struct Error: Swift.Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// The calendar fields of an instant in a time zone, named as Lua's `os.date("*t")` names
    /// them (`wday` 1 is Sunday).
    struct LocalParts: Sendable, Equatable {
        var year: Int
        var month: Int
        var day: Int
        var hour: Int
        var minute: Int
        var second: Int
        /// 1 (Sunday) to 7 (Saturday).
        var weekday: Int
        /// 1 to 366.
        var dayOfYear: Int
        var isDaylightSaving: Bool
        /// Seconds east of UTC.
        var offsetSeconds: Int

        init(epoch: Double, in zone: TimeZone) {
            let date = Date(timeIntervalSince1970: epoch)
            self.init(epoch: epoch, offsetSeconds: zone.secondsFromGMT(for: date), isDaylightSaving: zone.isDaylightSavingTime(for: date))
        }

        /// The fields of `epoch` for a known UTC offset.
        init(epoch: Double, offsetSeconds: Int, isDaylightSaving: Bool) {
            self.offsetSeconds = offsetSeconds
            self.isDaylightSaving = isDaylightSaving
            let local = Int64(epoch.rounded(.down)) + Int64(offsetSeconds)
            let days = TimeFormat.floorDivide(local, 86_400)
            let seconds = Int(local - days * 86_400)
            let date = CalendarDate(dayNumber: Int(days))
            (year, month, day) = (date.year, date.month, date.day)
            hour = seconds / 3600
            minute = seconds / 60 % 60
            second = seconds % 60
            weekday = Int(((days + 4) % 7 + 7) % 7) + 1
            dayOfYear = Int(days) - CalendarDate(year: year, month: 1, day: 1).dayNumber + 1
        }
    }

    private static let weekdayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    private static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
    ]

    /// `epoch` written with `pattern` in `zone`. Conversions: `%Y %y %m %d %e %H %I %M %S %p %j
    /// %a %A %b %B %u %w %z %Z %s %F %T %R %D %n %t %%`; any other is an error.
    static func format(epoch: Double, pattern: String, in zone: TimeZone) throws(Error) -> String {
        let parts = LocalParts(epoch: epoch, in: zone)
        var output = ""
        var characters = pattern.makeIterator()
        while let character = characters.next() {
            guard character == "%" else {
                output.append(character)
                continue
            }
            guard let conversion = characters.next() else { throw Error(description: "pattern ends with a lone %") }
            switch conversion {
            case "Y": output += String(parts.year)
            case "y": output += pad(parts.year % 100)
            case "m": output += pad(parts.month)
            case "d": output += pad(parts.day)
            case "e": output += parts.day < 10 ? " \(parts.day)" : String(parts.day)
            case "H": output += pad(parts.hour)
            case "I": output += pad((parts.hour + 11) % 12 + 1)
            case "M": output += pad(parts.minute)
            case "S": output += pad(parts.second)
            case "p": output += parts.hour < 12 ? "AM" : "PM"
            case "j": output += pad(parts.dayOfYear, width: 3)
            case "a": output += String(weekdayNames[parts.weekday - 1].prefix(3))
            case "A": output += weekdayNames[parts.weekday - 1]
            case "b": output += String(monthNames[parts.month - 1].prefix(3))
            case "B": output += monthNames[parts.month - 1]
            case "u": output += String(parts.weekday == 1 ? 7 : parts.weekday - 1)
            case "w": output += String(parts.weekday - 1)
            case "z": output += offset(parts.offsetSeconds)
            case "Z": output += abbreviation(zone, epoch: epoch, offsetSeconds: parts.offsetSeconds)
            case "s": output += String(Int64(epoch.rounded(.down)))
            case "F": output += "\(parts.year)-\(pad(parts.month))-\(pad(parts.day))"
            case "T": output += "\(pad(parts.hour)):\(pad(parts.minute)):\(pad(parts.second))"
            case "R": output += "\(pad(parts.hour)):\(pad(parts.minute))"
            case "D": output += "\(pad(parts.month))/\(pad(parts.day))/\(pad(parts.year % 100))"
            case "n": output += "\n"
            case "t": output += "\t"
            case "%": output += "%"
            default: throw Error(description: "unsupported conversion '%\(conversion)' in time pattern")
            }
        }
        return output
    }

    // MARK: - Helpers

    private static func pad(_ value: Int, width: Int = 2) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    private static func offset(_ seconds: Int) -> String {
        let sign = seconds < 0 ? "-" : "+"
        let minutes = abs(seconds) / 60
        return sign + pad(minutes / 60) + pad(minutes % 60)
    }

    /// The zone's abbreviation (`CET`, `CEST`) when it has a real one, else `UTC` or `+0100`, as
    /// the hub writes zones everywhere.
    private static func abbreviation(_ zone: TimeZone, epoch: Double, offsetSeconds: Int) -> String {
        TimeText.zoneName(zone, at: Date(timeIntervalSince1970: epoch))
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }
}
