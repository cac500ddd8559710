import ArgumentParser
import Foundation
import Hub
import JSON
import Logging
import Scripting

/// A policy like the ones teams write: a few fields read, a table lookup, a time check.
let benchPolicy = """
    local freeze = {["payments-prod"] = true, ["search"] = true}
    function decide(ctx)
      if freeze[ctx.namespace] then return {action = "keep", reason = "release freeze"} end
      if ctx.tier == "production" and ctx.schedule.source ~= "SleepInfo" then
        return {action = "keep", reason = "production sleeps only by explicit schedule"}
      end
      if ctx.action == "sleep" and ctx.now % 86400 < 3600 then return nil end
      return {action = ctx.action, reason = "schedule"}
    end
    """

let benchCommands = """
    function handle(cmd)
      local words = {}
      for word in string.gmatch(cmd.text or "", "%S+") do words[#words + 1] = word end
      return {actions = {{type = "status", cluster = words[1]}}, response = {text = "Status of " .. (words[1] or "every cluster")}}
    end
    """

struct LuaBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lua", abstract: "Lua decide(ctx) calls and Slack command handler calls per second, as the hub makes them.")

    @Option var seconds = 3.0

    func run() async throws {
        try await LuaEngineBench.run(seconds: seconds)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-bench-lua-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (path, text) in [("policy/bench.lua", benchPolicy), ("slack/commands.lua", benchCommands)] {
            let file = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let host = PluginHost(configuration: .init(directory: directory.path), clock: Date.init, logger: logger)
        await host.reload()
        let context: JSONValue = [
            "cluster": "staging", "tier": "staging", "namespace": "shop", "team": "web", "now": .int(1_800_000_000),
            "action": "sleep", "reason": "schedule: sleep at 20:00", "asleep": false,
            "schedule": ["source": "hub", "name": "office-hours", "weekdays": "1-5", "sleepAt": "20:00", "wakeUpAt": "08:00", "timeZone": "Europe/Rome"],
            "overrides": [],
        ]
        for concurrency in [1, 4] {
            var calls = 0
            let start = ContinuousClock.now
            let deadline = start + .milliseconds(Int64(seconds * 1000))
            calls = await withTaskGroup(of: Int.self) { group in
                for _ in 0..<concurrency {
                    group.addTask {
                        var made = 0
                        while ContinuousClock.now < deadline {
                            for _ in 0..<100 { _ = await host.decide(context, team: nil) }
                            made += 100
                        }
                        return made
                    }
                }
                return await group.reduce(0, +)
            }
            report("lua decide(ctx), \(concurrency) caller(s)", String(format: "%.0f decisions/s", Double(calls) / Benchmarks.seconds(ContinuousClock.now - start)))
        }
        try await evaluationBatches(bench: host, context: context, logger: logger)
        let command: JSONValue = ["command": "/k8s-status", "text": "staging", "user_id": "U1", "user_name": "alice", "channel_id": "C1", "channel_name": "web", "clusters": ["staging", "dev"]]
        var latencies = Latencies()
        for _ in 0..<2000 {
            let start = ContinuousClock.now
            _ = await host.handleSlackCommand(command)
            latencies.add(ContinuousClock.now - start)
        }
        report("lua Slack handle(cmd)", latencies.summary)
    }

    /// One evaluation's decisions for 10,000 namespaces: in one batch of the plugin host, as an
    /// evaluation asks for them (one batch through the hub's advisor), and one namespace at a
    /// time, 16 at once (as evaluations asked before), with the bench policy and with the shipped
    /// plugins (`plugins/`, from the repository root).
    func evaluationBatches(bench: PluginHost, context: JSONValue, logger: Logger) async throws {
        let shipped = PluginHost(configuration: .init(directory: "plugins"), clock: Date.init, logger: logger)
        await shipped.reload()
        guard shipped.statuses().contains(where: { $0.file == "policy/default.lua" && $0.state == .loaded }) else {
            throw ValidationError("run from the repository root: plugins/policy/default.lua did not load")
        }
        let questions = (0..<10_000).map { index in
            var context = context
            context["namespace"] = .string("ns-\(index)")
            return PolicyQuestion(context: context, team: index % 2 == 0 ? "example" : nil)
        }
        for (name, host) in [("bench", bench), ("shipped", shipped)] {
            var start = ContinuousClock.now
            _ = await host.decide(questions)
            report("lua 10k namespaces, \(name), batch", (ContinuousClock.now - start).milliseconds)
            let advisor = PluginAdvisor(host: host)
            start = ContinuousClock.now
            _ = await advisor.advise(questions.map { ($0.context, $0.team) })
            report("lua 10k namespaces, \(name), hub", (ContinuousClock.now - start).milliseconds)
            start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for window in 0..<16 {
                    group.addTask {
                        for question in stride(from: window, to: questions.count, by: 16).map({ questions[$0] }) {
                            _ = await advisor.advise(question.context, team: question.team)
                        }
                    }
                }
            }
            report("lua 10k namespaces, \(name), x16", (ContinuousClock.now - start).milliseconds)
        }
    }
}

extension Duration {
    fileprivate var milliseconds: String {
        String(format: "%.1f ms", Benchmarks.seconds(self) * 1000)
    }
}
