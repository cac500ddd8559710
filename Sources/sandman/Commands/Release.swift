import ArgumentParser
import Foundation
import Hub

/// `sandman release`: hand a cluster back to kube-green, straight through its kubeconfig.
struct Release: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hand a cluster (or some namespaces) back to kube-green: remove Sandman's finalizer and annotation from its SleepInfos and leave every state Secret as kube-green reads it.",
        discussion: "Stop the hub first (or remove the cluster from its configuration): a running hub adds its finalizer back. Exits 1 when something would stay asleep under kube-green; wake it with `sandman wake` and run again."
    )

    @OptionGroup var config: ConfigOption
    @Argument(help: "Cluster name, as in the hub configuration.") var cluster: String
    @Argument(help: "Namespaces (default: all).") var namespaces: [String] = []
    @Flag(help: "Release even while a hub replica holds the cluster's Lease.") var force = false

    func run() async throws {
        let loaded = try loadConfiguration(config.config)
        guard let cluster = loaded.cluster(named: cluster) else {
            printError("no cluster \"\(cluster)\" in \(loaded.clusterDirectory); clusters: \(loaded.clusters.map(\.name).joined(separator: ", "))")
            throw ExitCode(1)
        }
        let client = try ClusterClients.client(for: cluster)
        let election = loaded.leaderElection
        if !force, election.enabled, let home = election.homeCluster.flatMap(loaded.cluster(named:)),
           let holder = try await KubeGreenRelease.activeHub(cluster: cluster.name, election: election, home: try ClusterClients.client(for: home), now: Date()) {
            printError("hub replica \(holder) acts on \(cluster.name) (Lease \(KubeGreenRelease.leaseName(cluster: cluster.name))): stop it first, or pass --force")
            throw ExitCode(1)
        }
        let report = try await KubeGreenRelease.run(client: client, namespaces: namespaces)
        for name in report.released { print("released SleepInfo \(name)") }
        for name in report.rewrittenSecrets { print("rewrote \(name) with kube-green's keys") }
        for warning in report.warnings { print("warning: \(warning)") }
        for problem in report.problems { printError("problem: \(problem)") }
        print("\(report.released.count) SleepInfo(s) released, \(report.problems.count) problem(s)")
        if !report.problems.isEmpty { throw ExitCode(1) }
    }
}
