import ArgumentParser
import Config
import Foundation
import Hub
import KubeSim
import Logging
import Transport

struct SlackBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slack", abstract: "Slash-command acknowledgement latency at a steady rate, Lua and signature check included.")

    @Option var rate = 100
    @Option var duration = 10

    func run() async throws {
        guard rate > 0, duration > 0 else { throw ValidationError("--rate and --duration must be positive") }
        let sim = try await KubeSim.start()
        defer { Task { await sim.shutdown() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-bench-slack-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = "bench-signing-secret"
        let files: [(String, String)] = [
            ("kube/staging.yaml", try sim.kubeconfig(user: "bench", contextName: "staging")),
            ("clusters/staging.yaml", "tier: staging\nkubeconfig: ../kube/staging.yaml\n"),
            // The shipped command handler when the benchmark runs from the repository.
            ("plugins/slack/commands.lua", (try? String(contentsOfFile: "plugins/slack/commands.lua", encoding: .utf8)) ?? benchCommands),
            ("sandman.yaml", "listen: 127.0.0.1:0\ndatabase: hub.sqlite\nslack:\n  signingSecrets: [\(secret)]\n"),
        ]
        for (path, text) in files {
            let file = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let server = try await HubRuntime.start(configuration: try ConfigLoader.load(path: directory.appendingPathComponent("sandman.yaml").path), clock: SystemClock(), handleSignals: false, logger: logger)
        defer { Task { await server.stop() } }
        let client = HTTPClient(configuration: .init(maxConnectionsPerHost: 32))
        let total = rate * duration
        let interval = Duration.nanoseconds(1_000_000_000 / Int64(rate))
        let start = ContinuousClock.now
        let latencies = await withTaskGroup(of: (Duration, Int).self) { group in
            for index in 0..<total {
                let due = start + interval * index
                group.addTask {
                    try? await Task.sleep(until: due, clock: .continuous)
                    let body = FormBody.encode([("command", "/k8s-status"), ("text", "staging"), ("user_id", "U\(index)"), ("user_name", "bench"), ("channel_id", "C1"), ("response_url", "")])
                    let timestamp = String(Int(Date().timeIntervalSince1970))
                    let sent = ContinuousClock.now
                    let response = try? await client.send(HTTPRequest(method: .post, url: server.url + "/slack/commands", headers: [
                        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                        "X-Slack-Signature": SlackVerifier.signature(secret: secret, timestamp: timestamp, body: body),
                    ], body: body))
                    return (ContinuousClock.now - sent, response?.status ?? 0)
                }
            }
            var latencies = Latencies()
            var failures = 0
            for await (latency, status) in group {
                if status == 200 { latencies.add(latency) } else { failures += 1 }
            }
            if failures > 0 { print("  \(failures) requests failed") }
            return latencies
        }
        report("slack ack at \(rate)/s for \(duration) s", latencies.summary)
    }
}
