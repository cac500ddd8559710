import Foundation
import Scheduling
import Sleep

/// One cluster the hub manages, from `clusters/<name>.yaml`.
public struct ClusterConfiguration: Sendable {
    public enum Tier: String, Sendable, CaseIterable, Codable {
        case production, staging, development
    }

    /// Which namespaces the hub looks after at all.
    public struct NamespaceSelector: Sendable {
        public var include: [NamePattern] = [NamePattern("*")]
        public var exclude: [NamePattern] = ["kube-system", "kube-public", "kube-node-lease"].map(NamePattern.init)

        public init() {}

        public func selects(_ namespace: String) -> Bool {
            include.matchesAny(namespace) && !exclude.matchesAny(namespace)
        }
    }

    /// A schedule the hub applies to namespaces that have no SleepInfo of their own. Same fields
    /// as kube-green's SleepInfo, plus separate sleep and wake days and dates without transitions.
    public struct HubSchedule: Sendable {
        public var name: String
        public var namespaces: [NamePattern]
        /// Cron day-of-week field for both transitions unless `sleepDays`/`wakeDays` say otherwise.
        public var weekdays: String
        public var sleepDays: String?
        public var wakeDays: String?
        public var sleepAt: String
        public var wakeUpAt: String?
        public var timeZone: String
        /// Calendar dates (`YYYY-MM-DD`, in `timeZone`) on which no transition happens.
        public var exceptions: [String]
        public var suspendCronJobs: Bool
        public var suspendDeployments: Bool
        public var suspendStatefulSets: Bool
        /// Kinds slept beyond kube-green's: Argo Rollouts and KEDA ScaledObjects unless turned
        /// off, Jobs and DaemonSets when asked.
        public var native: [SleepSpec.NativeKind]
        /// Replicas left running by a partial sleep; nil: a full sleep.
        public var downtimeReplicas: DowntimeReplicas?
        /// How long a workload created or changed recently is left running by a scheduled sleep.
        public var gracePeriod: Duration

        /// What sleeping a namespace under this schedule does.
        public var spec: SleepSpec {
            var spec = SleepSpec(
                suspendDeployments: suspendDeployments, suspendStatefulSets: suspendStatefulSets, suspendCronJobs: suspendCronJobs,
                native: native
            )
            spec.downtimeReplicas = downtimeReplicas
            spec.gracePeriod = gracePeriod.inSeconds
            return spec
        }
    }

    /// A team: who owns which namespaces, and where to tell them.
    public struct Team: Sendable {
        public var name: String
        public var namespaces: [NamePattern]
        public var slackChannel: String?
    }

    /// How hard the hub may push this cluster's API server.
    public struct ClientSettings: Sendable {
        /// A hard cap on requests per second (and its burst) on top of the adaptive pace; nil: none.
        public var qps: Double?
        public var burst: Int = 100
        /// The most objects patched at once during a sleep or wake: the count starts at 16 (or
        /// this, if lower) and follows the server's answers below it (Kube's `ConcurrencyLimit`).
        public var concurrency: Int = 64
        public var timeout: Duration = .seconds(30)

        public init() {}
    }

    /// Which namespaces change through git (GitOps mode) and what to do about Argo CD's self-heal.
    public struct GitOps: Sendable {
        public enum SelfHeal: String, Sendable, CaseIterable {
            /// A Warning event, a problem in the API and one Slack notification before the sleep.
            case warn
            /// Self-heal turned off on the Application during the sleep, restored after the wake.
            case pause
        }

        /// GitOps-managed namespaces, by name pattern.
        public var namespaces: [NamePattern] = []
        /// Also GitOps-managed: namespaces whose SleepInfo is tracked by an Argo CD Application.
        public var detect = true
        public var selfHeal: SelfHeal = .warn

        public init() {}
    }

    public var name: String
    /// The file this cluster was read from.
    public var source: String
    /// The line of its `name:` field, when the file has one (else the name is the file's).
    package var nameLine: Int?
    public var tier: Tier
    /// Absolute kubeconfig path; nil means kubectl's default files (or in-cluster, below).
    public var kubeconfig: String?
    /// `kubeconfig: in-cluster`: the service account of the pod the hub runs in.
    public var inCluster = false
    public var context: String?
    public var namespaces: NamespaceSelector
    public var schedules: [HubSchedule]
    public var teams: [Team]
    public var slackChannel: String?
    public var client: ClientSettings
    public var gitops = GitOps()

    /// The team owning `namespace`: the first team with a matching pattern.
    public func team(owning namespace: String) -> Team? {
        teams.first { $0.namespaces.matchesAny(namespace) }
    }
}
