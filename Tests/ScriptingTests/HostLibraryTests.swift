import Foundation
import JSON
import Logging
import Testing
@testable import Scripting

/// `sandman.time`, `sandman.log`, `print` and durations, against real time zone data.
@Suite struct HostLibraryTests {
    static let formats: [(Double, String, String, String)] = [
        (0, "UTC", "%F %T %a %A %b %B %j %u %w %z %Z %s", "1970-01-01 00:00:00 Thu Thursday Jan January 001 4 4 +0000 UTC 0"),
        (-86400, "UTC", "%F %j %a", "1969-12-31 365 Wed"),
        (951_782_400, "UTC", "%F %j %D", "2000-02-29 060 02/29/00"),
        (1_774_745_999, "Europe/Rome", "%F %T %z", "2026-03-29 01:59:59 +0100"),
        (1_774_746_000, "Europe/Rome", "%F %T %z", "2026-03-29 03:00:00 +0200"),
        (1_792_888_200, "Europe/Rome", "%R %z", "02:30 +0200"),
        (1_792_891_800, "Europe/Rome", "%R %z", "02:30 +0100"),
        (1_772_476_200, "America/New_York", "%I:%M %p %e %y", "01:30 PM  2 26"),
        (1_772_476_200, "Asia/Kolkata", "%F %R %z", "2026-03-03 00:00 +0530"),
        (1_767_225_599, "Pacific/Kiritimati", "%F %T %z", "2026-01-01 13:59:59 +1400"),
        (1_772_476_200.75, "UTC", "%S%%%n%t.", "00%\n\t."),
    ]

    @Test("strftime patterns", arguments: formats)
    func format(epoch: Double, zone: String, pattern: String, expected: String) throws {
        let text = try TimeFormat.format(epoch: epoch, pattern: pattern, in: TimeZone(identifier: zone)!)
        #expect(text == expected)
    }

    static let parts: [(Int64, String, JSONValue)] = [
        (1_774_745_999, "Europe/Rome", ["year": 2026, "month": 3, "day": 29, "hour": 1, "min": 59, "sec": 59, "wday": 1, "yday": 88, "isdst": false, "offset": 3600]),
        (1_774_746_000, "Europe/Rome", ["year": 2026, "month": 3, "day": 29, "hour": 3, "min": 0, "sec": 0, "wday": 1, "yday": 88, "isdst": true, "offset": 7200]),
        (1_792_888_200, "Europe/Rome", ["year": 2026, "month": 10, "day": 25, "hour": 2, "min": 30, "sec": 0, "wday": 1, "yday": 298, "isdst": true, "offset": 7200]),
        (1_792_891_800, "Europe/Rome", ["year": 2026, "month": 10, "day": 25, "hour": 2, "min": 30, "sec": 0, "wday": 1, "yday": 298, "isdst": false, "offset": 3600]),
        (1_772_476_200, "America/New_York", ["year": 2026, "month": 3, "day": 2, "hour": 13, "min": 30, "sec": 0, "wday": 2, "yday": 61, "isdst": false, "offset": -18000]),
        (0, "UTC", ["year": 1970, "month": 1, "day": 1, "hour": 0, "min": 0, "sec": 0, "wday": 5, "yday": 1, "isdst": false, "offset": 0]),
    ]

    @Test("sandman.time.local_parts across both changes of the clock", arguments: parts)
    func localParts(epoch: Int64, zone: String, expected: JSONValue) throws {
        let harness = LuaHarness()
        #expect(try harness.evaluate("return sandman.time.local_parts(\(epoch), '\(zone)')") == expected)
    }

    static let calls: [(String, JSONValue)] = [
        ("return sandman.time.now()", 1_767_225_600),
        ("return math.type(sandman.time.now())", "integer"),
        ("return sandman.time.format(1767225600)", "2026-01-01 00:00 UTC"),
        ("return sandman.time.format(1767225600, '%H:%M', 'Europe/Rome')", "01:00"),
        ("return sandman.time.local_parts(1767225600).hour", 0),
        ("return sandman.time.parse_duration('2h30m')", 9000),
        ("return sandman.time.parse_duration('1d')", 86400),
        ("return sandman.time.parse_duration('250ms')", 0.25),
        ("return math.type(sandman.time.parse_duration('90s'))", "integer"),
        ("local seconds, problem = sandman.time.parse_duration('2x') return {seconds == nil, problem}",
         [true, "invalid duration \"2x\": unknown unit \"x\" (examples: 90s, 10m, 2h30m, 1d)"]),
        ("local ok, problem = pcall(function() return sandman.time.local_parts(0, 'Mars/Olympus') end) return problem",
         "policy/test.lua:2: unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Rome expected)"),
        ("local ok, problem = pcall(function() return sandman.time.format('soon') end) return problem",
         "policy/test.lua:2: bad argument #1 to 'format' (epoch seconds expected)"),
        ("local ok, problem = pcall(function() return sandman.time.format(math.maxinteger) end) return problem",
         "policy/test.lua:2: bad argument #1 to 'format' (epoch seconds out of range)"),
        ("local ok, problem = pcall(function() return sandman.time.local_parts(-1e19) end) return problem",
         "policy/test.lua:2: bad argument #1 to 'local_parts' (epoch seconds out of range)"),
        ("return sandman.time.format(-62135596800)", "1-01-01 00:00 UTC"), // %Y unpadded, as C strftime
        ("local ok, problem = pcall(function() return sandman.time.format(0, '%Q') end) return problem",
         "policy/test.lua:2: unsupported conversion '%Q' in time pattern"),
        ("local ok, problem = pcall(function() return sandman.time.format(0, ('%c'):rep(200)) end) return problem",
         "policy/test.lua:2: bad argument #2 to 'format' (pattern longer than 256 bytes)"),
        ("local ok, problem = pcall(function() sandman.log.info('x', 'not a table') end) return problem",
         "policy/test.lua:2: bad argument #2 to 'info' (table expected, got string)"),
    ]

    @Test("sandman.time with the injected clock", arguments: calls)
    func call(body: String, expected: JSONValue) throws {
        let harness = LuaHarness()
        let value = try harness.evaluate(body)
        #expect(value == expected)
    }

    @Test func printAndLogGoToTheHostLoggerWithThePluginName() throws {
        let harness = LuaHarness()
        _ = try harness.evaluate("""
            print("hello", 42, nil, true)
            sandman.log.debug("checking", {namespace = "web", count = 3, tags = {"a", "b"}})
            sandman.log.info("plain")
            sandman.log.warn("careful")
            sandman.log.error("broken", {plugin = "spoofed"})
            """)
        let entries = harness.logs.entries
        #expect(entries.map(\.level) == [.info, .debug, .info, .warning, .error])
        #expect(entries.map(\.message) == ["hello\t42\tnil\ttrue", "checking", "plain", "careful", "broken"])
        #expect(entries.allSatisfy { $0.metadata["plugin"] == "policy/test.lua" })
        #expect(entries[1].metadata["namespace"] == "web")
        #expect(entries[1].metadata["count"] == "3")
        #expect(entries[1].metadata["tags"] == #"["a", "b"]"#)
    }

    @Test func theClockIsTheInjectedOne() throws {
        let harness = LuaHarness()
        let instance = try PluginInstance(
            harness.source("function decide() return {action = 'keep', reason = tostring(sandman.time.now())} end", clock: { Date(timeIntervalSince1970: 42) }),
            watchdog: harness.watchdog
        )
        #expect(try instance.invoke(.null, watchdog: harness.watchdog)?["reason"] == "42")
    }
}
