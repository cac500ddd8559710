import ArgoSim
import ArgumentParser
import Foundation
import Kube
import UnixSignals

/// `sandman sim argocd`: a simulated Argo CD against an existing GitLab and Kubernetes API.
struct SimArgoCD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "argocd",
        abstract: "Run a simulated Argo CD (API v1 and application controller).",
        discussion: """
            Reads manifests from the GitLab at --gitlab through its API and applies them to the cluster of \
            --cluster-kubeconfig (as destination https://kubernetes.default.svc). See docs/simulators.md.
            """
    )

    @Option(help: "GitLab base URL, e.g. the one `sandman sim gitlab` prints.")
    var gitlab: String

    @Option(help: "GitLab token the repo server reads with.")
    var gitlabToken: String?

    // Not --kubeconfig/--port: `sandman sim` (KubeSim) has those, and a parent command takes its own names.
    @Option(help: "Kubeconfig of the destination cluster.")
    var clusterKubeconfig: String

    @Option(help: "Kubeconfig context; the current one when absent.")
    var context: String?

    @Option(help: "YAML file of Application objects to create at start.")
    var applications: String?

    @Option(help: "Password of the admin user.")
    var password: String = "password"

    @Option(help: "API token to accept (user admin).")
    var token: String = "argocd-sandman-sim"

    @Option(help: "Seconds between repository polls.")
    var reconciliationInterval: Double = 180

    @Option(help: "Seconds self-heal waits after a sync.")
    var selfHealTimeout: Double = 5

    @Option(help: "Resource tracking: label, annotation or annotation+label.")
    var tracking: String = "label"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var argocdPort: Int = 0

    func run() async throws {
        guard let trackingMethod = ArgoSim.TrackingMethod(rawValue: tracking) else {
            printError("--tracking must be label, annotation or annotation+label, not \(tracking)")
            throw ExitCode(2)
        }
        var configuration = ArgoSim.Configuration()
        configuration.port = argocdPort
        configuration.gitlabURL = gitlab
        configuration.gitlabToken = gitlabToken
        configuration.users = ["admin": password]
        configuration.tokens = [token: "admin"]
        configuration.reconciliationInterval = .milliseconds(Int64(reconciliationInterval * 1000))
        configuration.selfHealTimeout = .milliseconds(Int64(selfHealTimeout * 1000))
        configuration.trackingMethod = trackingMethod
        do {
            let access = try Kubeconfig(path: clusterKubeconfig).access(context: context)
            configuration.clusters = [.init(name: "in-cluster", server: ArgoSim.inCluster, access: access)]
        } catch {
            printError("\(clusterKubeconfig): \(error)")
            throw ExitCode(1)
        }
        let argocd = try await ArgoSim.start(configuration)
        if let applications {
            do {
                try await argocd.load(applications: String(contentsOfFile: applications, encoding: .utf8), source: applications)
            } catch {
                await argocd.shutdown()
                printError("\(error)")
                throw ExitCode(1)
            }
        }
        printNow("ArgoSim serving \(argocd.url)")
        printNow("token: \(token) (Authorization: Bearer), or admin / \(password) via POST /api/v1/session")
        printNow("try: curl -H 'Authorization: Bearer \(token)' \(argocd.url)/api/v1/applications")
        printNow("Ctrl-C stops it.")
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await argocd.shutdown()
    }
}
