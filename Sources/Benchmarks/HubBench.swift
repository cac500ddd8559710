import ArgumentParser
import Foundation
import JSON
import Kube
import Transport

/// A sleep and a wake of a whole cluster as a user runs them: `sandman sleep|wake CLUSTER`
/// through a `sandman serve` hub, against a `sandman sim` API server, at default settings.
/// Counts the API requests the server saw and compares the wall time with what the server's
/// capacity allows.
struct HubBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub", abstract: "Whole-cluster sleep and wake through sandman serve and the CLI against sandman sim."
    )

    @Option(help: "Deployments in all.") var objects = 1000
    @Option(help: "Namespaces they are spread over.") var namespaces = 20
    @Option(help: "Run only the server settings whose name contains this.") var only: String?
    @Flag(help: "Print the requests the server saw, by verb and resource.") var showRequests = false

    /// A server setting: `sandman sim` flags, and the requests per second it can serve (nil: not bounded by it).
    struct Setting {
        var name: String
        var flags: [String]
        var capacity: Double?
        /// Slower to answer only: compared with the unthrottled times too.
        var latencyOnly = false
    }

    func run() async throws {
        let settings = [
            Setting(name: "unthrottled", flags: [], capacity: nil),
            // What 16 requests in flight (where a cluster's count starts) allow at 10 ms each; the
            // count follows the answers up to client.concurrency (64), so the unthrottled times
            // are the other reference.
            Setting(name: "10 ms per call", flags: ["--latency", "10ms"], capacity: 1600, latencyOnly: true),
            Setting(name: "server limit 100 QPS", flags: ["--rate-limit", "100"], capacity: 100),
        ]
        // A server that only answers later serves as much as one that does not, given enough
        // requests in flight: the latency setting is also compared with the unthrottled times.
        var unthrottled: [String: Double] = [:]
        for setting in settings where only.map({ setting.name.contains($0) }) ?? true {
            let times = try await measure(setting, unthrottled: unthrottled)
            if setting.capacity == nil { unthrottled = times }
        }
    }

    /// The wall time of each action, by action.
    private func measure(_ setting: Setting, unthrottled: [String: Double]) async throws -> [String: Double] {
        var times: [String: Double] = [:]
        let binary = try BenchProcess.sandmanBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-hub-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (sim, simURL) = try await BenchProcess.stagingCluster(
            binary, directory: directory, namespaces: namespaces, perNamespace: max(1, objects / namespaces), flags: setting.flags
        )
        defer { sim.terminate() }
        try "listen: 127.0.0.1:0\ndatabase: hub.sqlite\n".write(toFile: directory + "/sandman.yaml", atomically: true, encoding: .utf8)
        let (serve, hubURL, token, _) = try await BenchProcess.serve(binary, directory: directory)
        defer { serve.terminate() }

        let http = HTTPClient(configuration: .init(tls: .init(verifyPeer: false)))
        // Ready once the hub manages every namespace.
        for _ in 0..<600 {
            let answer = try? await http.send(HTTPRequest(
                url: hubURL + "/api/v1/clusters/staging/namespaces", headers: ["Authorization": "Bearer \(token)"]
            ))
            let listed = answer.flatMap { try? JSONValue(parsing: $0.body) }?["namespaces"]?.array?.count ?? 0
            if listed == namespaces { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        for action in ["sleep", "wake"] {
            _ = try await http.send(HTTPRequest(method: .delete, url: simURL + "/kubesim/requests"))
            let start = ContinuousClock.now
            let run = try await ProcessOutput.run(
                binary, arguments: [action, "staging", "--all"], environment: ["SANDMAN_HUB": hubURL, "SANDMAN_TOKEN": token, "NO_COLOR": "1"],
                timeout: .seconds(600)
            )
            let elapsed = seconds(ContinuousClock.now - start)
            guard run.status == 0 else { throw ValidationError("sandman \(action) failed: \(run.stderr)\(run.stdout)") }
            let counts = try JSONValue(parsing: try await http.send(HTTPRequest(url: simURL + "/kubesim/requests")).body)
            let requests = Double(counts["total"]?.int ?? 0)
            var line = String(format: "%.2f s, %.0f requests (%.3f per object)", elapsed, requests, requests / Double(objects))
            if let capacity = setting.capacity {
                line += String(format: ", %.2fx of requests / capacity", elapsed / (requests / capacity))
            }
            if setting.latencyOnly, let reference = unthrottled[action] {
                line += String(format: ", %.2fx of unthrottled", elapsed / reference)
            }
            times[action] = elapsed
            report("\(setting.name): \(action)", line)
            if showRequests, let byKind = counts["counts"]?.object {
                for (kind, count) in byKind.sorted(by: { $0.key < $1.key }) { print("    \(kind): \(count.int ?? 0)") }
            }
        }
        return times
    }
}
