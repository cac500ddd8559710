import ArgoSim
import Demo
import Foundation
import GitLabSim
import JSON
import Kube
import TestSupport
import Testing
import Transport

/// `sandman sim all`: the repository's GitOps fixtures in KubeSim, GitLabSim and ArgoSim wired
/// together, as the GitOps mode and its demo will use them.
@Suite("GitOps simulators", .awaitingCleanup)
struct GitOpsSimulatorsTests {
    @Test func theFixturesDeployThroughArgoCDAndSelfHealFightsASleep() async throws {
        var options = GitOpsSimulators.Options(fixtures: repositoryFile("clusters/demo/gitops"))
        options.crds = [repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml")]
        options.selfHealTimeout = .milliseconds(200)
        let stack = try await GitOpsSimulators.start(options)
        defer { afterTest { await stack.shutdown() } }
        #expect(stack.summary.contains(stack.gitlab.url) && stack.summary.contains(stack.argocd.url))

        #expect(try await eventually(timeout: .seconds(60)) {
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
        #expect(try await eventually(timeout: .seconds(60)) {
            try await kube.get(.deployment, namespace: "payments", name: "api")[path: ["spec", "replicas"]] == 3
        })
    }

    @Test func simAllPrintsWhereEverythingIsAndServesIt() async throws {
        let directory = try TemporaryDirectory("sim-all")
        defer { directory.remove() }
        let log = directory.path + "/out.txt"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: HubFixture.binary)
        process.currentDirectoryURL = URL(fileURLWithPath: repositoryFile("."))
        process.arguments = ["sim", "all", "--gitops", "clusters/demo/gitops", "--write-kubeconfig", directory.path + "/kubeconfig.yaml"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = process.standardOutput
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        func output() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(try await eventually(timeout: .seconds(60)) { output().contains("Ctrl-C stops them.") }, "\(output())")
        func url(after label: String) -> String? {
            output().split(separator: "\n").first { $0.hasPrefix(label) }?.split(separator: " ").first { $0.hasPrefix("http") }.map(String.init)
        }
        let argocd = try #require(url(after: "Argo CD:"))
        let gitlab = try #require(url(after: "GitLab:"))
        #expect(FileManager.default.fileExists(atPath: directory.path + "/kubeconfig.yaml"))

        let client = HTTPClient()
        defer { client.shutdown() }
        let project = try await client.send(HTTPRequest(url: gitlab + "/api/v4/projects/platform%2Fdeploy", headers: ["PRIVATE-TOKEN": "glpat-sandman-sim"]))
        #expect(project.status == 200)
        #expect(try await eventually(timeout: .seconds(60)) {
            let reply = try await client.send(HTTPRequest(
                url: argocd + "/api/v1/applications/staging-payments?refresh=normal", headers: ["Authorization": "Bearer argocd-sandman-sim"]
            ))
            return (try? JSONValue(parsing: reply.body))?[path: ["status", "sync", "status"]] == "Synced"
        })
    }
}
