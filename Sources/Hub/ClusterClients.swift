import Config
import Kube

/// Builds the Kubernetes client of a configured cluster.
public enum ClusterClients {
    /// The client for `cluster`: its kubeconfig (or kubectl's default files) and context, or
    /// the in-cluster service account when the file says `kubeconfig: in-cluster`.
    public static func client(for cluster: ClusterConfiguration) throws -> KubeClient {
        let access: ClusterAccess
        if cluster.inCluster {
            access = try ClusterAccess.inCluster()
        } else {
            let kubeconfig = try cluster.kubeconfig.map { path throws(KubeconfigError) in try Kubeconfig(path: path) } ?? Kubeconfig.loadDefault()
            access = try kubeconfig.access(context: cluster.context)
        }
        var configuration = KubeClient.Configuration()
        configuration.qps = cluster.client.qps
        configuration.burst = cluster.client.burst
        configuration.timeout = cluster.client.timeout
        configuration.maxConnectionsPerHost = max(4, cluster.client.concurrency)
        return try KubeClient(name: cluster.name, access: access, configuration: configuration)
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
