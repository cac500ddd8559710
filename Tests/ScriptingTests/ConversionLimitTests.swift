import JSON
import Testing
@testable import Scripting

/// What crosses between Lua and Swift is bounded: a table met twice is converted once and
/// counted each time, a cycle is named, and the whole stays within the deadline and what the
/// memory cap leaves, in both directions.
@Suite struct ConversionLimitTests {
    @Test func aSharedTableIsConvertedOnceAndCountedEachTimeItAppears() throws {
        let harness = LuaHarness()
        // 2^12 paths through 12 tables: converted, and equal to the tree they stand for.
        let result = try harness.evaluate("local t = {leaf = true} for _ = 1, 12 do t = {t, t} end return {action = 'keep', tree = t}")
        var tree: JSONValue = ["leaf": true]
        for _ in 0..<12 { tree = [tree, tree] }
        #expect(result?["tree"] == tree)

        // 2^40 paths through 40 tables: refused by what they would cost, long before the deadline
        // (generous for a busy machine; converted in full they would take days).
        let error = #expect(throws: PluginError.self) {
            try harness.evaluate("local t = {leaf = true} for _ = 1, 40 do t = {t, t} end return t", timeout: .seconds(30))
        }
        guard case .invalidResult(let field)? = error?.reason else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(field.hasPrefix("result[1][1]"))
        #expect(error?.message.contains("the memory limit leaves") == true, "\(String(describing: error))")
    }

    @Test func withoutAMemoryCapTheElementCountStillBoundsTheConversion() throws {
        var budget = ConversionBudget(byteLimit: .max, deadline: Deadline())
        for _ in 0..<ConversionBudget.maximumElements { try budget.spendScalar() }
        let error = #expect(throws: LuaState.ConversionError.self) { try budget.spendScalar() }
        #expect(error?.reason == "more than 1048576 values (a table counts each time it appears)")
    }

    @Test func theDeadlineIsCheckedWhileConverting() throws {
        let deadline = Deadline(passesAfter: 2)
        var budget = ConversionBudget(byteLimit: .max, deadline: deadline)
        var converted = 0
        let error = #expect(throws: LuaState.ConversionError.self) {
            while true {
                try budget.spendScalar()
                converted += 1
            }
        }
        #expect(error?.reason == "time limit exceeded")
        #expect(converted == 3 * ConversionBudget.checkInterval - 1)
    }

    static let cycles: [(String, String)] = [
        ("local t = {} t.self = t return t", "result.self: a table that contains itself cannot be converted (a cycle back to result)"),
        ("local t = {a = {b = {}}} t.a.b.c = t.a return t", "result.a.b.c: a table that contains itself cannot be converted (a cycle back to result.a)"),
        ("local t = {} t[1] = {{}} t[1][1][1] = t[1] return t", "result[1][1][1]: a table that contains itself cannot be converted (a cycle back to result[1])"),
    ]

    @Test("a cycle names where it starts", arguments: cycles)
    func cycle(body: String, expected: String) throws {
        let harness = LuaHarness()
        let error = #expect(throws: PluginError.self) { try harness.evaluate(body) }
        #expect(error?.description == "policy/test.lua: \(expected)")
    }

    @Test func aSharedTableIsNotACycle() throws {
        let harness = LuaHarness()
        let result = try harness.evaluate("local shared = {n = 1} return {action = 'keep', a = shared, b = {shared, shared}}")
        #expect(result == ["action": "keep", "a": ["n": 1], "b": [["n": 1], ["n": 1]]])
    }

    @Test func aResultCountsAgainstWhatTheMemoryCapLeaves() throws {
        let harness = LuaHarness()
        // 3 MiB of text in Lua fits a 8 MiB cap; its copy does not fit in what is left.
        let error = #expect(throws: PluginError.self) {
            try harness.evaluate("local s = string.rep('x', 3 << 20) return {a = s, b = s .. 'y'}", memory: 8 << 20)
        }
        guard case .invalidResult? = error?.reason else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(error?.message.contains("bytes the memory limit leaves") == true)
        // The same result with room to spare converts.
        #expect(try harness.evaluate("local s = string.rep('x', 1 << 20) return {a = s}", memory: 8 << 20)?["a"]?.string?.count == 1 << 20)
    }

    /// A deadline that passes once asked `passesAfter` times.
    final class Deadline: ConversionBudget.Deadline {
        private let passesAfter: Int
        private var asked = 0

        init(passesAfter: Int = .max) {
            self.passesAfter = passesAfter
        }

        var hasPassed: Bool {
            asked += 1
            return asked > passesAfter
        }
    }

    @Test func argumentsBeyondWhatTheMemoryCapLeavesAreRefused() throws {
        let harness = LuaHarness()
        let big = JSONValue.array(Array(repeating: .string(String(repeating: "x", count: 1000)), count: 10_000))
        let error = #expect(throws: PluginError.self) { try harness.evaluate("return nil", input: big, memory: 4 << 20) }
        #expect(error?.message.contains("argument #1 cannot be passed to Lua") == true, "\(String(describing: error))")
        #expect(error?.message.contains("bytes the memory limit leaves") == true)
    }

    @Test func hostFunctionResultsCountAgainstTheMemoryCapAndTheRefusalIsAClearError() throws {
        let harness = LuaHarness()
        let text = "[" + String(repeating: "[],", count: 100_000) + "[]]"
        // The refusal is an error the plugin can catch, and the state goes on: nothing was left
        // half-allocated past the cap.
        let refused = try harness.evaluate("""
            local ok, problem = pcall(sandman.json.decode, '\(text)')
            local small = sandman.json.decode('[1, 2]')
            return {action = 'keep', reason = tostring(ok) .. ' ' .. problem, small = #small}
            """, memory: 8 << 20)
        let reason = try #require(refused?["reason"]?.string)
        #expect(reason.hasPrefix("false 'decode' produced a value Lua cannot hold: value["), "\(reason)")
        #expect(reason.contains("bytes the memory limit leaves"))
        #expect(refused?["small"] == 2)
    }

    @Test func hugeLogLinesAreCut() throws {
        let harness = LuaHarness()
        _ = try harness.evaluate("print(string.rep('x', 100000)) return nil")
        let line = try #require(harness.logs.entries.last?.message)
        #expect(line.hasSuffix("... (\(100_000 - HostLibrary.maximumLogMessage) more bytes)"))
        #expect(line.utf8.count < HostLibrary.maximumLogMessage + 64)
    }
}
