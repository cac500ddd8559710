import Config
import Foundation
import Hub
import JSON
import Kube
import KubeSim
import Logging
import Sleep
import Store
import TestSupport

/// A hub on a free port against simulated clusters, with a manual clock, tokens for each role,
/// and the real `sandman` binary to drive it.
struct HubFixture {
    let directory: TemporaryDirectory
    let simulators: [String: KubeSim]
    let clock: ManualClock
    var server: HubServer?
    var tokens: [String: String] = [:]

    static let crd = try! String(contentsOfFile: repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml"), encoding: .utf8)

    /// The `sandman` executable built alongside the tests.
    static var binary: String {
        let debug = repositoryFile(".build/debug/sandman")
        return FileManager.default.isExecutableFile(atPath: debug) ? debug : repositoryFile(".build/x86_64-unknown-linux-gnu/debug/sandman")
    }

    static func shop(_ namespace: String, deployments: Int, team: String? = nil) -> String {
        var documents = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}"]
        for index in 0..<deployments {
            documents.append("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app-\(index), namespace: \(namespace)}\nspec: {replicas: \(index % 3 + 1), selector: {matchLabels: {app: app-\(index)}}, template: {metadata: {labels: {app: app-\(index)}}, spec: {containers: [{name: app, image: app, resources: {requests: {cpu: 500m, memory: 1Gi}}}]}}}")
        }
        return documents.joined(separator: "\n---\n")
    }

    /// Starts `clusters` simulators (plus, named in `unreachable`, clusters whose server is down)
    /// and writes a configuration for them.
    static func make(clusters: [String: (tier: String, extra: String)], unreachable: [String] = [], start: Date) async throws -> HubFixture {
        let directory = try TemporaryDirectory("hub")
        var simulators: [String: KubeSim] = [:]
        for (name, cluster) in clusters {
            var configuration = KubeSim.Configuration()
            configuration.bookmarkInterval = .milliseconds(500)
            let sim = try await KubeSim.start(configuration)
            try await sim.load(manifests: crd)
            simulators[name] = sim
            try directory.write("kube/\(name).yaml", sim.kubeconfig(user: "sandman", contextName: name))
            try directory.write("clusters/\(name).yaml", "tier: \(cluster.tier)\nkubeconfig: ../kube/\(name).yaml\ncontext: \(name)\n\(cluster.extra)")
        }
        for name in unreachable {
            try directory.write("kube/\(name).yaml", """
                apiVersion: v1
                kind: Config
                clusters: [{name: \(name), cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
                users: [{name: u, user: {token: t}}]
                contexts: [{name: \(name), context: {cluster: \(name), user: u}}]
                current-context: \(name)
                """)
            try directory.write("clusters/\(name).yaml", "tier: staging\nkubeconfig: ../kube/\(name).yaml\n")
        }
        try directory.write("sandman.yaml", "listen: 127.0.0.1:0\ndatabase: hub.sqlite\nplugins:\n  directory: plugins\n")
        return HubFixture(directory: directory, simulators: simulators, clock: ManualClock(now: start))
    }

    var configuration: HubConfiguration {
        get throws { try ConfigLoader.load(path: directory.path + "/sandman.yaml", environment: [:]) }
    }

    static var agentSettings: ClusterAgent.Settings {
        var settings = ClusterAgent.Settings()
        settings.probeInterval = 0.2
        settings.failureThreshold = 0.5
        return settings
    }

    /// Starts (or restarts) the hub in this process; `checkpoint` sees every moment of its sleeps
    /// and wakes where a kill would leave work half done; `console` receives Slack messages when
    /// Slack is not configured.
    mutating func startHub(
        checkpoint: (@Sendable (SleepExecutor.Checkpoint) async -> Void)? = nil, console: (@Sendable (String) -> Void)? = nil
    ) async throws {
        var logger = Logger(label: "hub-test")
        logger.logLevel = .error
        var settings = Self.agentSettings
        settings.checkpoint = checkpoint
        server = try await HubRuntime.start(
            configuration: try configuration, clock: clock, handleSignals: false, logger: logger, agentSettings: settings, console: console
        )
        if tokens.isEmpty {
            let store = server!.hub.store
            for (name, role, teams) in [("admin", Role.admin, [String]()), ("viewer", .viewer, []), ("payments-operator", .operator, ["payments"])] {
                tokens[name] = try await APITokens.create(name: name, role: role, teams: teams, clusters: [], in: store, now: Date()).secret
            }
        }
    }

    func stopHub() async {
        await server?.stop()
    }

    func stop() async {
        await stopHub()
        for sim in simulators.values { await sim.shutdown() }
        directory.remove()
    }

    var url: String { server?.url ?? "" }

    /// Runs the `sandman` binary against this hub as `token`.
    func cli(_ arguments: [String], as token: String = "admin") async throws -> ProcessOutput {
        try await ProcessOutput.run(HubFixture.binary, arguments: arguments, environment: ["SANDMAN_HUB": url, "SANDMAN_TOKEN": tokens[token] ?? token, "NO_COLOR": "1"], timeout: .seconds(120))
    }

    /// A raw API call.
    func api(_ method: String, _ path: String, body: String? = nil, as token: String? = "admin") async throws -> (status: Int, body: JSONValue) {
        var request = URLRequestLike(method: method, url: url + path, body: body)
        if let token { request.headers["Authorization"] = "Bearer \(tokens[token] ?? token)" }
        return try await request.send()
    }

    /// Sets the hub clock (when given), has the cluster's agent evaluate, and waits until an
    /// evaluation that started after this call finished without running anything: the hub has
    /// seen every change made before the call and done all it will do about it.
    @discardableResult
    func settle(at instant: Date? = nil, cluster: String = "staging", timeout: Duration = .seconds(60)) async -> Bool {
        if let instant { clock.set(instant) }
        guard let agent = server?.hub.agents[cluster] else { return false }
        let before = await agent.evaluations.started
        await agent.wake()
        return await eventually(timeout: timeout) {
            let count = await agent.evaluations
            if count.finished > before, !count.lastWasQuiet { await agent.wake() }
            return count.finished > before && count.lastWasQuiet
        }
    }

    func replicas(_ cluster: String, _ namespace: String) async -> [String: Int64] {
        var result: [String: Int64] = [:]
        for object in await simulators[cluster]!.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: namespace) {
            result[object[path: ["metadata", "name"]]?.string ?? "?"] = object[path: ["spec", "replicas"]]?.int
        }
        return result
    }

    /// Every Deployment of the namespace at 0 replicas; false when it has none (a missing
    /// namespace is not asleep).
    func isAsleep(_ cluster: String, _ namespace: String) async -> Bool {
        allAsleep(await replicas(cluster, namespace))
    }

    /// Every Deployment of the namespace above 0 replicas; false when it has none.
    func isAwake(_ cluster: String, _ namespace: String) async -> Bool {
        allAwake(await replicas(cluster, namespace))
    }
}

import Transport

/// A small HTTP request for API tests.
struct URLRequestLike {
    var method: String
    var url: String
    var body: String?
    var headers: HTTPHeaders = [:]

    func send() async throws -> (status: Int, body: JSONValue) {
        var headers = self.headers
        if body != nil { headers["Content-Type"] = "application/json" }
        let response = try await HTTPClient().send(HTTPRequest(method: HTTPMethod(rawValue: method)!, url: url, headers: headers, body: body.map { Data($0.utf8) }))
        return (response.status, (try? JSONValue(parsing: response.body)) ?? .string(String(decoding: response.body, as: UTF8.self)))
    }
}
