import ArgoSim
import Demo
import Foundation
import GitLabSim
import JSON
import Kube
import TestSupport
import Testing

/// `sandman sim all`: the repository's GitOps fixtures in KubeSim, GitLabSim and ArgoSim wired
/// together, as the GitOps mode and its demo will use them.
@Suite("GitOps simulators")
struct GitOpsSimulatorsTests {
    @Test func theFixturesDeployThroughArgoCDAndSelfHealFightsASleep() async throws {
        var options = GitOpsSimulators.Options(fixtures: HubFixture.repositoryFile("clusters/demo/gitops"))
        options.crds = [HubFixture.repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml")]
        options.selfHealTimeout = .milliseconds(200)
        let stack = try await GitOpsSimulators.start(options)
        defer { Task { await stack.shutdown() } }
        #expect(stack.summary.contains(stack.gitlab.url) && stack.summary.contains(stack.argocd.url))

        #expect(try await eventually(timeout: .seconds(20)) {
            let status = await stack.argocd.refresh("staging-payments")?["status"]
            return status?[path: ["sync", "status"]] == "Synced" && status?[path: ["health", "status"]] == "Healthy"
        })
        let kube = try KubeClient(name: "staging", access: Kubeconfig(document: stack.kube.kubeconfig(user: "admin")).access())
        let api = try await kube.get(.deployment, namespace: "payments", name: "api")
        #expect(api[path: ["metadata", "labels", "app.kubernetes.io/instance"]] == "staging-payments")
        let sleepInfo = try await kube.get(.sleepInfo, namespace: "payments", name: "office-hours")
        #expect(sleepInfo[path: ["spec", "sleepAt"]] == "20:00")
        // The SleepInfo manifest is where the GitOps mode writes overrides: the bot may read it.
        #expect(await stack.gitlab.file(project: "platform/deploy", path: "clusters/staging/payments/sleepinfo.yaml")?.contains("kind: SleepInfo") == true)

        // The conflict the GitOps mode must handle: a sleep is undone by self-heal.
        _ = try await kube.setScale(.deployment, namespace: "payments", name: "api", replicas: 0)
        #expect(try await eventually(timeout: .seconds(20)) {
            _ = await stack.argocd.refresh("staging-payments")
            return try await kube.get(.deployment, namespace: "payments", name: "api")[path: ["spec", "replicas"]] == 3
        })
    }
}
