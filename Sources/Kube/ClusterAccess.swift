import Foundation

/// How to reach one cluster and who to be there: a resolved kubeconfig context or the
/// in-cluster service account.
public struct ClusterAccess: Sendable, Equatable {
    public var contextName: String
    public var cluster: Kubeconfig.Cluster
    public var user: Kubeconfig.User
    /// The context's default namespace.
    public var namespace: String

    public init(contextName: String, cluster: Kubeconfig.Cluster, user: Kubeconfig.User, namespace: String = "default") {
        self.contextName = contextName
        self.cluster = cluster
        self.user = user
        self.namespace = namespace
    }

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The configuration of a pod's service account: `KUBERNETES_SERVICE_HOST`/`PORT`, the
    /// mounted CA, and the token file (re-read as it rotates).
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment, directory: String = serviceAccountDirectory) throws(KubeconfigError) -> ClusterAccess {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeconfigError(file: nil, field: "KUBERNETES_SERVICE_HOST", reason: "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        let tokenFile = "\(directory)/token"
        guard FileManager.default.fileExists(atPath: tokenFile) else {
            throw KubeconfigError(file: tokenFile, field: nil, reason: "service account token not mounted")
        }
        let namespace = (try? String(contentsOfFile: "\(directory)/namespace", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return ClusterAccess(
            contextName: "in-cluster",
            cluster: .init(server: "https://\(bracketed):\(port)", certificateAuthority: .file("\(directory)/ca.crt")),
            user: .init(tokenFile: tokenFile),
            namespace: namespace ?? "default"
        )
    }
}

extension Kubeconfig.CertificateSource {
    /// The PEM bytes, read from the file when given by path.
    func load(field: String) throws(KubeError) -> Data {
        switch self {
        case .data(let data):
            return data
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KubeError(reason: .configuration, message: "\(field): cannot read \(path)")
            }
            return data
        }
    }
}
