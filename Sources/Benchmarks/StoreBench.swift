import ArgumentParser
import Foundation
import JSON
import LocalPostgres
import Transport

/// The hub on its two stores, as its API's users meet them: `sandman serve` on a SQLite file and
/// on a PostgreSQL database (a throwaway server on loopback), against `sandman sim` with 20
/// namespaces of one Deployment. Reads and writes through the API one at a time, then sleeps and
/// wakes requested all at once and run to the end.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "API latency and operation throughput of sandman serve on SQLite and on PostgreSQL."
    )

    @Option(help: "Requests of each kind timed one at a time.") var requests = 500
    @Option(help: "Sleeps and wakes requested at once.") var operations = 100

    static let namespaces = 20

    func run() async throws {
        let postgres = try await PostgresServer.shared()
        try await measure("sqlite", database: "hub.sqlite")
        try await measure("postgres", database: postgres.url(database: try await postgres.createDatabase()))
    }

    private func measure(_ name: String, database: String) async throws {
        let binary = try BenchProcess.sandmanBinary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-store-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (sim, _) = try await BenchProcess.stagingCluster(binary, directory: directory, namespaces: Self.namespaces, perNamespace: 1)
        defer { sim.terminate() }
        let hub = "listen: 127.0.0.1:0\ndatabase: \(database)\nleaderElection: {enabled: false}\n"  // one replica
        try hub.write(toFile: directory + "/sandman.yaml", atomically: true, encoding: .utf8)
        let (serve, url, token, _) = try await BenchProcess.serve(binary, directory: directory)
        defer { serve.terminate() }
        let api = BenchAPI(url: url, token: token)
        for _ in 0..<600 where (try? await api.call("GET", "/api/v1/clusters/staging/namespaces"))?["namespaces"]?.array?.count != Self.namespaces {
            try await Task.sleep(for: .milliseconds(100))
        }

        var writes = Latencies()
        for index in 0..<requests {
            let start = ContinuousClock.now
            _ = try await api.call("POST", "/api/v1/overrides", body: ["cluster": "staging", "namespace": .string("team-\(index % Self.namespaces)"), "kind": "wake", "duration": "1h"])
            writes.add(ContinuousClock.now - start)
        }
        var reads = Latencies()
        for _ in 0..<requests {
            let start = ContinuousClock.now
            _ = try await api.call("GET", "/api/v1/overrides?cluster=staging")
            reads.add(ContinuousClock.now - start)
        }
        report("store \(name): override, POST", writes.summary)
        report("store \(name): overrides, GET", reads.summary)

        let start = ContinuousClock.now
        var ids: [String] = []
        for index in 0..<operations {
            let action = (index / Self.namespaces) % 2 == 0 ? "sleep" : "wake"
            let answer = try await api.call("POST", "/api/v1/clusters/staging/\(action)", body: ["namespaces": [.string("team-\(index % Self.namespaces)")]])
            guard let id = answer[path: ["operation", "id"]]?.string else { throw ValidationError("\(action) refused: \(answer)") }
            ids.append(id)
        }
        for id in ids {
            while (try await api.call("GET", "/api/v1/operations/\(id)"))[path: ["operation", "finishedAt"]] ?? .null == .null {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let elapsed = seconds(ContinuousClock.now - start)
        report("store \(name): operations", String(format: "%d sleeps and wakes in %.2f s, %.0f per second", operations, elapsed, Double(operations) / elapsed))
    }
}

/// The hub's API with a bearer token, for the benchmarks.
struct BenchAPI {
    let url: String
    let token: String
    let http = HTTPClient()

    func call(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        let request = HTTPRequest(
            method: HTTPMethod(rawValue: method) ?? .get, url: url + path,
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: body?.serializedData()
        )
        return try JSONValue(parsing: try await http.send(request).body)
    }
}
