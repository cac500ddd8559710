import Testing
@testable import Scheduling

/// The day-of-week field as kube-green 0.7 reads `weekdays`: it builds `"M H * * WEEKDAYS"`
/// (api/v1alpha1/sleepinfo_types.go `getScheduleFromWeekdayAndTime`) and parses it with
/// robfig/cron v3.0.1's `cron.ParseStandard` (parser.go `getField`, `getRange`,
/// `parseIntOrName`; the names are spec.go's `dow` bounds).
@Suite("weekdays as kube-green parses them")
struct KubeGreenWeekdaysTests {
    @Test(arguments: [
        ("1-5", [1, 2, 3, 4, 5], "sleepinfo_types_test.go: 1-5"),
        ("*", Array(0...6), "e2e suspend-*.sleepinfo.yaml: *"),
        ("?", Array(0...6), "getRange: ? is *"),
        ("Mon-Fri", [1, 2, 3, 4, 5], "parseIntOrName: names, any case"),
        ("mon-fri", [1, 2, 3, 4, 5], "parseIntOrName: lower case"),
        ("SAT,SUN", [0, 6], "getField: lists of names"),
        ("sun,3-thu", [0, 3, 4], "getRange: names and numbers mixed"),
        ("mon-fri/2", [1, 3, 5], "getRange: a step over a named range"),
        ("*/3", [0, 3, 6], "getRange: a step over *"),
        ("2/2", [2, 4, 6], "getRange: N/step runs to the maximum"),
        ("1,,5,", [1, 5], "getField: strings.FieldsFunc drops empty items"),
        ("*-3", Array(0...6), "getRange: after * the rest of a range is not read"),
        (" 1-5 ", [1, 2, 3, 4, 5], "Parse: strings.Fields trims the spec"),
    ] as [(String, [Int], String)])
    func accepts(weekdays: String, days: [Int], source: String) throws {
        let schedule = try SleepSchedule(weekdays: weekdays, sleepAt: "20:00", wakeUpAt: "08:00")
        #expect(schedule.sleepDays.values == days, "\(source)")
    }

    @Test(arguments: [
        ("7", "getRange: end of range (7) above maximum (6)"),
        ("Monday", "parseIntOrName: only three-letter names"),
        ("fri-mon", "getRange: beginning of range beyond end"),
        ("1-5/0", "getRange: step of range should be a positive number"),
        ("1-2-3", "getRange: too many hyphens"),
        ("1/2/3", "getRange: too many slashes"),
        ("1, 5", "Parse: a space splits the spec into six fields"),
        ("", "getScheduleFromWeekdayAndTime: empty weekdays"),
        ("L", "parseIntOrName: no L"),
    ] as [(String, String)])
    func rejects(weekdays: String, source: String) {
        let error = #expect(throws: ScheduleError.self, "\(source)") { try SleepSchedule(weekdays: weekdays, sleepAt: "20:00") }
        #expect(error?.field == "weekdays")
    }
}
