import Testing
@testable import Scheduling

@Suite("Duration text")
struct DurationTextTests {
    @Test(arguments: [
        ("90s", Duration.seconds(90)), ("10m", .minutes(10)), ("2h30m", .minutes(150)), ("1d", .hours(24)),
        ("50ms", .milliseconds(50)), ("1h0m5s", .seconds(3605)), ("0", .zero), (" 2H ", .hours(2)), ("1d2h3m4s5ms", .milliseconds(93_784_005)),
    ])
    func parses(text: String, expected: Duration) throws {
        #expect(try DurationText.parse(text) == expected)
    }

    @Test(arguments: [
        ("", "empty"), ("2", "missing unit after 2"), ("h", "expected a number"), ("2x", "unknown unit \"x\""),
        ("30m2h", "largest to smallest"), ("1h1h", "largest to smallest"), ("-5m", "expected a number"),
        ("99999999999999999d", "too long"), ("2h 30m", "expected a number"),
    ])
    func rejects(text: String, reason: String) {
        let error = #expect(throws: DurationText.ParseError.self) { try DurationText.parse(text) }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        (Duration.seconds(11_520), "3h12m"), (.seconds(93_600), "1d2h"), (.seconds(45), "45s"), (.milliseconds(250), "250ms"), (.zero, "0s"),
    ])
    func formatsAndReadsBack(duration: Duration, text: String) throws {
        #expect(DurationText.format(duration) == text)
        #expect(try DurationText.parse(text) == duration)
    }
}

@Suite("Cron fields")
struct CronFieldTests {
    @Test(arguments: [
        ("*", 0...6, Array(0...6)), ("1-5", 0...6, [1, 2, 3, 4, 5]), ("0,6", 0...6, [0, 6]), ("*/2", 0...6, [0, 2, 4, 6]),
        ("8-18/5", 0...23, [8, 13, 18]), ("5/20", 0...59, [5, 25, 45]), ("3,1,3", 0...6, [1, 3]), ("0", 0...59, [0]),
    ] as [(String, ClosedRange<Int>, [Int])])
    func expands(text: String, range: ClosedRange<Int>, values: [Int]) throws {
        #expect(try CronField(parsing: text, range: range).values == values)
    }

    @Test(arguments: [
        ("7", 0...6, "7 is outside 0-6"), ("mon", 0...6, "\"mon\" is not a number"), ("5-1", 0...6, "runs backwards"),
        ("*/0", 0...6, "must be a positive number"), ("", 0...6, "empty"), (",", 0...6, "empty"), ("1/2/3", 0...6, "more than one"),
        ("1-2-3", 0...6, "more than one \"-\""), ("1, 2", 0...6, "spaces are not allowed"),
    ] as [(String, ClosedRange<Int>, String)])
    func rejects(text: String, range: ClosedRange<Int>, reason: String) {
        let error = #expect(throws: CronField.ParseError.self) { try CronField(parsing: text, range: range) }
        #expect(error?.reason.contains(reason) == true, "\(String(describing: error))")
    }
}
