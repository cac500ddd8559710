import JSON

/// Argo CD's health of a resource and of an application (the worst of its resources).
public enum Health: String, Sendable, Comparable {
    case healthy = "Healthy", suspended = "Suspended", progressing = "Progressing", missing = "Missing"
    case degraded = "Degraded", unknown = "Unknown"

    /// Argo CD's order of severity (`health.IsWorse`).
    private var severity: Int {
        switch self {
        case .healthy: 0
        case .suspended: 1
        case .progressing: 2
        case .missing: 3
        case .degraded: 4
        case .unknown: 5
        }
    }

    public static func < (lhs: Health, rhs: Health) -> Bool { lhs.severity < rhs.severity }

    /// The health of a live object (nil: it does not exist). Workloads are Progressing until
    /// their ready replicas reach the desired count; CronJobs that are suspended are Suspended.
    public static func of(_ live: JSONValue?) -> Health {
        guard let live else { return .missing }
        switch live["kind"]?.string {
        case "Deployment", "StatefulSet", "ReplicaSet":
            if live[path: ["spec", "paused"]]?.bool == true { return .suspended }
            let desired = live[path: ["spec", "replicas"]]?.int ?? 1
            let ready = live[path: ["status", "readyReplicas"]]?.int ?? 0
            let generation = live[path: ["metadata", "generation"]]?.int ?? 0
            let observed = live[path: ["status", "observedGeneration"]]?.int ?? generation
            return ready >= desired && observed >= generation ? .healthy : .progressing
        case "CronJob":
            return live[path: ["spec", "suspend"]]?.bool == true ? .suspended : .healthy
        default:
            return .healthy
        }
    }
}
