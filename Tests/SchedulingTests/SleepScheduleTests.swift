import Foundation
import Testing
@testable import Scheduling
import TestSupport

/// Transitions written compactly: "sleep 2026-03-29T01:00:00Z".
func describe(_ transitions: [Transition]) -> [String] {
    transitions.map { "\($0.kind.rawValue) \($0.at.formatted(.iso8601))" }
}

struct ScheduleCase: Sendable, CustomTestStringConvertible {
    var name: String
    var weekdays = "*"
    var sleepAt: String
    var wakeUpAt: String?
    var timeZone = "UTC"
    var sleepDays: String?
    var wakeDays: String?
    var exceptions: [String] = []
    var from: String
    var expected: [String]
    var testDescription: String { name }

    func schedule() throws -> SleepSchedule {
        try SleepSchedule(weekdays: weekdays, sleepAt: sleepAt, wakeUpAt: wakeUpAt, timeZone: timeZone, sleepDays: sleepDays, wakeDays: wakeDays, exceptions: exceptions)
    }
}

@Suite("Sleep schedules")
struct SleepScheduleTests {
    // Expected instants were computed independently with Python's zoneinfo.
    static let transitionCases: [ScheduleCase] = [
        ScheduleCase(name: "office hours on a Monday", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", from: "2026-11-30T12:00:00Z",
                     expected: ["sleep 2026-11-30T20:00:00Z", "wake 2026-12-01T08:00:00Z", "sleep 2026-12-01T20:00:00Z"]),
        ScheduleCase(name: "office hours over a weekend", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", from: "2026-12-04T19:00:00Z",
                     expected: ["sleep 2026-12-04T20:00:00Z", "wake 2026-12-07T08:00:00Z", "sleep 2026-12-07T20:00:00Z"]),
        ScheduleCase(name: "exactly at a transition starts after it", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", from: "2026-11-30T20:00:00Z",
                     expected: ["wake 2026-12-01T08:00:00Z"]),
        ScheduleCase(name: "Rome: a sleep in the skipped hour happens at the change", sleepAt: "02:30", wakeUpAt: "07:00", timeZone: "Europe/Rome", from: "2026-03-28T12:00:00Z",
                     expected: ["sleep 2026-03-29T01:00:00Z", "wake 2026-03-29T05:00:00Z", "sleep 2026-03-30T00:30:00Z"]),
        ScheduleCase(name: "Rome: a sleep in the repeated hour happens once, the first time", sleepAt: "02:30", wakeUpAt: "07:00", timeZone: "Europe/Rome", from: "2026-10-24T12:00:00Z",
                     expected: ["sleep 2026-10-25T00:30:00Z", "wake 2026-10-25T06:00:00Z", "sleep 2026-10-26T01:30:00Z"]),
        ScheduleCase(name: "Rome: office hours across the spring change", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: "Europe/Rome", from: "2026-03-27T12:00:00Z",
                     expected: ["sleep 2026-03-27T19:00:00Z", "wake 2026-03-30T06:00:00Z", "sleep 2026-03-30T18:00:00Z"]),
        ScheduleCase(name: "Rome: office hours across the autumn change", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: "Europe/Rome", from: "2026-10-23T12:00:00Z",
                     expected: ["sleep 2026-10-23T18:00:00Z", "wake 2026-10-26T07:00:00Z", "sleep 2026-10-26T19:00:00Z"]),
        ScheduleCase(name: "New York: skipped 02:15 happens at 03:00 EDT", sleepAt: "02:15", wakeUpAt: "06:00", timeZone: "America/New_York", from: "2026-03-07T12:00:00Z",
                     expected: ["sleep 2026-03-08T07:00:00Z", "wake 2026-03-08T10:00:00Z", "sleep 2026-03-09T06:15:00Z"]),
        ScheduleCase(name: "New York: repeated 01:30 happens in EDT", sleepAt: "01:30", wakeUpAt: "08:00", timeZone: "America/New_York", from: "2026-10-31T12:00:00Z",
                     expected: ["sleep 2026-11-01T05:30:00Z", "wake 2026-11-01T13:00:00Z", "sleep 2026-11-02T06:30:00Z"]),
        ScheduleCase(name: "New York: office hours across the spring change", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: "America/New_York", from: "2027-03-12T18:00:00Z",
                     expected: ["sleep 2027-03-13T01:00:00Z", "wake 2027-03-15T12:00:00Z", "sleep 2027-03-16T00:00:00Z"]),
        ScheduleCase(name: "New York: office hours across the autumn change", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: "America/New_York", from: "2027-11-05T12:00:00Z",
                     expected: ["sleep 2027-11-06T00:00:00Z", "wake 2027-11-08T13:00:00Z", "sleep 2027-11-09T01:00:00Z"]),
        ScheduleCase(name: "Rome: sleep only across the spring change", sleepAt: "22:00", timeZone: "Europe/Rome", from: "2027-03-27T00:00:00Z",
                     expected: ["sleep 2027-03-27T21:00:00Z", "sleep 2027-03-28T20:00:00Z"]),
        ScheduleCase(name: "Sydney: office hours across the southern autumn change", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: "Australia/Sydney", from: "2027-04-02T00:00:00Z",
                     expected: ["sleep 2027-04-02T09:00:00Z", "wake 2027-04-04T22:00:00Z", "sleep 2027-04-05T10:00:00Z"]),
        ScheduleCase(name: "Lord Howe: 23:30-00:30 window across the half-hour autumn change", sleepAt: "23:30", wakeUpAt: "00:30", timeZone: "Australia/Lord_Howe", from: "2027-04-02T00:00:00Z",
                     expected: ["sleep 2027-04-02T12:30:00Z", "wake 2027-04-02T13:30:00Z", "sleep 2027-04-03T12:30:00Z", "wake 2027-04-03T13:30:00Z", "sleep 2027-04-04T13:00:00Z"]),
        ScheduleCase(name: "Lord Howe: 30-minute spring gap", sleepAt: "02:15", wakeUpAt: "08:00", timeZone: "Australia/Lord_Howe", from: "2026-10-03T00:00:00Z",
                     expected: ["sleep 2026-10-03T15:30:00Z", "wake 2026-10-03T21:00:00Z", "sleep 2026-10-04T15:15:00Z"]),
        ScheduleCase(name: "Lord Howe: 30-minute autumn repeat", sleepAt: "01:45", timeZone: "Australia/Lord_Howe", from: "2026-04-04T00:00:00Z",
                     expected: ["sleep 2026-04-04T14:45:00Z", "sleep 2026-04-05T15:15:00Z"]),
        ScheduleCase(name: "window across midnight", sleepAt: "23:30", wakeUpAt: "00:30", from: "2026-12-01T12:00:00Z",
                     expected: ["sleep 2026-12-01T23:30:00Z", "wake 2026-12-02T00:30:00Z", "sleep 2026-12-02T23:30:00Z"]),
        ScheduleCase(name: "kube-green semantics: Friday's late sleep wakes on Monday", weekdays: "1-5", sleepAt: "23:30", wakeUpAt: "00:30", from: "2026-12-04T12:00:00Z",
                     expected: ["sleep 2026-12-04T23:30:00Z", "wake 2026-12-07T00:30:00Z", "sleep 2026-12-07T23:30:00Z"]),
        ScheduleCase(name: "separate days fix the midnight window", sleepAt: "23:30", wakeUpAt: "00:30", sleepDays: "1-5", wakeDays: "2-6", from: "2026-12-04T12:00:00Z",
                     expected: ["sleep 2026-12-04T23:30:00Z", "wake 2026-12-05T00:30:00Z", "sleep 2026-12-07T23:30:00Z"]),
        ScheduleCase(name: "weekend-long sleep", sleepAt: "18:00", wakeUpAt: "08:00", sleepDays: "5", wakeDays: "1", from: "2026-12-02T00:00:00Z",
                     expected: ["sleep 2026-12-04T18:00:00Z", "wake 2026-12-07T08:00:00Z", "sleep 2026-12-11T18:00:00Z"]),
        ScheduleCase(name: "sleep only", sleepAt: "22:00", from: "2026-12-01T23:00:00Z",
                     expected: ["sleep 2026-12-02T22:00:00Z", "sleep 2026-12-03T22:00:00Z"]),
        ScheduleCase(name: "every hour at five past", sleepAt: "*:05", from: "2026-12-01T10:10:00Z",
                     expected: ["sleep 2026-12-01T11:05:00Z", "sleep 2026-12-01T12:05:00Z", "sleep 2026-12-01T13:05:00Z"]),
        ScheduleCase(name: "every quarter hour", sleepAt: "*:*/15", from: "2026-12-01T10:07:00Z",
                     expected: ["sleep 2026-12-01T10:15:00Z", "sleep 2026-12-01T10:30:00Z", "sleep 2026-12-01T10:45:00Z", "sleep 2026-12-01T11:00:00Z"]),
        ScheduleCase(name: "hour steps", sleepAt: "8-18/5:00", from: "2026-12-01T00:00:00Z",
                     expected: ["sleep 2026-12-01T08:00:00Z", "sleep 2026-12-01T13:00:00Z", "sleep 2026-12-01T18:00:00Z", "sleep 2026-12-02T08:00:00Z"]),
        ScheduleCase(name: "minute start and step", sleepAt: "9:5/20", from: "2026-12-01T00:00:00Z",
                     expected: ["sleep 2026-12-01T09:05:00Z", "sleep 2026-12-01T09:25:00Z", "sleep 2026-12-01T09:45:00Z"]),
        ScheduleCase(name: "leap day", sleepAt: "20:00", wakeUpAt: "08:00", from: "2028-02-28T21:00:00Z",
                     expected: ["wake 2028-02-29T08:00:00Z", "sleep 2028-02-29T20:00:00Z", "wake 2028-03-01T08:00:00Z"]),
        ScheduleCase(name: "leap day as an exception", sleepAt: "20:00", wakeUpAt: "08:00", exceptions: ["2028-02-29"], from: "2028-02-28T21:00:00Z",
                     expected: ["wake 2028-03-01T08:00:00Z", "sleep 2028-03-01T20:00:00Z"]),
        ScheduleCase(name: "Christmas is an exception", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", exceptions: ["2026-12-25"], from: "2026-12-24T12:00:00Z",
                     expected: ["sleep 2026-12-24T20:00:00Z", "wake 2026-12-28T08:00:00Z"]),
        ScheduleCase(name: "weekends only", weekdays: "0,6", sleepAt: "18:00", wakeUpAt: "10:00", from: "2026-12-02T00:00:00Z",
                     expected: ["wake 2026-12-05T10:00:00Z", "sleep 2026-12-05T18:00:00Z", "wake 2026-12-06T10:00:00Z", "sleep 2026-12-06T18:00:00Z"]),
        ScheduleCase(name: "every other weekday", weekdays: "*/2", sleepAt: "20:00", from: "2026-11-29T00:00:00Z",
                     expected: ["sleep 2026-11-29T20:00:00Z", "sleep 2026-12-01T20:00:00Z", "sleep 2026-12-03T20:00:00Z", "sleep 2026-12-05T20:00:00Z"]),
        ScheduleCase(name: "India has no daylight saving", sleepAt: "20:00", timeZone: "Asia/Kolkata", from: "2026-12-01T00:00:00Z",
                     expected: ["sleep 2026-12-01T14:30:00Z"]),
        ScheduleCase(name: "year boundary", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", from: "2026-12-31T21:00:00Z",
                     expected: ["wake 2027-01-01T08:00:00Z", "sleep 2027-01-01T20:00:00Z", "wake 2027-01-04T08:00:00Z"]),
    ]

