/// A kind of Kubernetes object: group, version and kind (`apps/v1 Deployment`).
public struct ResourceKind: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String

    public init(group: String, version: String, kind: String) {
        self.group = group
        self.version = version
        self.kind = kind
    }

    /// From an object's `apiVersion` (`apps/v1`, or `v1` for the core group) and `kind`.
    public init(apiVersion: String, kind: String) {
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        self.init(group: parts.count == 2 ? parts[0] : "", version: parts.last ?? "", kind: kind)
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `Deployment.apps`: how kube-green keys its restore data.
    public var groupKind: String { group.isEmpty ? kind : "\(kind).\(group)" }
    public var description: String { "\(apiVersion) \(kind)" }

    public static let namespace = ResourceKind(group: "", version: "v1", kind: "Namespace")
    public static let secret = ResourceKind(group: "", version: "v1", kind: "Secret")
    public static let configMap = ResourceKind(group: "", version: "v1", kind: "ConfigMap")
    public static let event = ResourceKind(group: "", version: "v1", kind: "Event")
    public static let pod = ResourceKind(group: "", version: "v1", kind: "Pod")
    public static let deployment = ResourceKind(group: "apps", version: "v1", kind: "Deployment")
    public static let statefulSet = ResourceKind(group: "apps", version: "v1", kind: "StatefulSet")
    public static let replicaSet = ResourceKind(group: "apps", version: "v1", kind: "ReplicaSet")
    public static let cronJob = ResourceKind(group: "batch", version: "v1", kind: "CronJob")
    public static let horizontalPodAutoscaler = ResourceKind(group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler")
    public static let lease = ResourceKind(group: "coordination.k8s.io", version: "v1", kind: "Lease")
    public static let sleepInfo = ResourceKind(group: "kube-green.com", version: "v1alpha1", kind: "SleepInfo")
    public static let customResourceDefinition = ResourceKind(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition")
}

/// Where a kind is served: its plural resource name and whether it lives in namespaces.
public struct APIResource: Sendable, Hashable {
    public var kind: ResourceKind
    public var plural: String
    public var namespaced: Bool
    public var subresources: Set<String>

    /// The request path of a collection or object.
    func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = kind.group.isEmpty ? "/api/\(kind.version)" : "/apis/\(kind.group)/\(kind.version)"
        if namespaced, let namespace { path += "/namespaces/\(namespace.pathEscaped)" }
        path += "/\(plural)"
        if let name { path += "/\(name.pathEscaped)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }
}

extension String {
    var pathEscaped: String {
        // Names in Kubernetes need no escaping; checking is much cheaper than Foundation's encoding.
        let unreserved = utf8.allSatisfy { byte in
            (97...122).contains(byte) || (65...90).contains(byte) || (48...57).contains(byte) || byte == 45 || byte == 46 || byte == 95
        }
        if unreserved { return self }
        return addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(.init(charactersIn: "/"))) ?? self
    }
}
