import ArgumentParser
import Demo
import Foundation
import UnixSignals

/// `sandman sim all`: KubeSim, GitLabSim and ArgoSim wired together, from one fixtures directory.
struct SimAll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Run KubeSim, GitLabSim and ArgoSim wired together (GitOps).",
        discussion: """
            The fixtures directory holds cluster/ (KubeSim manifests), repo/ (the GitLab project's first \
            commit) and applications.yaml (Argo CD Applications). See docs/simulators.md.
            """
    )

    // Not --fixtures/--kubeconfig: `sandman sim` (KubeSim) has those, and a parent command takes its own names.
    @Option(help: "Fixtures directory.")
    var gitops: String = "clusters/demo/gitops"

    @Option(help: "CRD files to load into the cluster first.")
    var crd: [String] = ["deploy/crds/kube-green.com_sleepinfos.yaml"]

    @Option(help: "Where to write the cluster's kubeconfig.")
    var writeKubeconfig: String = "kubesim.kubeconfig"

    @Option(help: "Seconds between Argo CD repository polls.")
    var reconciliationInterval: Double = 180

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: gitops, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--gitops \(gitops): no such directory")
        }
    }

    func run() async throws {
        var options = GitOpsSimulators.Options(fixtures: gitops)
        options.crds = crd.filter { FileManager.default.fileExists(atPath: $0) }
        options.reconciliationInterval = .milliseconds(Int64(reconciliationInterval * 1000))
        let stack: GitOpsSimulators
        do {
            stack = try await GitOpsSimulators.start(options)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        try stack.kube.kubeconfig(user: "admin").write(toFile: writeKubeconfig, atomically: true, encoding: .utf8)
        printNow(stack.summary)
        printNow("kubeconfig: \(URL(fileURLWithPath: writeKubeconfig).standardizedFileURL.path)")
        printNow("Ctrl-C stops them.")
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await stack.shutdown()
    }
}
