import Foundation
import Hub
import JSON
import Kube
import TestSupport
import Testing

/// The hostile plugins of Tests/Fixtures/hostile-plugins, run as a team would run them (the
/// `sandman plugins test` binary) and against a running hub (the `sandman serve` binary, so that
/// its CPU and memory are its own), with bounds on wall time, CPU after each deadline and RSS.
@Suite("Hostile plugins", .serialized)
struct HostilePluginHubTests {
    static let fixtures = repositoryFile("Tests/Fixtures/hostile-plugins")
    static let attacksFile = fixtures + "/policy/attacks.lua"

    /// The attack names, in file order.
    static var attacks: [String] {
        get throws {
            let text = try String(contentsOfFile: attacksFile, encoding: .utf8)
            return text.matches(of: /function attacks\.(\w+)\(/).map { String($0.output.1) }
        }
    }

    @Test func pluginsTestContainsEveryAttackWithinItsBounds() async throws {
        #expect(try Self.attacks.count >= 20)
        // python3 runs the binary and reports the child's own resource use.
        let script = """
            import json, resource, subprocess, sys, time
            start = time.monotonic()
            done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
            wall = time.monotonic() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            print(json.dumps({"status": done.returncode, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                              "maxrssKiB": usage.ru_maxrss, "stdout": done.stdout, "stderr": done.stderr[-4000:]}))
            """
        let output = try await ProcessOutput.run(
            "python3", arguments: ["-c", script, HubFixture.binary, "plugins", "test", "--log-level", "warning", Self.fixtures],
            environment: ["NO_COLOR": "1"], timeout: .seconds(120)
        )
        let run = try JSONValue(parsing: output.stdout)
        let stdout = run["stdout"]?.string ?? ""
        let failures = stdout.split(separator: "\n").filter { !$0.hasPrefix("ok ") }.joined(separator: "\n")
        #expect(run["status"] == 0, "\(failures)\n\(run["stderr"]?.string ?? "")")
        let cases = try Self.attacks.count + 4
        #expect(stdout.contains("\(cases) passed, 0 failed"), "\(failures)")
        // Bounds: 6 attacks run into a 1 s deadline, the others stop at once or at the budget.
        let wall = try #require(run["wall"]?.double)
        let cpu = try #require(run["cpu"]?.double)
        let rss = try #require(run["maxrssKiB"]?.int)
        #expect(wall < 60, "wall \(wall) s")
        // One case at a time: no thread keeps burning a core after its deadline.
        #expect(cpu < wall + 2, "cpu \(cpu) s over \(wall) s")
        #expect(rss < 400 << 10, "max RSS \(rss) KiB")
        print("plugins test on the hostile plugins: wall \(wall) s, cpu \(cpu) s, max RSS \(rss / 1024) MiB")
    }

    @Test func aRunningHubAnswersEveryAttackInTimeAndGoesBackToIdle() async throws {
        let hub = try await HostileHub.start()
        defer { hub.stop() }

        // Loading: the stuck files fail within their limits, the others load, the reload answers.
        let statuses = try await hub.pluginStates()
        #expect(statuses["slack/commands.lua"] == "loaded")
        #expect(statuses["policy/00-good.lua"] == "loaded")
        for file in ["policy/load_loop.lua", "policy/load_library.lua", "policy/load_memory.lua"] {
            #expect(statuses[file] == "failed", "\(file): \(statuses)")
        }
        try hub.directory.write("plugins/policy/00-good.lua", "function decide(ctx) return {action = 'keep', reason = 'v2'} end")
        let reloadStart = ContinuousClock.now
        let reload = try await hub.api("POST", "/api/v1/plugins/reload")
        let reloadTime = ContinuousClock.now - reloadStart
        #expect(reload.status == 200)
        // The stuck loads end at their limits (1 s); the bound is generous for a busy machine.
        #expect(reloadTime < .seconds(30), "reload answered after \(reloadTime)")
        let stuck = (reload.body["plugins"]?.array ?? []).first { $0["file"] == "policy/load_loop.lua" }
        let loadError = stuck?["loadError"]?.string ?? ""
        #expect(loadError.contains("instruction budget of 10000000 exceeded") || loadError.contains("deadline of 1s"), "\(loadError)")
        #expect(stuck?["abandonedStates"] == 0)
        let good = (reload.body["plugins"]?.array ?? []).first { $0["file"] == "policy/00-good.lua" }
        #expect(good?["state"] == "loaded")
        #expect(good?["version"] != statuses["policy/00-good.lua.version"].map(JSONValue.string))

        let baseline = try await hub.waitForIdle()
        var worstReply = Duration.zero
        var worstIdle = (after: Duration.zero, cpu: Duration.zero)
        var maxRSS = baseline.rssKiB
        for attack in try Self.attacks {
            let sent = ContinuousClock.now
            let reply = try await hub.slashCommand(attack)
            let replyTime = ContinuousClock.now - sent
            #expect(reply.status == 200, "\(attack)")
            #expect(SlackCommandSimulator.text(reply.body).hasPrefix("Sorry"), "\(attack): \(reply.body)")
            // The hub answers at its deadline (200 ms) without waiting for the attack, most of which
            // never end; the bound leaves room for the HTTP round trip on a busy machine.
            #expect(replyTime < .seconds(15), "\(attack): answered after \(replyTime)")
            // Back to idle: measured in the CPU the hub used after answering, which a busy machine
            // does not inflate (a thread left running would use a core until it ends).
            let idle = try await hub.waitForIdle()
            #expect(idle.cpu < .milliseconds(500), "\(attack): the hub used \(idle.cpu) of CPU after answering")
            worstReply = max(worstReply, replyTime)
            worstIdle = (max(worstIdle.after, idle.after), max(worstIdle.cpu, idle.cpu))
            maxRSS = max(maxRSS, idle.rssKiB)
        }
        // Every state is capped at 32 MiB and abandoned ones end: memory stays bounded.
        #expect(maxRSS < 350 << 10, "max RSS \(maxRSS) KiB (baseline \(baseline.rssKiB) KiB)")
        print("""
            hostile hub: worst reply \(worstReply), worst return to idle \(worstIdle.after) \
            (\(worstIdle.cpu) of CPU), RSS \(baseline.rssKiB / 1024) -> \(maxRSS / 1024) MiB
            """)

        // What the operators see: every failure counted, no thread left behind.
        let list = try await hub.cli(["plugins", "list", "--running"])
        // Exit 1 exactly when a plugin is not loaded (a hostile file may have been disabled).
        let states = list.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ", omittingEmptySubsequences: true)[2] }
        #expect(list.status == (states.allSatisfy { $0 == "loaded" } ? 0 : 1), "\(list.stdout)\(list.stderr)")
        #expect(list.stdout.contains("ABANDONED"))
        let commands = try #require(list.stdout.split(separator: "\n").first { $0.hasPrefix("slack/commands.lua") })
        let columns = commands.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let attackCount = try Self.attacks.count
        #expect(columns.count > 5 && columns[2] == "loaded" && columns[4] == "\(attackCount)" && columns[5] == "0", "\(commands)")
        // The metrics are synced every 2 s.
        let noneAbandoned = await eventually(timeout: .seconds(60)) {
            (try? await hub.api("GET", "/metrics").body.string?.contains("sandman_plugin_host_abandoned_states 0")) == true
        }
        #expect(noneAbandoned)
    }
}

/// `sandman serve` in a process of its own over the hostile plugins, with one unreachable
/// cluster (the hub needs one) and Slack commands on.
private struct HostileHub {
    static let secret = "hostile-test-secret"

