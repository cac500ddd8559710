import JSON

public struct Namespace: KubeResource {
    public static let kind = ResourceKind.namespace
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }

    /// `Active` or `Terminating`.
    public var phase: String? { value("status", "phase")?.string }
}

/// A Deployment, StatefulSet or ReplicaSet: something with replicas and a pod template.
public protocol ScalableWorkload: KubeResource {}

extension ScalableWorkload {
    /// `spec.replicas`; Kubernetes defaults a missing value to 1.
    public var replicas: Int {
        get { Int(value("spec", "replicas")?.int ?? 1) }
        set { object[path: ["spec", "replicas"]] = .int(Int64(newValue)) }
    }

    public var readyReplicas: Int { Int(value("status", "readyReplicas")?.int ?? 0) }
    public var statusReplicas: Int { Int(value("status", "replicas")?.int ?? 0) }

    /// Containers of the pod template, with their resource requests.
    public var containers: [Container] {
        (value("spec", "template", "spec", "containers")?.array ?? []).map(Container.init)
    }
}

public struct Deployment: ScalableWorkload {
    public static let kind = ResourceKind.deployment
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }
}

public struct StatefulSet: ScalableWorkload {
    public static let kind = ResourceKind.statefulSet
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }
}

public struct ReplicaSet: ScalableWorkload {
    public static let kind = ResourceKind.replicaSet
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }
}

public struct CronJob: KubeResource {
    public static let kind = ResourceKind.cronJob
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }

    public var schedule: String? { value("spec", "schedule")?.string }

    public var suspend: Bool {
        get { value("spec", "suspend")?.bool ?? false }
        set { object[path: ["spec", "suspend"]] = .bool(newValue) }
    }
}

public struct HorizontalPodAutoscaler: KubeResource {
    public static let kind = ResourceKind.horizontalPodAutoscaler
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }

    public var minReplicas: Int { Int(value("spec", "minReplicas")?.int ?? 1) }
    public var maxReplicas: Int { Int(value("spec", "maxReplicas")?.int ?? 0) }
    /// The kind and name of the workload it scales.
    public var target: (kind: String, name: String)? {
        guard let kind = value("spec", "scaleTargetRef", "kind")?.string, let name = value("spec", "scaleTargetRef", "name")?.string else { return nil }
        return (kind, name)
    }
}

/// A container of a pod template and what it requests.
public struct Container: Sendable, Equatable {
    public var name: String
    public var image: String?
    /// Requested CPU in cores (`500m` is 0.5), nil when not requested.
    public var cpuRequest: Double?
    /// Requested memory in bytes, nil when not requested.
    public var memoryRequest: Double?

    init(_ json: JSONValue) {
        name = json["name"]?.string ?? ""
        image = json["image"]?.string
        cpuRequest = json[path: ["resources", "requests", "cpu"]].flatMap(Quantity.parse)
        memoryRequest = json[path: ["resources", "requests", "memory"]].flatMap(Quantity.parse)
    }
}

/// Kubernetes resource quantities (`100m`, `1.5`, `128Mi`, `1G`, `2e3`) as numbers.
public enum Quantity {
    private static let suffixes: [(String, Double)] = [
        ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
        ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    public static func parse(_ value: JSONValue) -> Double? {
        if let number = value.double { return number }
        guard let text = value.string?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(text)
    }
}

/// The `autoscaling/v1` Scale of a workload.
public struct Scale: Sendable, Equatable {
    public var object: JSONValue

    public var replicas: Int { Int(object[path: ["spec", "replicas"]]?.int ?? 0) }
    public var statusReplicas: Int { Int(object[path: ["status", "replicas"]]?.int ?? 0) }
    public var resourceVersion: String? { object[path: ["metadata", "resourceVersion"]]?.string }
    public var selector: String? { object[path: ["status", "selector"]]?.string }
}
