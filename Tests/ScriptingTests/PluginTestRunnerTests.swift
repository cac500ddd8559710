import Foundation
import JSON
import Scripting
import TestSupport
import Testing

/// `sandman plugins test` and `lint` over real files.
@Suite struct PluginTestRunnerTests {
    static let policy = """
        function decide(ctx)
          if ctx.tier == "production" then return nil end
          if ctx.tier == "broken" then error("no tier") end
          return {action = "sleep", reason = "at " .. sandman.time.format(sandman.time.now(), "%H:%M")}
        end
        """

    @Test func runsYAMLCasesAndLuaTestsAndReportsEachResult() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/night.lua", Self.policy)
        try directory.write("policy/tests/night.yaml", """
            now: 2026-03-02T19:30:00Z
            cases:
              - name: sleeps
                input: {tier: development}
                output: {action: sleep, reason: "at 19:30"}
              - name: the case's own clock
                now: 1772409600
                input: {tier: development}
                output: {reason: "at 00:00"}
              - name: no opinion for production
                input: {tier: production}
                output: null
              - name: an expected error
                input: {tier: broken}
                error: "policy/night.lua:3: no tier"
              - name: a wrong expectation
                input: {tier: development}
                output: {action: wake}
              - name: an unexpected error
                input: {tier: broken}
                output: {action: sleep}
              - name: input from a file
                inputPath: ctx/dev.yaml
                output: {action: sleep}
            """)
        try directory.write("policy/tests/ctx/dev.yaml", "tier: development\n")
        try directory.write("policy/tests/night_test.lua", """
            local night = plugin("policy/night.lua")
            test("production", function() assert_nil(night.decide({tier = "production"})) end)
            test("set_now moves the plugin's clock", function()
              set_now(1772409600 + 3600)
              assert_eq(night.decide({tier = "dev"}), {action = "sleep", reason = "at 01:00"})
            end)
            test("a failing assertion", function() assert_eq(night.decide({tier = "dev"}).action, "wake") end)
            test("errors can be expected", function()
              assert_error(function() night.decide({tier = "broken"}) end, "no tier")
            end)
            test("the wrong hook", function() night.handle({}) end)
            """)
        let report = await PluginTestRunner(directory: directory.path, logger: LogRecorder().logger).run()
        let results = Dictionary(uniqueKeysWithValues: report.cases.map { ("\($0.file): \($0.name)", $0.failure) })
        #expect(results["policy/tests/night.yaml: sleeps"] == .some(nil))
        #expect(results["policy/tests/night.yaml: the case's own clock"] == .some(nil))
        #expect(results["policy/tests/night.yaml: no opinion for production"] == .some(nil))
        #expect(results["policy/tests/night.yaml: an expected error"] == .some(nil))
        #expect(results["policy/tests/night.yaml: a wrong expectation"] == .some("output.action: expected \"wake\", got \"sleep\""))
        #expect(results["policy/tests/night.yaml: an unexpected error"] == .some("unexpected error: policy/night.lua:3: no tier"))
        #expect(results["policy/tests/night.yaml: input from a file"] == .some(nil))
        #expect(results["policy/tests/night_test.lua: production"] == .some(nil))
        #expect(results["policy/tests/night_test.lua: set_now moves the plugin's clock"] == .some(nil))
        #expect(results["policy/tests/night_test.lua: a failing assertion"]??.contains("policy/tests/night_test.lua:7: value: expected \"wake\", got \"sleep\"") == true)
        #expect(results["policy/tests/night_test.lua: errors can be expected"] == .some(nil))
        #expect(results["policy/tests/night_test.lua: the wrong hook"]??.contains("a policy plugin exports decide, not handle") == true)
        #expect(report.cases.count == 12)
        #expect(report.passedCount == 8)
        #expect(report.failedCount == 4)
        #expect(!report.succeeded)
    }

    @Test func brokenTestFilesAreProblemsFoundWithoutRunningCases() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", "function decide(ctx) return nil end")
        try directory.write("policy/tests/p.yaml", "cases:\n  - name: [unclosed\n")
        try directory.write("policy/tests/orphan.yaml", "cases: []")
        try directory.write("policy/tests/shape.yaml", "plugin: policy/p.lua\ncases:\n  - name: neither\n    input: {}\n")
        try directory.write("policy/p_test.lua", "test('x', function() end")
        try directory.write("policy/tests/empty_test.lua", "-- nothing here")
        let runner = PluginTestRunner(directory: directory.path, logger: LogRecorder().logger)
        let problems = await runner.check()
        #expect(problems.count == 4)
        #expect(problems.contains { $0.hasPrefix("policy/tests/p.yaml: cannot read the cases") })
        #expect(problems.contains { $0 == "policy/tests/orphan.yaml: plugin policy/orphan.lua does not exist (set 'plugin: <kind>/<file>.lua')" })
        #expect(problems.contains { $0.hasPrefix("policy/p_test.lua:1: ')' expected") })
        #expect(problems.contains { $0.contains("policy/tests/empty_test.lua: defines no test") })

        let report = await runner.run()
        #expect(report.cases.map(\.failure) == ["give either 'output' (null for no result) or 'error' (text the error must contain)"])
        #expect(report.failedCount == 5)
    }

    @Test func lintReportsPluginsThatDoNotLoadAndStrayFiles() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/good.lua", "function decide(ctx) return nil end")
        try directory.write("notify/bad.lua", "function format(event) return {text = 'x'} end end")
        try directory.write("helpers/util.lua", "return {}")
        let report = await PluginLinter(directory: directory.path, logger: LogRecorder().logger).run()
        #expect(report.statuses.map(\.file) == ["policy/good.lua", "notify/bad.lua"])
        #expect(report.problems == ["notify/bad.lua:1: <eof> expected near 'end'"])
        #expect(report.warnings.count == 1)
        #expect(report.warnings.first?.hasPrefix("helpers/util.lua is not loaded") == true)
    }

    @Test func theDefaultPluginsPassTheirOwnTests() async throws {
        let plugins = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("plugins").path
        let report = await PluginTestRunner(directory: plugins, logger: LogRecorder().logger).run()
        for failed in report.cases where !failed.passed {
            Issue.record("\(failed.file): \(failed.name): \(failed.failure ?? "")")
        }
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.cases.count > 50)
        #expect(report.succeeded)
        let lint = await PluginLinter(directory: plugins, logger: LogRecorder().logger).run()
        #expect(lint.problems.isEmpty)
        #expect(lint.warnings.isEmpty)
    }
}

