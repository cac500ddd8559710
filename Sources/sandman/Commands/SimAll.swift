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

    @Option(help: "Fixtures directory.")
    var fixtures: String = "clusters/demo/gitops"

    @Option(help: "CRD files to load into the cluster first.")
    var crd: [String] = ["deploy/crds/kube-green.com_sleepinfos.yaml"]

    @Option(help: "Where to write the cluster's kubeconfig.")
    var kubeconfig: String = "kubesim.kubeconfig"

    @Option(help: "Seconds between Argo CD repository polls.")
    var reconciliationInterval: Double = 180

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        global.bootstrapLogging()
        var options = GitOpsSimulators.Options(fixtures: fixtures)
        options.crds = crd.filter { FileManager.default.fileExists(atPath: $0) }
        options.reconciliationInterval = .milliseconds(Int64(reconciliationInterval * 1000))
        let stack: GitOpsSimulators
        do {
            stack = try await GitOpsSimulators.start(options)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        try stack.kube.kubeconfig(user: "admin").write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        print(stack.summary)
        print("kubeconfig: \(URL(fileURLWithPath: kubeconfig).standardizedFileURL.path)")
        print("Ctrl-C stops them.")
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await stack.shutdown()
    }
}
