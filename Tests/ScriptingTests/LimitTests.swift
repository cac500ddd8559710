import Foundation
import JSON
import Testing
@testable import Scripting

/// Each limit, proven by attack through the executor the host uses: the caller gets an answer
/// in bounded time, and the plugin answers the next call, from the same state or a fresh one.
@Suite struct LimitTests {
    /// A policy plugin that counts its calls in a global (so a fresh state shows as a reset
    /// count) and runs the attack named in ctx.attack.
    static let plugin = """
        calls = 0
        local attacks = {
          loop = function() while true do end end,
          loop_in_pcall = function() while true do pcall(function() while true do end end) end end,
          loop_in_xpcall_handler = function()
            while true do xpcall(function() while true do end end, function() while true do end end) end
          end,
          huge_string = function() return string.rep("x", 1e9) end,
          table_bomb = function() local t = {} while true do t[#t + 1] = {} end end,
          table_bomb_in_pcall = function()
            while true do pcall(function() local t = {} while true do t[#t + 1] = {} end end) end
          end,
          string_doubling = function() local s = "x" while true do s = s .. s end end,
          deep_recursion = function() local function f(n) return 1 + f(n + 1) end return f(1) end,
          metamethod_recursion = function() local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x end,
          pathological_pattern = function() return string.rep("a", 250):find(".-.-.-b") end,
        }
        function decide(ctx)
          calls = calls + 1
          if ctx.attack then attacks[ctx.attack]() end
          return {action = "keep", reason = tostring(calls)}
        end
        """

    enum Outcome: Sendable, Equatable {
        case timeout
        case instructionLimit
        case memoryLimit
        /// A Lua error (such as a stack overflow) containing this text, or a memory error.
        case stackError
    }

    struct Attack: Sendable, CustomTestStringConvertible {
        var name: String
        var timeout: Duration = .milliseconds(100)
        var memory: Int = 32 << 20
        var instructions: Int = 0
        var outcome: Outcome
        var testDescription: String { name }
    }

    static let attacks: [Attack] = [
        Attack(name: "loop", outcome: .timeout),
        Attack(name: "loop_in_pcall", outcome: .timeout),
        Attack(name: "loop_in_xpcall_handler", outcome: .timeout),
        Attack(name: "loop", timeout: .seconds(10), instructions: 1_000_000, outcome: .instructionLimit),
        Attack(name: "loop_in_pcall", timeout: .seconds(10), instructions: 1_000_000, outcome: .instructionLimit),
        Attack(name: "huge_string", timeout: .seconds(10), outcome: .memoryLimit),
        Attack(name: "table_bomb", timeout: .seconds(10), memory: 8 << 20, outcome: .memoryLimit),
        Attack(name: "table_bomb_in_pcall", timeout: .seconds(10), memory: 8 << 20, instructions: 5_000_000, outcome: .instructionLimit),
        Attack(name: "string_doubling", timeout: .seconds(10), memory: 8 << 20, outcome: .memoryLimit),
        Attack(name: "deep_recursion", timeout: .seconds(10), outcome: .stackError),
        Attack(name: "metamethod_recursion", timeout: .seconds(10), outcome: .stackError),
    ]

    func executor(_ attack: Attack, harness: LuaHarness) -> PluginExecutor {
        let source = harness.source(Self.plugin, timeout: attack.timeout, memory: attack.memory, instructions: attack.instructions)
        return PluginExecutor(source: source, loaded: nil, watchdog: harness.watchdog)
    }

    @Test("attack", arguments: attacks)
    func attack(_ attack: Attack) async throws {
        let harness = LuaHarness()
        let executor = executor(attack, harness: harness)
        defer { executor.shutdown() }
        #expect(try await executor.call([:]).get() == ["action": "keep", "reason": "1"])

        let start = ContinuousClock.now
        let result = await executor.call(["attack": .string(attack.name)])
        let elapsed = ContinuousClock.now - start
        guard case .failure(let error) = result else {
            Issue.record("\(attack.name) was not stopped: \(result)")
            return
        }
        switch attack.outcome {
        case .timeout:
            #expect(error.reason == .timeout(attack.timeout), "\(error)")
            // The attack never ends by itself; a generous bound keeps this true on a loaded machine.
            #expect(elapsed < attack.timeout + .seconds(5), "the host stopped waiting after \(elapsed)")
        case .instructionLimit:
            #expect(error.reason == .instructionLimit(attack.instructions), "\(error)")
        case .memoryLimit:
            #expect(error.reason == .memoryLimit(attack.memory), "\(error)")
        case .stackError:
            let isStackError = error.reason == .memoryLimit(attack.memory)
                || (error.reason == .runtime && (error.message.contains("stack overflow") || error.message.contains("C stack overflow")))
            #expect(isStackError, "\(error)")
        }
        #expect(error.file == "policy/test.lua")

        // The plugin answers again: timeouts and memory errors replace the state (the count starts
        // over), other errors leave it in use (the count goes on).
        let next = try await executor.call([:]).get()
        let replaced = error.reason == .timeout(attack.timeout) || error.reason == .memoryLimit(attack.memory)
        #expect(next == ["action": "keep", "reason": .string(replaced ? "1" : "3")], "\(attack.name): \(String(describing: next))")
    }

