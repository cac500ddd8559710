import Demo
import Foundation
import Hub
import JSON
import Logging
import TestSupport
import Testing

/// `sandman demo` as a newcomer meets it: the repository's configuration, fixtures and plugins.
@Suite("Demo")
struct DemoTests {
    @Test func theDemoStartsThreeReadyClustersAndAnswersSlackCommands() async throws {
        let state = try TemporaryDirectory("demo")
        defer { state.remove() }
        var logger = Logger(label: "demo-test")
        logger.logLevel = .warning
        let demo = try await DemoEnvironment.start(configPath: HubFixture.repositoryFile("sandman.yaml"), port: 0, speed: 1, stateDirectory: state.path, handleSignals: false, logger: logger)
        defer { Task { await demo.server.stop(); for sim in demo.simulators.values { await sim.shutdown() } } }

        func get(_ path: String) async -> JSONValue? {
            var request = URLRequestLike(method: "GET", url: demo.server.url + path)
            request.headers["Authorization"] = "Bearer \(demo.adminToken)"
            return try? await request.send().body
        }
        #expect(await eventually(timeout: .seconds(30)) {
            (await get("/api/v1/clusters"))?["clusters"]?.array?.filter { $0["ready"] == true }.count == 3
        })
        for cluster in ["production", "staging", "dev"] {
            #expect(await eventually(timeout: .seconds(30)) { ((await get("/api/v1/clusters/\(cluster)/namespaces"))?["namespaces"]?.array?.count ?? 0) > 0 }, "\(cluster)")
        }
        #expect(demo.instructions.contains("export SANDMAN_SLACK_SIGNING_SECRETS=\(demo.slackSecret)"))

        let slack = SlackCommandSimulator(hub: demo.server.url, secret: demo.slackSecret, user: "U0DEMO", userName: "newcomer", channel: "C0PLATFORM", channelName: "platform")
        let status = try await slack.send("/k8s-status", wait: .zero)
        #expect(status.status == 200)
        let text = SlackCommandSimulator.text(status.reply)
        for cluster in ["production", "staging", "dev"] { #expect(text.contains("*\(cluster)*"), "\(text)") }
    }
}