extension PluginTestRunnerTests {
    @Test func anExpectedErrorMayBeOneOfSeveralTexts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", "function decide(ctx) error('no tier') end")
        try directory.write("policy/tests/p.yaml", """
            cases:
              - {name: one of two, input: {}, error: [instruction budget, no tier]}
              - {name: none of two, input: {}, error: [instruction budget, deadline]}
              - {name: not a text, input: {}, error: [1]}
            """)
        let report = await PluginTestRunner(directory: directory.path, logger: LuaHarness().logs.logger).run()
        #expect(report.cases.map(\.failure) == [
            nil,
            "expected an error containing \"instruction budget\" or \"deadline\", got: policy/p.lua:1: no tier",
            "error: expected a text the error must contain, or a list of texts it must contain one of",
        ])
    }
}

/// Each part of a case runs within its deadline: a case stuck where nothing can interrupt it
/// (here in host code, logging to a handler that keeps it waiting) fails with how long it ran,
/// and the next case runs.
@Suite struct PluginTestRunnerDeadlineTests {
    /// Stuck logging "hold": at load when HOLD_AT_LOAD, in the call when ctx.stuck.
    static let stuck = """
        if HOLD_AT_LOAD then sandman.log.info("hold") end
        function decide(ctx) if ctx.stuck then sandman.log.info("hold") end return {action = 'keep'} end
        """

    /// Deadlines of a second, so that on a busy machine only the stuck parts miss theirs.
    func runner(_ directory: TemporaryDirectory, gate: Gate) -> PluginTestRunner {
        PluginTestRunner(
            directory: directory.path,
            configuration: .init(directory: directory.path, callTimeout: .seconds(1), loadTimeout: .seconds(10), deadlineGrace: .milliseconds(500)),
            luaTestTimeout: .seconds(1), logger: LogRecorder(gate: gate).logger
        )
    }

    @Test func aStuckYAMLCaseFailsWithItsDurationAndTheNextCaseRuns() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gate = Gate()
        defer { gate.open() }
        try directory.write("policy/p.lua", Self.stuck.replacingOccurrences(of: "HOLD_AT_LOAD", with: "false"))
        try directory.write("policy/tests/p.yaml", """
            cases:
              - {name: stuck, input: {stuck: true}, output: {action: keep}}
              - {name: next, input: {}, output: {action: keep}}
            """)
        let report = await runner(directory, gate: gate).run()
        #expect(report.cases.map(\.name) == ["stuck", "next"])
        let failure = try #require(report.cases.first?.failure)
        #expect(failure.hasPrefix("did not finish: the call was still running after "), "\(failure)")
        #expect(failure.contains("past its deadline of 1s; its thread was abandoned and the next case goes on"), "\(failure)")
        #expect(report.cases.last?.passed == true, "\(report.cases)")
        #expect(gate.blocked == 1)
    }

    @Test func aStuckLuaTestFailsAndTheNextTestGetsAFreshState() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let gate = Gate()
        defer { gate.open() }
        // The test is stuck in host code: loading the plugin it calls.
        try directory.write("policy/stuck.lua", Self.stuck.replacingOccurrences(of: "HOLD_AT_LOAD", with: "true"))
        try directory.write("policy/tests/p_test.lua", """
            local runs = 0
            test("first", function() runs = runs + 1 end)
            test("stuck", function() runs = runs + 1 plugin("policy/stuck.lua").decide({}) end)
            test("fresh", function() assert_eq(runs, 0) end)
            """)
        let report = await runner(directory, gate: gate).run()
        #expect(report.problems == [])
        try #require(report.cases.map(\.name) == ["first", "stuck", "fresh"])
        #expect(report.cases[0].passed, "\(report.cases)")
        #expect(report.cases[1].failure?.hasPrefix("did not finish: the test was still running after ") == true, "\(report.cases[1])")
        #expect(report.cases[2].passed, "\(report.cases[2])")
        #expect(gate.blocked == 1)
    }

    @Test func aCallPastItsDeadlineReportsHowLongItRan() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", "function decide(ctx) local t = {} while true do t[1] = ctx end end")
        try directory.write("policy/tests/p.yaml", "cases:\n  - {name: loops, input: {}, output: null}\n")
        // A load and a grace no busy machine reaches: only the call's deadline is at stake.
        let configuration = PluginHost.Configuration(
            directory: directory.path, callTimeout: .milliseconds(100), instructionLimit: 0, loadTimeout: .seconds(30),
            deadlineGrace: .seconds(60)
        )
        let report = await PluginTestRunner(directory: directory.path, configuration: configuration, logger: LuaHarness().logs.logger).run()
        let failure = try #require(report.cases.first?.failure)
        #expect(failure.contains("policy/p.lua:1: the call ran for "), "\(failure)")
        #expect(failure.contains(", past its deadline of 100ms"), "\(failure)")
    }
}
