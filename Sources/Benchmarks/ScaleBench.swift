import ArgumentParser
import Foundation
import JSON
import Kube
import Transport

/// A hub at scale, as an operator runs it: `sandman serve` with the shipped plugins over several
/// `sandman sim` clusters of many namespaces. Reports the hub's memory once every namespace is
/// managed, how long an evaluation of a cluster's namespaces takes (policy plugin included), and
/// the API requests per minute a quiet hub makes, with and without the SleepInfo CRD installed.
struct ScaleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale", abstract: "Hub memory, evaluation time and steady-state API requests over several large clusters."
    )

    @Option(help: "Clusters.") var clusters = 3
    @Option(help: "Namespaces per cluster.") var namespaces = 1000
    @Option(help: "Deployments per namespace.") var perNamespace = 5
    @Option(help: "Seconds of quiet over which the API requests are counted.") var steady = 60
    @Option(help: "Overrides created and removed per cluster after the start, each twice waking its agent.") var evaluations = 5

    func run() async throws {
        for withCRD in [true, false] {
            try await measure(withCRD: withCRD)
        }
    }

    private func measure(withCRD: Bool) async throws {
        let binary = try BenchProcess.sandmanBinary()
        let setting = withCRD ? "crd" : "no crd"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-scale-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/fixtures", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/clusters", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try BenchProcess.deploymentFixtures(namespaces: namespaces, perNamespace: perNamespace)
            .write(toFile: directory + "/fixtures/apps.yaml", atomically: true, encoding: .utf8)

        var simulators: [Process] = []
        defer { for sim in simulators { sim.terminate() } }
        var simURLs: [String] = []
        let names = (0..<clusters).map { "cluster-\($0)" }
        for name in names {
            let arguments = ["sim", "--fixtures", directory + "/fixtures", "--kubeconfig", directory + "/\(name).kubeconfig"]
            simulators.append(try BenchProcess.launch(binary, arguments + (withCRD ? [] : ["--without-bundled-crds"]), log: directory + "/\(name).log"))
            simURLs.append(try await BenchProcess.waitForLine(in: directory + "/\(name).log", prefix: "KubeSim serving ", timeout: .seconds(600)))
            // Awake all week but for a minute on Sunday night: evaluations find nothing to do.
            try """
                tier: staging
                kubeconfig: ../\(name).kubeconfig
                schedules:
                  - {name: rare, namespaces: ["team-*"], weekdays: "0", sleepAt: "03:00", wakeUpAt: "03:01"}
                """.write(toFile: directory + "/clusters/\(name).yaml", atomically: true, encoding: .utf8)
        }
        let plugins = FileManager.default.currentDirectoryPath + "/plugins"
        try "listen: 127.0.0.1:0\ndatabase: hub.sqlite\nplugins: {directory: \(plugins)}\n"
            .write(toFile: directory + "/sandman.yaml", atomically: true, encoding: .utf8)
        let (serve, url, token, started) = try await BenchProcess.serve(binary, directory: directory)
        defer { serve.terminate() }
        let hub = HubCalls(url: url, token: token)

        // Ready once every cluster's namespaces are all managed and evaluated.
        for name in names {
            while try await hub.json("/api/v1/clusters/\(name)/namespaces")?["namespaces"]?.array?.count != namespaces {
                try await Task.sleep(for: .milliseconds(200))
                if ContinuousClock.now - started > .seconds(600) { throw ValidationError("\(name): namespaces not all managed after 10 minutes") }
            }
        }
        report("scale \(setting): ready", String(format: "%.1f s after start, %d clusters x %d namespaces x %d Deployments",
                                                  seconds(ContinuousClock.now - started), clusters, namespaces, perNamespace))

        // Evaluations of a hub that has seen every namespace before: an override made, then
        // removed, for one namespace wakes the agent each time.
        func evaluated(_ name: String) async throws -> (count: Double, seconds: Double) {
            let metrics = try await hub.metrics()
            return (metrics["sandman_evaluation_duration_seconds_count{cluster=\"\(name)\"}"] ?? 0,
                    metrics["sandman_evaluation_duration_seconds_sum{cluster=\"\(name)\"}"] ?? 0)
        }
        func awaitEvaluation(_ name: String, after count: Double) async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while try await evaluated(name).count <= count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        }
        for name in names {
            let before = try await evaluated(name)
            for _ in 0..<evaluations {
                let body = #"{"cluster":"\#(name)","namespace":"team-0","kind":"skip","reason":"bench"}"#
                var count = try await evaluated(name).count
                guard let id = try await hub.json("/api/v1/overrides", method: .post, body: body)?[path: ["override", "id"]]?.string else {
                    throw ValidationError("cannot create an override in \(name)")
                }
                try await awaitEvaluation(name, after: count)
                count = try await evaluated(name).count
                _ = try await hub.json("/api/v1/overrides/\(id)", method: .delete)
                try await awaitEvaluation(name, after: count)
            }
            let after = try await evaluated(name)
            let (count, total) = (after.count - before.count, after.seconds - before.seconds)
            report("scale \(setting): eval \(name)", String(format: "%.1f ms on average over %.0f evaluations of %d namespaces",
                                                           count > 0 ? total / count * 1000 : .nan, count, namespaces))
        }
        let memory = BenchProcess.memory(of: serve)
        report("scale \(setting): memory", String(format: "%.1f MiB resident, %.1f MiB at peak", Double(memory.resident) / 1_048_576, Double(memory.peak) / 1_048_576))

        // A quiet hub: nothing changes in the clusters.
        let http = HTTPClient(configuration: .init(tls: .init(verifyPeer: false)))
        for url in simURLs { _ = try await http.send(HTTPRequest(method: .delete, url: url + "/kubesim/requests")) }
        try await Task.sleep(for: .seconds(steady))
        var total = 0
        var byKind: [String: Int] = [:]
        for url in simURLs {
            let counts = try JSONValue(parsing: try await http.send(HTTPRequest(url: url + "/kubesim/requests")).body)
            total += Int(counts["total"]?.int ?? 0)
            for (key, value) in counts["counts"]?.object ?? [:] { byKind[key, default: 0] += Int(value.int ?? 0) }
        }
        let perMinute = Double(total) * 60 / Double(steady) / Double(clusters)
        let top = byKind.sorted { $0.value > $1.value }.prefix(4).map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        report("scale \(setting): quiet", String(format: "%.1f API requests per minute per cluster over %d s (%@)", perMinute, steady, top))
    }
}

/// Calls to a running hub's API as an admin.
private struct HubCalls {
    let url: String
    let token: String
    let http = HTTPClient()

    func json(_ path: String, method: HTTPMethod = .get, body: String? = nil) async throws -> JSONValue? {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(token)"]
        if body != nil { headers["Content-Type"] = "application/json" }
        let answer = try await http.send(HTTPRequest(method: method, url: url + path, headers: headers, body: body.map { Data($0.utf8) }))
        return try? JSONValue(parsing: answer.body)
    }

    /// The samples of `/metrics`, by name and labels.
    func metrics() async throws -> [String: Double] {
        let text = String(decoding: try await http.send(HTTPRequest(url: url + "/metrics")).body, as: UTF8.self)
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { samples[String(parts[0])] = value }
        }
        return samples
    }
}
