import Foundation

/// Instants as people read them: in a given zone, with the zone named. The CLI, Slack replies
/// and the reasons the planner gives all write times this way.
public enum TimeText {
    /// `Mon 20:00 CET` within six days of `now`, else `2054-03-07 06:25 CET`.
    public static func near(_ date: Date, zone: TimeZone, now: Date) -> String {
        let parts = components(date, zone: zone)
        guard abs(date.timeIntervalSince(now)) < 6 * 86_400 else { return absolute(date, zone: zone) }
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        return "\(days[((parts.weekday ?? 1) - 1) % 7]) \(clock(parts)) \(zoneName(zone, at: date))"
    }

    /// `2026-12-01 18:00 CET`: for text read after the moment (operation reasons).
    public static func absolute(_ date: Date, zone: TimeZone) -> String {
        let parts = components(date, zone: zone)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0) + " \(clock(parts)) \(zoneName(zone, at: date))"
    }

    /// `UTC`, the zone's abbreviation at `date` when it has a real one (`CET`, `EST`), else its
    /// offset (`+0100`). The Lua plugins' `%Z` writes zones the same way.
    public static func zoneName(_ zone: TimeZone, at date: Date) -> String {
        let offset = zone.secondsFromGMT(for: date)
        if offset == 0, ["UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Zulu"].contains(zone.identifier) { return "UTC" }
        if let name = zone.abbreviation(for: date), !name.hasPrefix("GMT+"), !name.hasPrefix("GMT-") { return name }
        if offset == 0 { return "UTC" }
        let minutes = abs(offset) / 60
        return (offset < 0 ? "-" : "+") + String(format: "%02d%02d", minutes / 60, minutes % 60)
    }

    private static func components(_ date: Date, zone: TimeZone) -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
    }

    private static func clock(_ parts: DateComponents) -> String {
        String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }
}