    @Test func aPatternMatchStuckInCForSecondsDoesNotWedgeThePlugin() async throws {
        let harness = LuaHarness()
        let executor = PluginExecutor(source: harness.source(Self.plugin, timeout: .milliseconds(100)), loaded: nil, watchdog: harness.watchdog)
        defer { executor.shutdown() }
        #expect(try await executor.call([:]).get() == ["action": "keep", "reason": "1"])

        // The call returns at its deadline while the match goes on in C (timing-free checks: the
        // abandoned thread is still counted as stuck after each answer).
        let stuck = await executor.call(["attack": "pathological_pattern"])
        guard case .failure(let error) = stuck else {
            Issue.record("the pattern match finished in time; it should take seconds")
            return
        }
        #expect(error.reason == .timeout(.milliseconds(100)))

        // While the abandoned thread is still inside string.find, a fresh state answers at once.
        #expect(executor.stuckThreadCount == 1)
        #expect(try await executor.call([:]).get() == ["action": "keep", "reason": "1"])
        #expect(executor.stuckThreadCount == 1)

        // The stuck call ends by itself once the C function returns; its thread then goes away.
        let deadline = ContinuousClock.now + .seconds(60)
        while executor.stuckThreadCount > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(executor.stuckThreadCount == 0)
    }

    @Test func callsFailFastWhileTooManyCallsAreStuck() async throws {
        let harness = LuaHarness()
        let source = harness.source("function decide(ctx) return string.rep('a', 200):find('.-.-.-b') end", timeout: .milliseconds(20))
        let executor = PluginExecutor(source: source, loaded: nil, watchdog: harness.watchdog)
        defer { executor.shutdown() }
        // Each call times out and leaves a thread stuck in string.find for seconds; once enough
        // of them are stuck, calls are refused at once.
        var refusal: PluginError?
        for _ in 0..<(PluginExecutor.maximumStuckThreads * 3) {
            let result = await executor.call(.null)
            guard case .failure(let error) = result else {
                Issue.record("the pattern match finished in time")
                return
            }
            if error.reason == .unavailable {
                refusal = error
                break
            }
            #expect(error.reason == .timeout(.milliseconds(20)))
        }
        let error = try #require(refusal)
        #expect(error.message.contains("stuck"))
        #expect(executor.stuckThreadCount >= PluginExecutor.maximumStuckThreads)
    }

    @Test func aLoopInTheTopLevelOfAFileIsStoppedWhenItLoads() throws {
        let harness = LuaHarness()
        #expect {
            try harness.load("while true do end", timeout: .milliseconds(50), instructions: 0)
        } throws: { error in
            (error as? PluginError)?.reason == .timeout(.milliseconds(50))
        }
    }

    @Test func concurrentCallsToOnePluginAreSerializedAndAllAnswered() async throws {
        let harness = LuaHarness()
        let executor = PluginExecutor(
            source: harness.source("calls = 0 function decide(ctx) calls = calls + 1 return {action = 'keep', reason = ctx.id} end"),
            loaded: nil, watchdog: harness.watchdog
        )
        defer { executor.shutdown() }
        let answers = await withTaskGroup(of: JSONValue?.self) { group in
            for id in 0..<200 {
                group.addTask { try? await executor.call(["id": .string("\(id)")]).get() }
            }
            var answers: [JSONValue?] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        let reasons = Set(answers.compactMap { $0?["reason"]?.string })
        #expect(reasons == Set((0..<200).map { "\($0)" }))
    }
}
