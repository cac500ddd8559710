import ArgoSim
import Config
import Foundation
import Hub
import Kube
import KubeSim
import Logging
import Store

/// `sandman demo`: three simulated clusters (production, staging, dev) from `clusters/demo/`,
/// and a hub against them with the repository's configuration and plugins.
///
/// With `clusters/demo/gitops`, GitLab and Argo CD are simulated too and the hub runs in GitOps
/// mode: staging is the cluster Argo CD runs in, and the namespaces whose SleepInfo Argo CD
/// deploys from the repository (staging's `payments`, production's `payments-sandbox`, both
/// with `selfHeal: true`) are overridden through merge requests; the others stay direct.
public final class DemoEnvironment: Sendable {
    public let simulators: [String: KubeSim]
    /// GitLab, Argo CD and the staging cluster, when the demo has GitOps fixtures.
    public let gitops: GitOpsSimulators?
    public let server: HubServer
    public let adminToken: String
    public let kubeconfigPath: String
    public let stateDirectory: String

    /// The Slack signing secret of a demo whose configuration and environment set none, so that
    /// `sandman slack send` can try the bot.
    public static let slackSigningSecret = "sandman-demo-signing-secret"

    /// Starts everything; `speed` makes the hub's clock run that many times faster. The state
    /// (database, kubeconfig) goes to `stateDirectory`, by default `.sandman/demo` next to the
    /// configuration, emptied first.
    /// `start` sets the hub's clock (the machine's time by default). `console` shows the Slack
    /// messages of a demo without Slack. When the hub cannot start, the simulators are stopped.
    public static func start(
        configPath: String, port: Int?, speed: Double, start: Date? = nil, stateDirectory: String? = nil, handleSignals: Bool = true,
        logger: Logger, console: (@Sendable (String) -> Void)? = nil
    ) async throws -> DemoEnvironment {
        var configuration = try ConfigLoader.load(path: configPath)
        let root = URL(fileURLWithPath: configPath).deletingLastPathComponent()
        let state = stateDirectory ?? root.appendingPathComponent(".sandman/demo").path
        if configuration.slack.signingSecrets.isEmpty { configuration.slack.signingSecrets = [slackSigningSecret] }
        try? FileManager.default.removeItem(atPath: state)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let database = state + "/sandman.sqlite"
        configuration.database = .sqlite(path: database)
        if let port { configuration.listen.port = port }

        var simulators: [String: KubeSim] = [:]
        var stack: GitOpsSimulators?
        do {
            var settings = KubeSim.Configuration()
            settings.workloadReadyDelay = .seconds(1)
            settings.gitVersion = "v1.31.2-kubesim"
            let gitopsFixtures = root.appendingPathComponent("clusters/demo/gitops").path
            let gitopsCluster = FileManager.default.fileExists(atPath: gitopsFixtures)
                ? configuration.clusters.first { $0.name == gitopsClusterName } : nil
            for cluster in configuration.clusters where cluster.name != gitopsCluster?.name {
                let sim = try await KubeSim.start(settings)
                simulators[cluster.name] = sim
                // The SleepInfo CRD ships in the binary: the demo runs from any directory.
                try await sim.loadBundledCustomResourceDefinitions()
            }
            if gitopsCluster != nil {
                var options = GitOpsSimulators.Options(fixtures: gitopsFixtures)
                options.bundledCRDs = true
                options.kube = settings
                options.destinations = simulators
                let started = try await GitOpsSimulators.start(options)
                stack = started
                simulators[gitopsClusterName] = started.kube
                configuration.enableGitOps(on: started)
            }
            var kubeconfig = Kubeconfig()
            for cluster in configuration.clusters {
                let sim = simulators[cluster.name]!
                let fixtures = root.appendingPathComponent("clusters/demo/\(cluster.name)").path
                if FileManager.default.fileExists(atPath: fixtures) { try await sim.load(directory: fixtures) }
                let context = cluster.context ?? cluster.name
                let single = try Kubeconfig(document: sim.kubeconfig(user: "sandman-hub", contextName: context))
                kubeconfig.merge(single)
            }
            let kubeconfigPath = state + "/kubeconfig.yaml"
            try kubeconfig.yaml.write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)

            let store = try Store(path: database)
            let (token, _) = try await APITokens.create(name: "demo-admin", role: .admin, teams: [], clusters: [], in: store, now: Date())
            let clock: any HubClock = speed == 1 && start == nil ? SystemClock() : WarpedClock(speed: speed, start: start ?? Date())
            let server = try await HubRuntime.start(
                configuration: configuration, clock: clock, handleSignals: handleSignals, logger: logger,
                makeClient: { cluster in try KubeClient(name: cluster.name, access: kubeconfig.access(context: cluster.context ?? cluster.name)) },
                store: store, console: console
            )
            return DemoEnvironment(
                simulators: simulators, gitops: stack, server: server, adminToken: token, kubeconfigPath: kubeconfigPath, stateDirectory: state,
                database: database, configPath: configPath, slackSecret: configuration.slack.signingSecrets[0],
                notificationsOnConsole: console != nil && !configuration.slack.notificationsEnabled
            )
        } catch {
            await shutdown(Array(simulators.values), gitops: stack)
            throw error
        }
    }

    /// The cluster that GitLab and Argo CD come with in a demo with GitOps fixtures.
    static let gitopsClusterName = "staging"

    /// The signing secret `sandman slack send` needs.
    public let slackSecret: String
    /// The demo's database (in the state directory), where its tokens live.
    public let database: String
    let configPath: String
    let notificationsOnConsole: Bool

    private init(
        simulators: [String: KubeSim], gitops: GitOpsSimulators?, server: HubServer, adminToken: String, kubeconfigPath: String, stateDirectory: String, database: String,
        configPath: String, slackSecret: String, notificationsOnConsole: Bool
    ) {
        self.slackSecret = slackSecret
        self.database = database
        self.configPath = configPath
        self.notificationsOnConsole = notificationsOnConsole
        self.simulators = simulators
        self.gitops = gitops
        self.server = server
        self.adminToken = adminToken
        self.kubeconfigPath = kubeconfigPath
        self.stateDirectory = stateDirectory
    }

    /// What to print for a newcomer.
    public var instructions: String {
        let clusters = simulators.keys.sorted().map { "  \($0): \(simulators[$0]!.url)" }.joined(separator: "\n")
        return """
            Sandman demo is running.

            Hub:       \(server.url)
            Clusters:
            \(clusters)
            kubeconfig: \(kubeconfigPath)  (contexts: \(simulators.keys.sorted().joined(separator: ", ")))

            In another terminal:
              export SANDMAN_HUB=\(server.url)
              export SANDMAN_TOKEN=\(adminToken)
              .build/debug/sandman status
              .build/debug/sandman get namespaces
              .build/debug/sandman sleep dev payments-dev --reason "trying the demo"
              .build/debug/sandman wake dev --all --for 2h
              .build/debug/sandman audit
              export SANDMAN_SLACK_SIGNING_SECRETS=\(slackSecret)
              .build/debug/sandman slack send "/k8s-status" --channel C0PLATFORM
              .build/debug/sandman slack send "/k8s-wake dev search-dev 1h" --user U0DEMO --channel C0PLATFORM
              kubectl --kubeconfig \(kubeconfigPath) --context dev get deployments -A
              curl -H "Authorization: Bearer $SANDMAN_TOKEN" $SANDMAN_HUB/api/v1/clusters
            \(gitopsInstructions)

            Tokens of this demo live in its own database:
              SANDMAN_DATABASE=\(database) .build/debug/sandman token create --config \(configPath) --role viewer --name me
            \(notificationsOnConsole ? "Slack notifications (no bot token or webhook set) are printed below.\n" : "")
            Ctrl-C stops everything.
            """
    }

    /// How to try the GitOps mode, when the demo has it.
    var gitopsInstructions: String {
        guard let gitops else { return "" }
        let project = gitops.gitlab.url + "/api/v4/projects/" + gitops.options.project.replacingOccurrences(of: "/", with: "%2F")
        return """

            GitOps: staging/payments and production/payments-sandbox are deployed by Argo CD (selfHeal: true)
            from the GitLab project \(gitops.options.project); their overrides become merge requests.
              GitLab:  \(gitops.gitlab.url)  (PRIVATE-TOKEN: \(gitops.options.gitlabToken); approver: glpat-alice)
              Argo CD: \(gitops.argocd.url)  (Authorization: Bearer \(gitops.options.argocdToken))
              .build/debug/sandman slack send "/k8s-wake staging payments 2h" --user U0DEMO --channel C0PLATFORM
              .build/debug/sandman operations        # requested, mr_opened, merged, synced, done
              .build/debug/sandman sleep production payments-sandbox --for 1h --reason "waits for approval"
              curl "\(project)/merge_requests?state=opened" -H "PRIVATE-TOKEN: glpat-alice"
              curl -X POST "\(project)/merge_requests/IID/approve" -H "PRIVATE-TOKEN: glpat-alice"
            """
    }

    /// Runs until Ctrl-C (or SIGTERM), then stops the hub and the simulators.
    public func wait() async throws {
        try await server.wait()
        await Self.shutdown(Array(simulators.values), gitops: gitops)
    }

    /// Stops the hub and the simulators.
    public func stop() async {
        await server.stop()
        await Self.shutdown(Array(simulators.values), gitops: gitops)
    }

    /// Stops simulators all at once: each waits for its open requests, and they do so together.
    /// The GitOps stack stops its own cluster.
    static func shutdown(_ simulators: [KubeSim], gitops: GitOpsSimulators?) async {
        await withTaskGroup(of: Void.self) { group in
            for sim in simulators where sim !== gitops?.kube { group.addTask { await sim.shutdown() } }
            if let gitops { group.addTask { await gitops.shutdown() } }
        }
    }
}

extension HubConfiguration {
    /// GitOps mode against the simulated GitLab and Argo CD of a demo, self-heal paused for the
    /// sleep (rather than only warned about) on every cluster.
    mutating func enableGitOps(on stack: GitOpsSimulators) {
        gitops.enabled = true
        gitops.gitlab.url = stack.gitlab.url
        gitops.gitlab.project = stack.options.project
        gitops.gitlab.token = stack.options.gitlabToken
        gitops.gitlab.pollInterval = .seconds(1)
        gitops.argocd.url = stack.argocd.url
        gitops.argocd.token = stack.options.argocdToken
        for index in clusters.indices { clusters[index].gitops.selfHeal = .pause }
    }
}