    @Test(arguments: transitionCases)
    func nextTransitions(_ testCase: ScheduleCase) throws {
        let schedule = try testCase.schedule()
        let found = schedule.transitions(after: instant(testCase.from), count: testCase.expected.count)
        #expect(describe(found) == testCase.expected)
    }

    struct StateCase: Sendable, CustomTestStringConvertible {
        var name: String
        var weekdays = "*"
        var sleepAt: String
        var wakeUpAt: String?
        var timeZone = "UTC"
        var at: String
        var latest: String?
        var asleep: Bool
        var testDescription: String { name }
    }

    static let stateCases: [StateCase] = [
        StateCase(name: "Saturday noon after a Friday sleep", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", at: "2026-12-05T12:00:00Z", latest: "sleep 2026-12-04T20:00:00Z", asleep: true),
        StateCase(name: "Monday morning after the wake", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", at: "2026-12-07T09:00:00Z", latest: "wake 2026-12-07T08:00:00Z", asleep: false),
        StateCase(name: "exactly at the sleep", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", at: "2026-12-07T20:00:00Z", latest: "sleep 2026-12-07T20:00:00Z", asleep: true),
        StateCase(name: "one second before the sleep", weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", at: "2026-12-07T19:59:59Z", latest: "wake 2026-12-07T08:00:00Z", asleep: false),
        StateCase(name: "inside the midnight window", sleepAt: "23:30", wakeUpAt: "00:30", at: "2026-12-02T00:10:00Z", latest: "sleep 2026-12-01T23:30:00Z", asleep: true),
        StateCase(name: "Rome, during the repeated hour", sleepAt: "02:30", wakeUpAt: "07:00", timeZone: "Europe/Rome", at: "2026-10-25T01:15:00Z", latest: "sleep 2026-10-25T00:30:00Z", asleep: true),
        StateCase(name: "Rome, just after the skipped hour", sleepAt: "02:30", wakeUpAt: "07:00", timeZone: "Europe/Rome", at: "2026-03-29T01:00:00Z", latest: "sleep 2026-03-29T01:00:00Z", asleep: true),
        StateCase(name: "sleep-only schedule is asleep after any sleep", sleepAt: "22:00", at: "2026-12-02T09:00:00Z", latest: "sleep 2026-12-01T22:00:00Z", asleep: true),
        StateCase(name: "long weekday gap is found", weekdays: "3", sleepAt: "20:00", wakeUpAt: "08:00", at: "2026-12-07T12:00:00Z", latest: "sleep 2026-12-02T20:00:00Z", asleep: true),
    ]

    @Test(arguments: stateCases)
    func stateAtAnInstant(_ testCase: StateCase) throws {
        let schedule = try SleepSchedule(weekdays: testCase.weekdays, sleepAt: testCase.sleepAt, wakeUpAt: testCase.wakeUpAt, timeZone: testCase.timeZone)
        let latest = schedule.latestTransition(atOrBefore: instant(testCase.at))
        #expect(latest.map { describe([$0]) } ?? [] == testCase.latest.map { [$0] } ?? [])
        #expect(schedule.isAsleep(at: instant(testCase.at)) == testCase.asleep)
    }

    @Test(arguments: [
        (["weekdays": "1-7"], "weekdays: \"1-7\": invalid day-of-week field: 7 is outside 0-6 (0 is Sunday; e.g. \"1-5\", \"Mon-Fri\", \"0,6\", \"*\")"),
        (["weekdays": "monday"], "weekdays: \"monday\": invalid day-of-week field: \"monday\" is not a number or a name (sun, mon, tue, wed, thu, fri, sat)"),
        (["sleepDays": "9"], "sleepDays: \"9\": invalid day-of-week field: 9 is outside 0-6"),
        (["sleepAt": "25:00"], "sleepAt: \"25:00\": invalid hour \"25\": 25 is outside 0-23"),
        (["sleepAt": "20:60"], "sleepAt: \"20:60\": invalid minute \"60\": 60 is outside 0-59"),
        (["sleepAt": "2000"], "sleepAt: \"2000\": expected HOUR:MINUTE such as \"20:00\" or \"*:05\""),
        (["wakeUpAt": "20:00"], "wakeUpAt: \"20:00\": must differ from sleepAt"),
        (["wakeUpAt": "8:x"], "wakeUpAt: \"8:x\": invalid minute \"x\": \"x\" is not a number"),
        (["timeZone": "Mars/Olympus"], "timeZone: \"Mars/Olympus\": unknown time zone (an IANA name such as Europe/Rome or UTC)"),
        (["exceptions": "2026-02-30"], "exceptions: \"2026-02-30\": expected a date YYYY-MM-DD"),
    ] as [([String: String], String)])
    func invalidFieldsAreNamed(fields: [String: String], message: String) {
        let error = #expect(throws: ScheduleError.self) {
            try SleepSchedule(
                weekdays: fields["weekdays"] ?? "1-5", sleepAt: fields["sleepAt"] ?? "20:00", wakeUpAt: fields["wakeUpAt"] ?? "08:00",
                timeZone: fields["timeZone"], sleepDays: fields["sleepDays"], exceptions: fields["exceptions"].map { [$0] } ?? []
            )
        }
        #expect(error.map { $0.description.hasPrefix(message) } == true, "\(String(describing: error))")
    }

    @Test func calendarDatesRoundTripThroughDayNumbers() {
        for day in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(CalendarDate(dayNumber: day).dayNumber == day)
        }
        #expect(CalendarDate(dayNumber: 0) == CalendarDate(year: 1970, month: 1, day: 1))
        #expect(CalendarDate(parsing: "2028-02-29")?.dayNumber == CalendarDate(year: 2028, month: 3, day: 1).dayNumber - 1)
        #expect(CalendarDate(parsing: "2100-02-29") == nil)
        #expect(CalendarDate(parsing: "2000-02-29") != nil)
        #expect(WallClock.weekday(ofDay: CalendarDate(year: 2026, month: 11, day: 28).dayNumber) == 6)
    }
}

@Suite("Schedule planner")
struct SchedulePlannerTests {
    static let office = try! SleepSchedule(weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00")

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var schedule: SleepSchedule? = SchedulePlannerTests.office
        var lastTransition: String?
        var managedSince: String?
        var overrides: [ScheduleOverride] = []
        var asleep: Bool
        var now: String
        var action: Transition.Kind?
        /// The latest transition taken into account after the plan.
        var last: String?
        var ended: [String] = []
        var usedSkips: [String] = []
        var nextCheck: String?
        var byOverride = false
        /// Asleep under a sleep-only schedule at its sleepAt: swept again.
        var resleep = false
        /// `sleep 2026-12-08T20:00:00Z (schedule)`
        var nextChange: String?
        var testDescription: String { name }
    }

    static func wake(_ id: String, from: String, until: String?, scope: ScheduleOverride.Scope = .namespace) -> ScheduleOverride {
        ScheduleOverride(id: id, kind: .wake, scope: scope, until: until.map(instant), createdAt: instant(from))
    }

    static func sleep(_ id: String, from: String, until: String?, scope: ScheduleOverride.Scope = .namespace) -> ScheduleOverride {
        ScheduleOverride(id: id, kind: .sleep, scope: scope, until: until.map(instant), createdAt: instant(from))
    }

    static func skip(_ id: String, from: String, scope: ScheduleOverride.Scope = .namespace) -> ScheduleOverride {
        ScheduleOverride(id: id, kind: .skip, scope: scope, until: nil, createdAt: instant(from))
    }

    static let nightly = try! SleepSchedule(weekdays: "*", sleepAt: "20:00", wakeUpAt: nil)

    static let cases: [Case] = [
        Case(name: "sleep-only: asleep at sleepAt is swept again", schedule: nightly, lastTransition: "2026-12-06T20:00:00Z",
             asleep: true, now: "2026-12-07T20:00:05Z", action: nil, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T20:00:00Z",
             resleep: true),
        Case(name: "sleep-only: awake at sleepAt is put to sleep", schedule: nightly, lastTransition: "2026-12-06T20:00:00Z",
             asleep: false, now: "2026-12-07T20:00:05Z", action: .sleep, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T20:00:00Z"),
        Case(name: "sleep-only: between two sleepAt nothing happens", schedule: nightly, lastTransition: "2026-12-07T20:00:00Z",
             asleep: true, now: "2026-12-07T23:00:00Z", action: nil, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T20:00:00Z"),
        Case(name: "sleep-only: a sleepAt caught up the next morning leaves the morning's scale-ups", schedule: nightly,
             lastTransition: "2026-12-06T20:00:00Z", asleep: true, now: "2026-12-08T09:00:00Z", action: nil,
             last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T20:00:00Z"),
        Case(name: "sleep-only: a person's wake in force is not cut short", schedule: nightly, lastTransition: "2026-12-06T20:00:00Z",
             overrides: [wake("w", from: "2026-12-07T19:00:00Z", until: "2026-12-07T22:00:00Z")], asleep: false, now: "2026-12-07T20:00:05Z",
             action: nil, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-07T22:00:00Z", byOverride: true),
        Case(name: "transition due now is acted on", lastTransition: "2026-12-07T08:00:00Z", asleep: false, now: "2026-12-07T20:00:05Z",
             action: .sleep, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T08:00:00Z", nextChange: "wake 2026-12-08T08:00:00Z (schedule)"),
        Case(name: "asleep after the transition: nothing to do", lastTransition: "2026-12-07T20:00:00Z", asleep: true, now: "2026-12-07T23:00:00Z",
             action: nil, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T08:00:00Z"),
        Case(name: "a sleep that did not happen is done again", lastTransition: "2026-12-07T20:00:00Z", asleep: false, now: "2026-12-07T23:00:00Z",
             action: .sleep, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T08:00:00Z"),
        Case(name: "hub down over the weekend wakes on Monday once", lastTransition: "2026-12-04T20:00:00Z", asleep: true, now: "2026-12-07T09:30:00Z",
             action: .wake, last: "2026-12-07T08:00:00Z", nextCheck: "2026-12-07T20:00:00Z"),
        Case(name: "down for days: only the latest transition counts", lastTransition: "2026-12-01T08:00:00Z", asleep: false, now: "2026-12-04T22:00:00Z",
             action: .sleep, last: "2026-12-04T20:00:00Z", nextCheck: "2026-12-07T08:00:00Z"),
        Case(name: "due but already in that state", lastTransition: "2026-12-07T08:00:00Z", asleep: true, now: "2026-12-07T20:01:00Z",
             action: nil, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T08:00:00Z"),
        Case(name: "new schedule does not act on transitions before it existed", managedSince: "2026-12-07T21:00:00Z", asleep: false, now: "2026-12-07T21:05:00Z",
             action: nil, last: nil, nextCheck: "2026-12-08T08:00:00Z", nextChange: "sleep 2026-12-08T20:00:00Z (schedule)"),
        Case(name: "first start catches up an old schedule", managedSince: "2026-01-01T00:00:00Z", asleep: false, now: "2026-12-07T21:05:00Z",
             action: .sleep, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T08:00:00Z"),
        Case(name: "hub schedule seen for the first time takes its latest transition", asleep: false, now: "2026-12-07T21:05:00Z",
             action: .sleep, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-08T08:00:00Z"),
        Case(name: "keep-awake override at night wakes", lastTransition: "2026-12-07T20:00:00Z",
             overrides: [wake("o1", from: "2026-12-07T21:00:00Z", until: "2026-12-07T23:00:00Z")],
             asleep: true, now: "2026-12-07T21:00:01Z", action: .wake, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-07T23:00:00Z", byOverride: true,
             nextChange: "sleep 2026-12-07T23:00:00Z (override ends)"),
        Case(name: "keep-awake override absorbs the transition it spans", lastTransition: "2026-12-07T08:00:00Z",
             overrides: [wake("o1", from: "2026-12-07T19:00:00Z", until: "2026-12-07T23:00:00Z")],
             asleep: false, now: "2026-12-07T20:00:01Z", action: nil, last: "2026-12-07T20:00:00Z", nextCheck: "2026-12-07T23:00:00Z", byOverride: true),
        Case(name: "override expiry returns to sleep", lastTransition: "2026-12-07T20:00:00Z",
             overrides: [wake("o1", from: "2026-12-07T21:00:00Z", until: "2026-12-07T23:00:00Z")],
             asleep: false, now: "2026-12-07T23:00:00Z", action: .sleep, last: "2026-12-07T20:00:00Z", ended: ["o1"], nextCheck: "2026-12-08T08:00:00Z"),
        Case(name: "override expiry during the day stays awake", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [sleep("o2", from: "2026-12-08T09:00:00Z", until: "2026-12-08T12:00:00Z")],
             asleep: true, now: "2026-12-08T12:00:30Z", action: .wake, last: "2026-12-08T08:00:00Z", ended: ["o2"], nextCheck: "2026-12-08T20:00:00Z"),
        Case(name: "keep-asleep override in the day sleeps", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [sleep("o2", from: "2026-12-08T09:00:00Z", until: nil)],
             asleep: false, now: "2026-12-08T09:00:00Z", action: .sleep, last: "2026-12-08T08:00:00Z", nextCheck: "2026-12-08T20:00:00Z", byOverride: true,
             nextChange: nil),
        Case(name: "the newest override of a scope wins", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [sleep("old", from: "2026-12-08T09:00:00Z", until: "2026-12-08T18:00:00Z"), wake("new", from: "2026-12-08T10:00:00Z", until: "2026-12-08T17:00:00Z")],
             asleep: true, now: "2026-12-08T10:30:00Z", action: .wake, last: "2026-12-08T08:00:00Z", nextCheck: "2026-12-08T17:00:00Z", byOverride: true),
        Case(name: "the namespace's own override wins over its cluster's newer one", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [sleep("ns", from: "2026-12-08T09:00:00Z", until: "2026-12-08T12:00:00Z"), wake("cl", from: "2026-12-08T10:00:00Z", until: "2026-12-08T20:30:00Z", scope: .cluster)],
             asleep: false, now: "2026-12-08T10:30:00Z", action: .sleep, last: "2026-12-08T08:00:00Z", nextCheck: "2026-12-08T12:00:00Z", byOverride: true,
             nextChange: "wake 2026-12-08T12:00:00Z (override ends)"),
        Case(name: "the cluster's override applies again when the namespace's ends", lastTransition: "2026-12-08T20:00:00Z",
             overrides: [wake("ns", from: "2026-12-08T21:00:00Z", until: "2026-12-08T22:00:00Z"), sleep("cl", from: "2026-12-08T20:30:00Z", until: nil, scope: .cluster)],
             asleep: false, now: "2026-12-08T22:00:00Z", action: .sleep, last: "2026-12-08T20:00:00Z", ended: ["ns"], nextCheck: "2026-12-09T08:00:00Z", byOverride: true),
        Case(name: "skip swallows the next sleep", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [skip("s", from: "2026-12-08T15:00:00Z")],
             asleep: false, now: "2026-12-08T20:00:10Z", action: nil, last: "2026-12-08T20:00:00Z", usedSkips: ["s"], nextCheck: "2026-12-09T08:00:00Z",
             nextChange: "sleep 2026-12-09T20:00:00Z (schedule)"),
        Case(name: "a pending skip moves NEXT to the transition after", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [skip("s", from: "2026-12-08T15:00:00Z")],
             asleep: false, now: "2026-12-08T16:00:00Z", action: nil, last: "2026-12-08T08:00:00Z", nextCheck: "2026-12-08T20:00:00Z",
             nextChange: "sleep 2026-12-09T20:00:00Z (schedule)"),
        Case(name: "skip made after a transition leaves that one alone", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [skip("s", from: "2026-12-08T20:05:00Z")],
             asleep: false, now: "2026-12-08T20:06:00Z", action: .sleep, last: "2026-12-08T20:00:00Z", nextCheck: "2026-12-09T08:00:00Z",
             nextChange: "wake 2026-12-10T08:00:00Z (schedule)"),
        Case(name: "skip swallows the wake at the instant a sleep override ends (observation 2)", lastTransition: "2026-12-08T20:00:00Z",
             overrides: [sleep("n", from: "2026-12-08T21:00:00Z", until: "2026-12-09T08:00:00Z"), skip("c", from: "2026-12-08T22:00:00Z", scope: .cluster)],
             asleep: true, now: "2026-12-09T08:00:00Z", action: nil, last: "2026-12-09T08:00:00Z", ended: ["n"], usedSkips: ["c"],
             nextCheck: "2026-12-09T20:00:00Z", nextChange: "wake 2026-12-10T08:00:00Z (schedule)"),
        Case(name: "a wake for an hour after a day's sleep override ends awake (observation 1)", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [wake("w", from: "2026-12-08T11:00:00Z", until: "2026-12-08T12:00:00Z")],
             asleep: false, now: "2026-12-08T12:00:00Z", action: nil, last: "2026-12-08T08:00:00Z", ended: ["w"], nextCheck: "2026-12-08T20:00:00Z",
             nextChange: "sleep 2026-12-08T20:00:00Z (schedule)"),
        Case(name: "NEXT under a sleep override is its end (observation 6)", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [sleep("s", from: "2026-12-08T10:00:00Z", until: "2026-12-09T08:00:00Z")],
             asleep: true, now: "2026-12-08T21:00:00Z", action: nil, last: "2026-12-08T20:00:00Z", nextCheck: "2026-12-09T08:00:00Z", byOverride: true,
             nextChange: "wake 2026-12-09T08:00:00Z (schedule)"),
        Case(name: "NEXT under a wake override skips the absorbed sleep", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [wake("w", from: "2026-12-08T10:00:00Z", until: "2026-12-08T22:00:00Z")],
             asleep: false, now: "2026-12-08T10:00:00Z", action: nil, last: "2026-12-08T08:00:00Z", nextCheck: "2026-12-08T20:00:00Z", byOverride: true,
             nextChange: "sleep 2026-12-08T22:00:00Z (override ends)"),
        Case(name: "a cleared override: back to what the schedule says", lastTransition: nil, managedSince: "2026-12-08T21:00:00Z",
             overrides: [wake("w", from: "2026-12-08T21:30:00Z", until: nil)],
             asleep: false, now: "2026-12-08T21:30:00Z", action: nil, last: nil, nextCheck: "2026-12-09T08:00:00Z", byOverride: true),
        Case(name: "no schedule and nothing to do", schedule: nil, asleep: false, now: "2026-12-08T10:00:00Z", action: nil, nextCheck: nil),
        Case(name: "no schedule: a timed sleep ends awake", schedule: nil,
             overrides: [sleep("t", from: "2026-12-08T10:00:00Z", until: "2026-12-08T12:00:00Z")],
             asleep: true, now: "2026-12-08T12:00:00Z", action: .wake, ended: ["t"], nextCheck: nil),
        Case(name: "a future override does not act yet", lastTransition: "2026-12-08T08:00:00Z",
             overrides: [sleep("f", from: "2026-12-08T15:00:00Z", until: nil)],
             asleep: false, now: "2026-12-08T10:00:00Z", action: nil, last: "2026-12-08T08:00:00Z", nextCheck: "2026-12-08T20:00:00Z"),
    ]

    @Test(arguments: cases)
    func plans(_ testCase: Case) {
        // What a hub that took that transition into account (and no skip) remembers.
        let last = testCase.lastTransition.map(instant)
        let memory = ScheduleMemory(lastTransition: last, wants: last.flatMap { testCase.schedule?.latestTransition(atOrBefore: $0)?.kind })
        let plan = SchedulePlanner.plan(PlanInput(
            schedule: testCase.schedule, memory: memory,
            managedSince: testCase.managedSince.map(instant), overrides: testCase.overrides, isAsleep: testCase.asleep,
            now: instant(testCase.now)
        ))
        #expect(plan.action == testCase.action, "\(plan.reason)")
        #expect(plan.memory.lastTransition == testCase.last.map(instant))
        #expect(plan.ended == testCase.ended)
        #expect(plan.usedSkips == testCase.usedSkips)
        #expect(plan.nextCheck == testCase.nextCheck.map(instant))
        #expect(plan.byOverride == testCase.byOverride)
        #expect(plan.resleep == testCase.resleep)
        if let expected = testCase.nextChange {
            let change = plan.nextChange.map { "\($0.kind.rawValue) \($0.at.formatted(.iso8601)) (\($0.cause.rawValue))" }
            #expect(change == expected)
        }
    }

    @Test func aClearedOverrideLeavesTheScheduleSpeaking() {
        // A new SleepInfo (managed since 21:00) has said nothing; a person's wake makes the schedule speak,
        // so that once the override is cleared the namespace goes back to what the schedule says (asleep).
        let during = SchedulePlanner.plan(PlanInput(
            schedule: Self.office, managedSince: instant("2026-12-08T21:00:00Z"),
            overrides: [Self.wake("w", from: "2026-12-08T21:30:00Z", until: nil)], isAsleep: false, now: instant("2026-12-08T21:30:00Z")
        ))
        #expect(during.memory.wants == .sleep)
        let after = SchedulePlanner.plan(PlanInput(
            schedule: Self.office, memory: during.memory, managedSince: instant("2026-12-08T21:00:00Z"),
            isAsleep: false, now: instant("2026-12-08T22:00:00Z")
        ))
        #expect(after.action == .sleep)
    }
}
