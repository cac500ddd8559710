import Config
import Kube

/// Builds the Kubernetes client of a configured cluster.
public enum ClusterClients {
    /// The client for `cluster`: its kubeconfig (or kubectl's default files) and context, or
    /// the in-cluster service account when the file says `kubeconfig: in-cluster`.
    public static func client(for cluster: ClusterConfiguration) throws -> KubeClient {
        let access = try self.access(for: cluster)
        var configuration = KubeClient.Configuration()
        configuration.qps = cluster.client.qps
        configuration.burst = cluster.client.burst
        configuration.timeout = cluster.client.timeout
        configuration.writes = (initial: min(16, cluster.client.concurrency), bounds: min(2, cluster.client.concurrency)...cluster.client.concurrency)
        // The watches (namespaces, SleepInfos) and the health probe hold connections of their own.
        configuration.maxConnectionsPerHost = max(4, cluster.client.concurrency) + 4
        return try KubeClient(name: cluster.name, access: access, configuration: configuration)
    }

    /// How `cluster` is reached, read from its kubeconfig and context (no connection is made);
    /// the error names the cluster, its file and the kubeconfig.
    public static func access(for cluster: ClusterConfiguration) throws(ClusterAccessError) -> ClusterAccess {
        do {
            if cluster.inCluster { return try ClusterAccess.inCluster() }
            let kubeconfig = try cluster.kubeconfig.map { path throws(KubeconfigError) in try Kubeconfig(path: path) } ?? Kubeconfig.loadDefault()
            return try kubeconfig.access(context: cluster.context)
        } catch {
            throw ClusterAccessError(cluster: cluster, underlying: error)
        }
    }

    /// Probes every cluster at once; a slow or dead one does not delay the others.
    public static func probe(_ clusters: [ClusterConfiguration]) async -> [ProbeResult] {
        await withTaskGroup(of: (Int, ProbeResult).self) { group in
            for (index, cluster) in clusters.enumerated() {
                group.addTask {
                    do {
                        return (index, try await client(for: cluster).probe())
                    } catch {
                        return (index, ProbeResult(cluster: cluster.name, server: cluster.inCluster ? "in-cluster" : cluster.kubeconfig ?? "default kubeconfig", ready: false, latency: .zero, failure: "configuration: \(error)"))
                    }
                }
            }
            var results = [(Int, ProbeResult)]()
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

/// A cluster its configuration gives no way to reach: a missing kubeconfig, an unknown context.
public struct ClusterAccessError: Error, CustomStringConvertible {
    public var cluster: String
    /// The cluster's file.
    public var source: String
    /// The field of the cluster's file at fault: `kubeconfig` or `context`.
    public var field: String
    /// What is wrong, naming the kubeconfig and the context.
    public var reason: String
    /// The kubeconfig file is not on this machine (a configuration checked away from its hub).
    public var kubeconfigMissing: Bool
    public var description: String { "cluster \(cluster) (\(source)): \(reason)" }

    init(cluster: ClusterConfiguration, underlying: any Error) {
        self.cluster = cluster.name
        source = cluster.source
        kubeconfigMissing = (underlying as? KubeconfigError)?.fileMissing == true
        let contextAtFault = (underlying as? KubeconfigError)?.field?.hasPrefix("contexts") == true
        field = contextAtFault ? "context" : "kubeconfig"
        let kubeconfig = cluster.inCluster ? "in-cluster service account" : "kubeconfig \(cluster.kubeconfig ?? "(kubectl's default files)")"
        let context = cluster.context.map { ", context \"\($0)\"" } ?? ""
        reason = "\(kubeconfig)\(context): \(underlying)"
    }
}
