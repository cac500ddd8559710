import ArgumentParser
import Foundation
import KubeSim
import Transport

struct TransportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "transport", abstract: "HTTP requests per second over libcurl, one at a time and 64 at once.")

    @Option var requests = 5000

    func run() async throws {
        var settings = KubeSim.Configuration()
        settings.tls = false
        settings.allowAnonymous = true
        let sim = try await KubeSim.start(settings)
        defer { Task { await sim.shutdown() } }
        let client = HTTPClient()
        let url = sim.url + "/version"
        _ = try await client.send(HTTPRequest(url: url))
        var start = ContinuousClock.now
        for _ in 0..<requests { _ = try await client.send(HTTPRequest(url: url)) }
        report("transport sequential", String(format: "%.0f requests/s", Double(requests) / seconds(ContinuousClock.now - start)))
        start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var sent = 0
            while sent < requests {
                if sent >= 64 { try await group.next() }
                group.addTask { _ = try await client.send(HTTPRequest(url: url)) }
                sent += 1
            }
            try await group.waitForAll()
        }
        report("transport 64 concurrent", String(format: "%.0f requests/s", Double(requests) / seconds(ContinuousClock.now - start)))
    }
}
