import Config
import Demo
import Foundation
import Hub
import JSON
import Kube
import Logging
import Sleep
import Store
import TestSupport

/// A hub in GitOps mode over KubeSim, GitLabSim and ArgoSim wired together (the repository's
/// `clusters/demo/gitops` fixtures: namespace `payments` of cluster `staging`, deployed by the
/// Argo CD Application `staging-payments` with `selfHeal: true`).
struct GitOpsFixture {
    let stack: GitOpsSimulators
    let directory: TemporaryDirectory
    let clock: ManualClock
    var server: HubServer?
    var token = ""

    static let project = "platform/deploy"
    static let manifest = "clusters/staging/payments/sleepinfo.yaml"

    /// A Wednesday, 10:00 in Rome: `payments` is awake by its schedule.
    static let morning = instant("2026-03-04T09:00:00Z")

    /// Starts the simulators and writes the hub's configuration: `cluster` is added to the cluster
    /// file (e.g. `gitops: {argocd: {selfHeal: pause}}`), `gitlab` to the `gitops.gitlab` section
    /// (`webhookSecret: x`, lines in flow style), `gitops` to the `gitops` section.
    /// `selfHealTimeout`: how long after its last sync ArgoSim leaves drift alone.
    static func make(
        tier: String = "staging", cluster: String = "gitops: {namespaces: [payments]}", gitlab: [String] = [], gitops: [String] = [],
        selfHealTimeout: Duration = .seconds(600), gitlabToken: String? = "glpat-sandman-sim", start: Date = morning
    ) async throws -> GitOpsFixture {
        var options = GitOpsSimulators.Options(fixtures: repositoryFile("clusters/demo/gitops"))
        options.crds = [repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml")]
        options.selfHealTimeout = selfHealTimeout
        options.mergeabilityCheckDelay = .milliseconds(200)
        let stack = try await GitOpsSimulators.start(options)
        let directory = try TemporaryDirectory("gitops-hub")
        try directory.write("kube/staging.yaml", stack.kube.kubeconfig(user: "sandman", contextName: "staging"))
        try directory.write("clusters/staging.yaml", "tier: \(tier)\nkubeconfig: ../kube/staging.yaml\ncontext: staging\n\(cluster)\n")
        var gitlabLines = ["url: \(stack.gitlab.url)", "project: \(project)"] + (gitlabToken.map { ["token: \($0)"] } ?? []) + gitlab
        if !gitlab.contains(where: { $0.hasPrefix("pollInterval:") }) { gitlabLines.append("pollInterval: 200ms") }
        let lines = ["listen: 127.0.0.1:0", "database: hub.sqlite", "plugins:", "  directory: plugins", "gitops:", "  enabled: true", "  gitlab:"]
            + gitlabLines.map { "    " + $0 }
            + ["  argocd:", "    url: \(stack.argocd.url)", "    token: \(options.argocdToken)"]
            + gitops.map { "  " + $0 }
        try directory.write("sandman.yaml", lines.joined(separator: "\n") + "\n")
        return GitOpsFixture(stack: stack, directory: directory, clock: ManualClock(now: start))
    }

    var configuration: HubConfiguration {
        get throws { try ConfigLoader.load(path: directory.path + "/sandman.yaml", environment: [:]) }
    }

    /// Starts (or, on the same database, restarts) the hub; `checkpoint` as in `HubFixture`.
    mutating func startHub(checkpoint: (@Sendable (SleepExecutor.Checkpoint) async -> Void)? = nil) async throws {
        var logger = Logger(label: "gitops-test")
        logger.logLevel = .warning
        var settings = HubFixture.agentSettings
        settings.checkpoint = checkpoint
        server = try await HubRuntime.start(configuration: try configuration, clock: clock, handleSignals: false, logger: logger, agentSettings: settings)
        if token.isEmpty {
            token = try await APITokens.create(name: "alice", role: .admin, teams: [], clusters: [], in: server!.hub.store, now: Date()).secret
        }
    }

    func stop() async {
        await server?.stop()
        await stack.shutdown()
        directory.remove()
    }

    var hub: Hub { server!.hub }

    func api(_ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: JSONValue) {
        var request = URLRequestLike(method: method, url: server!.url + path, body: body)
        request.headers["Authorization"] = "Bearer \(token)"
        return try await request.send()
    }

    /// Waits until Argo CD has deployed the fixtures and the agent sees `payments` as GitOps-managed.
    func ready() async throws -> Bool {
        try await eventually(timeout: .seconds(60)) {
            let status = await stack.argocd.refresh("staging-payments")?["status"]
            guard status?[path: ["sync", "status"]] == "Synced", status?[path: ["health", "status"]] == "Healthy" else { return false }
            return await hub.agents["staging"]?.gitopsManagedNamespaces().contains("payments") == true
        }
    }

    /// Waits until Argo CD has deployed the fixtures and the agent knows `payments`.
    func deployed() async throws -> Bool {
        try await eventually(timeout: .seconds(60)) {
            let status = await stack.argocd.refresh("staging-payments")?["status"]
            guard status?[path: ["sync", "status"]] == "Synced", status?[path: ["health", "status"]] == "Healthy" else { return false }
            return await hub.agents["staging"]?.status().namespaces.contains { $0.namespace == "payments" && $0.asleep == false } == true
        }
    }

    /// The Application as ArgoSim holds it.
    func application() async -> JSONValue? {
        await stack.argocd.application("staging-payments")
    }

    /// The operation as stored, once `condition` holds for it.
    func operation(_ id: String, timeout: Duration = .seconds(60), until condition: @escaping (OperationRecord) -> Bool) async throws -> OperationRecord? {
        var last: OperationRecord?
        _ = try await eventually(timeout: timeout) {
            last = try await hub.store.operation(id: id)
            return last.map(condition) ?? false
        }
        return last
    }

    /// Whether the operation is finished and the coordinator has recorded its last stage (`done`,
    /// or `failed`/`rejected`): the agent may finish an operation before the coordinator looks.
    static func hasEnded(_ operation: OperationRecord) -> Bool {
        operation.state.isFinished && ["done", "failed", "rejected"].contains(stages(operation).last ?? "")
    }

    /// The stage names an operation went through, in order.
    static func stages(_ operation: OperationRecord?) -> [String] {
        (operation?.stages.flatMap { try? JSONValue(parsing: Data($0.utf8)) }?.array ?? []).compactMap { $0["stage"]?.string }
    }

    func replicas(_ name: String = "api") async -> Int64? {
        await stack.kube.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: "payments")
            .first { $0[path: ["metadata", "name"]]?.string == name }?[path: ["spec", "replicas"]]?.int
    }

    /// The SleepInfo manifest on the target branch.
    func manifestOnMain() async -> String? {
        await stack.gitlab.file(project: Self.project, path: Self.manifest)
    }
}