    let fixture: HubFixture
    let serve: CrashRecoveryTests.ServeProcess
    let url: String
    let token: String

    var directory: TemporaryDirectory { fixture.directory }
    var process: Process { serve.process }

    static func start() async throws -> HostileHub {
        let fixture = try await HubFixture.make(clusters: [:], unreachable: ["staging"], start: Date())
        let directory = fixture.directory
        let config = try directory.write("sandman.yaml", """
            listen: 127.0.0.1:0
            database: hub.sqlite
            plugins: {directory: plugins, callTimeout: 200ms}
            slack:
              signingSecrets: [\(secret)]
              principals:
                - {users: [U-ADMIN], role: admin}
            """)
        let fixtures = HostilePluginHubTests.fixtures
        try directory.write("plugins/slack/commands.lua", String(contentsOfFile: fixtures + "/policy/attacks.lua", encoding: .utf8))
        // Loads that fail on a limit other than time (a load that times out is retried, and its
        // second would blur the CPU measurements; PluginLoadingTests cover it).
        for name in ["load_loop", "load_library", "load_memory"] {
            try directory.write("plugins/policy/\(name).lua", String(contentsOfFile: fixtures + "/policy/\(name).lua", encoding: .utf8))
        }
        try directory.write("plugins/policy/00-good.lua", "function decide(ctx) return {action = 'keep', reason = 'v1'} end")
        let created = try await ProcessOutput.run(HubFixture.binary, arguments: ["token", "create", "--config", config, "--role", "admin"], timeout: .seconds(60))
        guard created.status == 0 else { throw HostileHubError.failed("token create: \(created.stderr)") }
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let log = directory.path + "/serve.log"
        let serve = try CrashRecoveryTests.ServeProcess(config: config, log: log)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, serve.process.isRunning {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let match = text.firstMatch(of: /hub listening.*url=(http:\/\/127\.0\.0\.1:\d+)|url=(http:\/\/127\.0\.0\.1:\d+).*hub listening/) {
                return HostileHub(fixture: fixture, serve: serve, url: String(match.output.1 ?? match.output.2 ?? ""), token: token)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        serve.stop()
        throw HostileHubError.failed("the hub did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    func stop() {
        serve.stop()
        directory.remove()
    }

    func api(_ method: String, _ path: String) async throws -> (status: Int, body: JSONValue) {
        var request = URLRequestLike(method: method, url: url + path, body: nil)
        request.headers["Authorization"] = "Bearer \(token)"
        return try await request.send()
    }

    /// File → state, and file + ".version" → version, as the API reports them.
    func pluginStates() async throws -> [String: String] {
        var states: [String: String] = [:]
        for plugin in try await api("GET", "/api/v1/plugins").body["plugins"]?.array ?? [] {
            guard let file = plugin["file"]?.string else { continue }
            states[file] = plugin["state"]?.string
            states[file + ".version"] = plugin["version"]?.string
        }
        return states
    }

    /// A signed slash command whose text names the attack; the hub's immediate reply.
    func slashCommand(_ text: String) async throws -> (status: Int, body: JSONValue) {
        let body = FormBody.encode([
            ("team_id", "T1"), ("channel_id", "C1"), ("channel_name", "ops"), ("user_id", "U-ADMIN"), ("user_name", "mallory"),
            ("command", "/k8s-wake"), ("text", text), ("response_url", "http://127.0.0.1:1/response"), ("trigger_id", "t"),
        ])
        let timestamp = String(Int(Date().timeIntervalSince1970))
        var request = URLRequestLike(method: "POST", url: url + "/slack/commands", body: String(decoding: body, as: UTF8.self))
        request.headers["Content-Type"] = "application/x-www-form-urlencoded"
        request.headers["X-Slack-Request-Timestamp"] = timestamp
        request.headers["X-Slack-Signature"] = SlackVerifier.signature(secret: Self.secret, timestamp: timestamp, body: body)
        return try await request.send()
    }

    func cli(_ arguments: [String]) async throws -> ProcessOutput {
        try await ProcessOutput.run(HubFixture.binary, arguments: arguments, environment: ["SANDMAN_HUB": url, "SANDMAN_TOKEN": token, "NO_COLOR": "1"], timeout: .seconds(60))
    }

    struct Sample {
        var cpuTicks: Int
        var rssKiB: Int
    }

    /// CPU time (clock ticks) and resident memory of the hub, from /proc.
    func sample() throws -> Sample {
        let stat = try String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)
        // Fields after the command name in parentheses: state is the first, utime the 12th, stime the 13th.
        let fields = stat[stat.range(of: ") ")!.upperBound...].split(separator: " ")
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first
        return Sample(cpuTicks: Int(fields[11])! + Int(fields[12])!, rssKiB: Int(rss ?? "0") ?? 0)
    }

    /// Waits until the hub used at most 10% of a core over 300 ms: how long that took, the CPU
    /// it used meanwhile (that window included), and its RSS then. The limit only stops a hub
    /// that never goes idle.
    func waitForIdle(within limit: Duration = .seconds(60)) async throws -> (after: Duration, cpu: Duration, rssKiB: Int) {
        let start = ContinuousClock.now
        let first = try sample()
        var window = [first]
        while true {
            try await Task.sleep(for: .milliseconds(100))
            window.append(try sample())
            if window.count > 4 { window.removeFirst() }
            // Clock ticks are 10 ms: 3 ticks in the 300 ms window is idle.
            let idle = window.count == 4 && window[3].cpuTicks - window[0].cpuTicks <= 3
            if idle || ContinuousClock.now - start > limit {
                let last = window[window.count - 1]
                let after = ContinuousClock.now - start - (idle ? .milliseconds(300) : .zero)
                return (after, .milliseconds((last.cpuTicks - first.cpuTicks) * 10), last.rssKiB)
            }
        }
    }
}

private enum HostileHubError: Error {
    case failed(String)
}
