import Foundation
import JSON
import Scheduling
import Synchronization
import Testing
@testable import Scripting

/// Each limit, proven by attack through the executor the host uses: the caller gets an answer
/// in bounded time, the thread that ran the attack stops soon after, and the plugin answers the
/// next call, from the same state or a fresh one.
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
        var timeout: Duration = .milliseconds(300)
        var memory: Int = 32 << 20
        var instructions: Int = 0
        var outcome: Outcome
        var testDescription: String { name }
    }

    /// The attacks meant for another limit get a deadline no busy machine reaches.
    static let attacks: [Attack] = [
        Attack(name: "loop", outcome: .timeout),
        Attack(name: "loop_in_pcall", outcome: .timeout),
        Attack(name: "loop_in_xpcall_handler", outcome: .timeout),
        Attack(name: "loop", timeout: .seconds(60), instructions: 1_000_000, outcome: .instructionLimit),
        Attack(name: "loop_in_pcall", timeout: .seconds(60), instructions: 1_000_000, outcome: .instructionLimit),
        Attack(name: "huge_string", timeout: .seconds(60), outcome: .memoryLimit),
        Attack(name: "table_bomb", timeout: .seconds(60), memory: 8 << 20, outcome: .memoryLimit),
        Attack(name: "table_bomb_in_pcall", timeout: .seconds(60), memory: 8 << 20, instructions: 5_000_000, outcome: .instructionLimit),
        Attack(name: "string_doubling", timeout: .seconds(60), memory: 8 << 20, outcome: .memoryLimit),
        Attack(name: "deep_recursion", timeout: .seconds(60), outcome: .stackError),
        Attack(name: "metamethod_recursion", timeout: .seconds(60), outcome: .stackError),
    ]

    @Test("attack", arguments: attacks)
    func attack(_ attack: Attack) async throws {
        let harness = LuaHarness()
        let executor = harness.executor(harness.source(Self.plugin, timeout: attack.timeout, memory: attack.memory, instructions: attack.instructions))
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
            // The attack never ends by itself: an answer at all is the watchdog's (the bound only
            // stops a hung test).
            #expect(elapsed < attack.timeout + .seconds(60), "the host stopped waiting after \(elapsed)")
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

    /// The attacks of the hostile plugin that spend their time where no count hook reaches (C
    /// library functions, host code, error handling), with the deadline as the only limit: each
    /// is answered at its deadline, and the thread that ran it stops well within the grace.
    static let attacksInCode: [String] = [
        "table_move", "table_insert_len", "table_remove_len", "table_concat_range", "pattern_backtracking",
        "gsub_empty_matches", "plain_find_loop", "sort_long_strings", "format_quote_loop", "number_coercion_loop",
        "close_handler_loop", "pcall_swallows_checkpoint", "log_flood",
    ]

    /// CPU an abandoned thread may still use before it notices its deadline: a few checkpoint
    /// intervals of a debug build. Without the checkpoints these attacks burn seconds or forever.
    static let cpuAfterDeadline: Duration = .milliseconds(250)

    @Test("stopped at the deadline, in C or host code", arguments: attacksInCode)
    func attackInCode(_ name: String) async throws {
        let harness = LuaHarness()
        let timeout = Duration.milliseconds(300)
        let executor = harness.executor(harness.source(LuaHarness.hostilePlugin, timeout: timeout, instructions: 0))
        defer { executor.shutdown() }
        let start = ContinuousClock.now
        let result = await executor.call(["attack": .string(name)])
        let answered = ContinuousClock.now - start
        #expect(result.error?.reason == .timeout(timeout), "\(result)")
        // The answer comes from the watchdog, not from the attack (most never end by themselves);
        // the bound only stops a hung test, the CPU below is the measure.
        #expect(answered < timeout + .seconds(60), "answered after \(answered)")
        // The thread stops as soon as it notices the interrupt: measured in the CPU it used after
        // it was abandoned, which a busy machine does not inflate. (The wait only stops a hung test.)
        let stopped = await eventually(within: .seconds(60)) { executor.abandonedThreadCount == 0 }
        #expect(stopped, "\(name): the abandoned thread still runs \(ContinuousClock.now - start) after the call started")
        #expect(executor.abandonedThreadCPU < Self.cpuAfterDeadline, "\(name): \(executor.abandonedThreadCPU) of CPU after the deadline")
        #expect(harness.abandonedStates.total == 0)
        #expect(executor.disabledError == nil)
    }

    @Test func deadlineErrorsGiveTheTimeTheCallReallyRan() throws {
        let harness = LuaHarness()
        let instance = try harness.load("function decide(ctx) while true do end end", timeout: .milliseconds(100), instructions: 0)
        let start = ContinuousClock.now
        let error = #expect(throws: PluginError.self) { try instance.invoke(.null, watchdog: harness.watchdog) }
        let measured = ContinuousClock.now - start
        #expect(error?.reason == .timeout(.milliseconds(100)))
        #expect(error?.line == 1)
        let message = try #require(error?.message)
        #expect(message.hasPrefix("the call ran for ") && message.hasSuffix(", past its deadline of 100ms"), "\(message)")
        let ran = try DurationText.parse(String(try #require(message.dropFirst("the call ran for ".count).split(separator: ",").first)))
        // At least the deadline, at most what the caller saw (however busy the machine).
        #expect(ran >= .milliseconds(100) && ran <= measured + .milliseconds(1), "\(message), measured \(measured)")
    }

    @Test func anErrorAfterARefusedAllocationIsNotAMemoryError() throws {
        let harness = LuaHarness()
        let swallowed = #expect(throws: PluginError.self) {
            try harness.evaluate("assert(not pcall(string.rep, 'x', 1 << 30)) local t = {} t[1] = ('y'):rep(100) error('boom')")
        }
        #expect(swallowed?.reason == .runtime)
        #expect(swallowed?.description == "policy/test.lua:2: boom")
        let refused = #expect(throws: PluginError.self) { try harness.evaluate("return string.rep('x', 1 << 30)") }
        #expect(refused?.reason == .memoryLimit(32 << 20))
    }

    // MARK: - What cannot be interrupted

    static let blockingPlugin = "function decide(ctx) if ctx.block then sandman.time.now() end return {action = 'keep'} end"

    @Test func aCallThatCannotBeStoppedIsAbandonedCountedAndDisablesThePlugin() async throws {
        let harness = LuaHarness()
        let clock = HeldClock()
        defer { clock.release() }
        let timeout = Duration.seconds(1), grace = Duration.seconds(3)
        let executor = harness.executor(harness.source(
            Self.blockingPlugin, timeout: timeout, instructions: 0, grace: grace, clock: clock.clock
        ))
        defer { executor.shutdown() }
        #expect(try await executor.call([:]).get() == ["action": "keep"])

        let start = ContinuousClock.now
        let stuck = await executor.call(["block": true])
        #expect(stuck.error?.reason == .timeout(timeout))
        #expect(clock.blocked == 1)
        #expect(executor.abandonedThreadCount == 1)
        #expect(harness.abandonedStates.count(of: "policy/test.lua") == 1)
        // Until the grace has passed, a fresh state answers the next call (on a machine so busy
        // that the grace passed meanwhile, the version is disabled instead).
        switch await executor.call([:]) {
        case .success(let answer):
            #expect(answer == ["action": "keep"])
        case .failure(let error):
            #expect(error.reason == .disabled)
            #expect(ContinuousClock.now - start >= timeout + grace, "disabled before its grace had passed: \(error)")
        }

        // Past the grace it is stuck: the version is disabled, calls fail at once, it is logged.
        #expect(await eventually(within: .seconds(60)) { executor.disabledError != nil })
        #expect(ContinuousClock.now - start >= timeout + grace)
        let refused = await executor.call([:])
        #expect(refused.error?.reason == .disabled)
        #expect(refused.error?.message.contains("a call to decide has been running for") == true, "\(refused)")
        #expect(refused.error?.message.contains("stays disabled until its file changes") == true)
        #expect(harness.logs.entries.contains { $0.level == .error && $0.message == "plugin disabled: a call could not be stopped" })

        // Once the host call returns, the thread ends and is no longer counted; the version stays disabled.
        #expect(clock.blocked == 1)
        clock.release()
        #expect(await eventually(within: .seconds(60)) { executor.abandonedThreadCount == 0 })
        #expect(harness.abandonedStates.total == 0)
        #expect(await executor.call([:]).error?.reason == .disabled)
    }

    @Test func noPluginThreadStartsWhileTheHostHasTooManyAbandonedOnes() async throws {
        let harness = LuaHarness()
        let abandoned = AbandonedStates(maximum: 1)
        let clock = HeldClock()
        defer { clock.release() }
        let source = harness.source(Self.blockingPlugin, timeout: .seconds(1), instructions: 0, grace: .seconds(30), clock: clock.clock)
        let first = PluginExecutor(source: source, watchdog: harness.watchdog, abandonedStates: abandoned)
        let second = PluginExecutor(source: source, watchdog: harness.watchdog, abandonedStates: abandoned)
        defer { first.shutdown(); second.shutdown() }
        #expect(await first.call(["block": true]).error?.reason == .timeout(.seconds(1)))
        #expect(abandoned.isFull)
        // Neither the stuck version nor another one gets a new thread.
        for executor in [first, second] {
            let refused = await executor.call([:])
            #expect(refused.error?.reason == .unavailable)
            #expect(refused.error?.message.contains("1 plugin threads abandoned at their deadline are still running (at most 1)") == true, "\(refused)")
        }
        #expect(await second.load()?.reason == .unavailable)
        clock.release()
        #expect(await eventually(within: .seconds(60)) { abandoned.total == 0 })
        #expect(try await second.call([:]).get() == ["action": "keep"])
    }

    @Test func callsFailFastWhileTooManyOfAVersionsThreadsAreStillRunning() async throws {
        let harness = LuaHarness()
        let clock = HeldClock()
        defer { clock.release() }
        let executor = harness.executor(harness.source(
            Self.blockingPlugin, timeout: .seconds(1), instructions: 0, grace: .seconds(30), clock: clock.clock
        ))
        defer { executor.shutdown() }
        for _ in 0..<PluginExecutor.maximumAbandonedThreads {
            #expect(await executor.call(["block": true]).error?.reason == .timeout(.seconds(1)))
        }
        let refused = await executor.call([:])
        #expect(refused.error?.reason == .unavailable)
        #expect(refused.error?.message.contains("still running past their deadline") == true)
        #expect(executor.abandonedThreadCount == PluginExecutor.maximumAbandonedThreads)
    }

    @Test func aLoopInTheTopLevelOfAFileIsStoppedWhenItLoads() throws {
        let harness = LuaHarness()
        let error = #expect(throws: PluginError.self) {
            try harness.load("while true do end", loadTimeout: .milliseconds(50), instructions: 0)
        }
        #expect(error?.reason == .timeout(.milliseconds(50)))
        #expect(error?.message.hasPrefix("the file's top level ran for ") == true, "\(String(describing: error))")
    }

    @Test func concurrentCallsToOnePluginAreSerializedAndAllAnswered() async throws {
        let harness = LuaHarness()
        // Each call counts itself in the one state: serialized calls see 1 to 200, once each.
        let executor = harness.executor(harness.source(
            "calls = 0 function decide(ctx) calls = calls + 1 return {action = 'keep', reason = ctx.id .. ':' .. calls} end"
        ))
        defer { executor.shutdown() }
        let answers = await withTaskGroup(of: Result<JSONValue?, PluginError>.self) { group in
            for id in 0..<200 {
                group.addTask { await executor.call(["id": .string("\(id)")]) }
            }
            var answers: [Result<JSONValue?, PluginError>] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        #expect(answers.compactMap(\.error).isEmpty, "\(answers.compactMap(\.error))")
        let reasons = answers.compactMap { try? $0.get()?["reason"]?.string?.split(separator: ":").map(String.init) }
        #expect(Set(reasons.map { $0[0] }) == Set((0..<200).map { "\($0)" }))
        #expect(reasons.map { Int($0[1]) ?? 0 }.sorted() == Array(1...200))
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
func eventually(within limit: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
