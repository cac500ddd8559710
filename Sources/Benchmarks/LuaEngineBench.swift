import Foundation
import JSON
import Logging
import Scripting

/// The Lua work of one call on one core: `decide(ctx)` and `handle(cmd)` run on a thread of the
/// benchmark's own, with the host's sandbox, limits and result checks, without the hand-over to
/// a plugin's thread that `PluginHost` adds (measured by `LuaBench` itself).
enum LuaEngineBench {
    /// A context as the hub's sleep agent sends it.
    static let context: JSONValue = [
        "cluster": "staging", "tier": "staging", "namespace": "shop", "team": "web", "now": .int(1_800_000_000),
        "action": "sleep", "reason": "hub schedule office-hours: sleep at 20:00", "asleep": false,
        "schedule": ["source": "hub", "name": "office-hours", "weekdays": "1-5", "sleepAt": "20:00", "wakeUpAt": "08:00", "timeZone": "Europe/Rome"],
        "overrides": [],
    ]

    static let command: JSONValue = [
        "command": "/k8s-wake", "text": "staging payments-api 2h", "user_id": "U1", "user_name": "alice", "channel_id": "C1",
        "channel_name": "web", "team_id": "T1", "response_url": "", "trigger_id": "", "clusters": ["production", "staging", "dev"],
    ]

    /// Measures the benchmark's own plugins, then the default plugins of `plugins` when it exists.
    static func run(seconds: Double, plugins: String = "plugins") async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-bench-engine-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (path, text) in [("policy/bench.lua", benchPolicy), ("slack/commands.lua", benchCommands)] {
            let file = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        var cases: [(String, String, String, JSONValue)] = [
            ("lua decide(ctx), one core", directory.path, "policy/bench.lua", context),
            ("lua handle(cmd), one core", directory.path, "slack/commands.lua", command),
        ]
        if FileManager.default.fileExists(atPath: plugins + "/policy/default.lua") {
            cases.append(("lua default policy, one core", plugins, "policy/default.lua", context))
            cases.append(("lua default /k8s-wake, one core", plugins, "slack/commands.lua", command))
        }
        for (name, root, file, input) in cases {
            let (calls, elapsed) = try await onOwnThread { () throws(PluginError) -> (Int, Duration) in
                var logger = Logger(label: "bench")
                logger.logLevel = .error
                let plugin = try SynchronousPlugin(file: file, directory: root, configuration: .init(directory: root), clock: Date.init, logger: logger)
                let start = ContinuousClock.now
                let deadline = start + .milliseconds(Int64(seconds * 1000))
                var calls = 0
                while ContinuousClock.now < deadline {
                    for _ in 0..<1000 { _ = try plugin.call(input) }
                    calls += 1000
                }
                return (calls, ContinuousClock.now - start)
            }
            let perSecond = Double(calls) / Benchmarks.seconds(elapsed)
            report(name, String(format: "%.0f calls/s, %.2f µs per call", perSecond, 1e6 / perSecond))
        }
    }

    /// Runs `body` on a new thread (not the cooperative pool) and returns its result.
    private static func onOwnThread<Result: Sendable>(_ body: @escaping @Sendable () throws(PluginError) -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do throws(PluginError) {
                    continuation.resume(returning: try body())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }
}
