import Foundation

/// When a namespace goes to sleep and wakes up: kube-green's SleepInfo schedule (cron
/// `"<min> <hour> * * <weekdays>"` in a time zone) plus what its users ask for: separate days
/// for the two transitions and dates without transitions.
///
/// Wall times that do not exist (the hour skipped when clocks go forward) happen at the
/// moment the clocks change; wall times that happen twice (clocks going back) happen once,
/// the first time.
public struct SleepSchedule: Sendable, Equatable {
    /// An `H:M` time whose two sides are cron fields (`20:00`, `*:05`, `8-18/2:00`).
    public struct ClockPattern: Sendable, Equatable, CustomStringConvertible {
        public var hours: CronField
        public var minutes: CronField

        public init(parsing text: String, field: String) throws(ScheduleError) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw ScheduleError(field: field, value: text, reason: "expected HOUR:MINUTE such as \"20:00\" or \"*:05\"")
            }
            do {
                hours = try CronField(parsing: String(parts[0]), range: 0...23)
            } catch {
                throw ScheduleError(field: field, value: text, reason: "invalid hour \(error)")
            }
            do {
                minutes = try CronField(parsing: String(parts[1]), range: 0...59)
            } catch {
                throw ScheduleError(field: field, value: text, reason: "invalid minute \(error)")
            }
        }

        public var description: String { "\(hours.text):\(minutes.text)" }
    }

    public var sleepDays: CronField
    public var wakeDays: CronField
    public var sleepAt: ClockPattern
    /// Nil for a schedule that only puts to sleep (again at every `sleepAt`).
    public var wakeAt: ClockPattern?
    public var timeZone: TimeZone
    /// Local dates on which no transition happens.
    public var exceptions: Set<CalendarDate>

    /// Parses and validates the fields; each error names the field and the bad value.
    public init(
        weekdays: String, sleepAt: String, wakeUpAt: String? = nil, timeZone: String? = nil,
        sleepDays: String? = nil, wakeDays: String? = nil, exceptions: [String] = []
    ) throws(ScheduleError) {
        let shared = try Self.days(weekdays, field: "weekdays")
        self.sleepDays = try sleepDays.map { text throws(ScheduleError) in try Self.days(text, field: "sleepDays") } ?? shared
        self.wakeDays = try wakeDays.map { text throws(ScheduleError) in try Self.days(text, field: "wakeDays") } ?? shared
        self.sleepAt = try ClockPattern(parsing: sleepAt, field: "sleepAt")
        self.wakeAt = try wakeUpAt.flatMap { $0.isEmpty ? nil : $0 }.map { text throws(ScheduleError) in try ClockPattern(parsing: text, field: "wakeUpAt") }
        try Self.checkDistinct(sleepAt: sleepAt, wakeUpAt: wakeUpAt)
        self.timeZone = try Self.zone(timeZone)
        var dates = Set<CalendarDate>()
        for text in exceptions { dates.insert(try Self.date(text)) }
        self.exceptions = dates
    }

    /// Every problem of these fields, not only the first: for configuration checks that report all
    /// at once. A field given as nil is not checked (reported missing by the caller).
    public static func problems(
        weekdays: String?, sleepAt: String?, wakeUpAt: String? = nil, timeZone: String? = nil,
        sleepDays: String? = nil, wakeDays: String? = nil, exceptions: [String] = []
    ) -> [ScheduleError] {
        var found: [ScheduleError] = []
        func check(_ body: () throws(ScheduleError) -> Void) {
            do { try body() } catch { found.append(error) }
        }
        for (text, field) in [(weekdays, "weekdays"), (sleepDays, "sleepDays"), (wakeDays, "wakeDays")] {
            if let text { check { () throws(ScheduleError) in _ = try days(text, field: field) } }
        }
        if let sleepAt { check { () throws(ScheduleError) in _ = try ClockPattern(parsing: sleepAt, field: "sleepAt") } }
        if let wakeUpAt, !wakeUpAt.isEmpty { check { () throws(ScheduleError) in _ = try ClockPattern(parsing: wakeUpAt, field: "wakeUpAt") } }
        if let sleepAt { check { () throws(ScheduleError) in try checkDistinct(sleepAt: sleepAt, wakeUpAt: wakeUpAt) } }
        check { () throws(ScheduleError) in _ = try zone(timeZone) }
        for text in exceptions { check { () throws(ScheduleError) in _ = try date(text) } }
        return found
    }

    private static func days(_ text: String, field: String) throws(ScheduleError) -> CronField {
        do {
            return try CronField(parsing: text, range: 0...6, names: CronField.weekdayNames)
        } catch {
            throw ScheduleError(field: field, value: text, reason: "invalid day-of-week field: \(error.reason) (0 is Sunday; e.g. \"1-5\", \"Mon-Fri\", \"0,6\", \"*\")")
        }
    }

    private static func checkDistinct(sleepAt: String, wakeUpAt: String?) throws(ScheduleError) {
        if let wakeUpAt, wakeUpAt == sleepAt {
            throw ScheduleError(field: "wakeUpAt", value: wakeUpAt, reason: "must differ from sleepAt")
        }
    }

    private static func zone(_ name: String?) throws(ScheduleError) -> TimeZone {
        let zoneName = name.flatMap { $0.isEmpty ? nil : $0 } ?? "UTC"
        guard let zone = TimeZone(identifier: zoneName) else {
            throw ScheduleError(field: "timeZone", value: zoneName, reason: "unknown time zone (an IANA name such as Europe/Rome or UTC)")
        }
        return zone
    }

    private static func date(_ text: String) throws(ScheduleError) -> CalendarDate {
        guard let date = CalendarDate(parsing: text) else {
            throw ScheduleError(field: "exceptions", value: text, reason: "expected a date YYYY-MM-DD")
        }
        return date
    }

    public var isSleepOnly: Bool { wakeAt == nil }

    // MARK: Transitions

    /// The next `count` transitions strictly after `instant`, in order.
    public func transitions(after instant: Date, count: Int) -> [Transition] {
        guard count > 0 else { return [] }
        var found: [Transition] = []
        var day = WallClock.dayNumber(of: instant, in: timeZone) - 1
        let lastDay = day + 366 * 8
        var extraDayDone = false
        while day <= lastDay {
            found += transitions(onDay: day).filter { $0.at > instant }
            day += 1
            // Read one day more than needed, so that a clock change cannot reorder the tail.
            if found.count >= count {
                if extraDayDone { break }
                extraDayDone = true
            }
        }
        return Array(found.sorted().prefix(count))
    }

    /// The transitions after `start` and at or before `end`, in order.
    public func transitions(after start: Date, through end: Date) -> [Transition] {
        guard start < end else { return [] }
        let first = WallClock.dayNumber(of: start, in: timeZone) - 1
        let last = WallClock.dayNumber(of: end, in: timeZone) + 1
        return (first...last).flatMap { transitions(onDay: $0) }.filter { $0.at > start && $0.at <= end }.sorted()
    }

    /// The latest transition at or before `instant` (the one that should have happened by now).
    public func latestTransition(atOrBefore instant: Date) -> Transition? {
        let today = WallClock.dayNumber(of: instant, in: timeZone) + 1
        var day = today
        while day >= today - 366 * 8 {
            let candidates = (transitions(onDay: day) + transitions(onDay: day - 1)).filter { $0.at <= instant }
            if let latest = candidates.max() { return latest }
            day -= 2
        }
        return nil
    }

    /// Whether the schedule wants the namespace asleep at `instant`: the kind of the latest transition.
    public func isAsleep(at instant: Date) -> Bool {
        latestTransition(atOrBefore: instant)?.kind == .sleep
    }

    /// Every transition of one local day (a day number in the schedule's time zone), sorted.
    func transitions(onDay day: Int) -> [Transition] {
        guard exceptions.isEmpty || !exceptions.contains(CalendarDate(dayNumber: day)) else { return [] }
        let weekday = WallClock.weekday(ofDay: day)
        var result: [Transition] = []
        func add(_ kind: Transition.Kind, _ pattern: ClockPattern) {
            for hour in pattern.hours.values {
                for minute in pattern.minutes.values {
                    let instant = WallClock.instant(day: day, hour: hour, minute: minute, in: timeZone)
                    result.append(Transition(kind: kind, at: instant))
                }
            }
        }
        if sleepDays.contains(weekday) { add(.sleep, sleepAt) }
        if let wakeAt, wakeDays.contains(weekday) { add(.wake, wakeAt) }
        // Several wall times that fall in one skipped hour land on the same instant: keep one.
        result.sort()
        var unique: [Transition] = []
        unique.reserveCapacity(result.count)
        for transition in result where unique.last != transition { unique.append(transition) }
        return unique
    }
}

/// A moment the schedule puts a namespace to sleep or wakes it.
public struct Transition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case sleep, wake
    }

    public var kind: Kind
    public var at: Date

    public init(kind: Kind, at: Date) {
        self.kind = kind
        self.at = at
    }

    public static func < (lhs: Transition, rhs: Transition) -> Bool {
        lhs.at != rhs.at ? lhs.at < rhs.at : (lhs.kind == .sleep && rhs.kind == .wake)
    }

    public var description: String { "\(kind.rawValue) at \(at.formatted(.iso8601))" }
}

/// A schedule field that is not valid: which field, what was written, and why.
public struct ScheduleError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var value: String
    public var reason: String

    public init(field: String, value: String, reason: String) {
        self.field = field
        self.value = value
        self.reason = reason
    }

    public var description: String { "\(field): \"\(value)\": \(reason)" }
}
