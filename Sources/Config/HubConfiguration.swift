import Foundation
import Store

/// The hub's settings, from `sandman.yaml`, with the clusters of its clusters directory.
public struct HubConfiguration: Sendable {
    public struct Listen: Sendable, Equatable {
        public var host: String = "127.0.0.1"
        public var port: Int = 8080

        public init(host: String = "127.0.0.1", port: Int = 8080) {
            self.host = host
            self.port = port
        }
    }

    public struct Plugins: Sendable {
        /// Directory of Lua plugins, absolute.
        public var directory: String
        /// Wall-clock budget of one decision or Slack command call.
        public var callTimeout: Duration = .milliseconds(50)
        public var memoryLimitBytes: Int = 32 << 20
        public var reloadInterval: Duration = .seconds(2)
    }

    /// Who may do what from Slack: users, user groups or channels mapped to a role in some teams
    /// and clusters.
    public struct SlackPrincipal: Sendable {
        public var users: [String] = []
        public var userGroups: [String] = []
        public var channels: [String] = []
        public var role: Role = .viewer
        /// Empty means every team.
        public var teams: [String] = []
        /// Empty means every cluster.
        public var clusters: [String] = []

        public init(
            users: [String] = [], userGroups: [String] = [], channels: [String] = [], role: Role = .viewer, teams: [String] = [], clusters: [String] = []
        ) {
            self.users = users
            self.userGroups = userGroups
            self.channels = channels
            self.role = role
            self.teams = teams
            self.clusters = clusters
        }
    }

    public struct Slack: Sendable {
        /// Several secrets are accepted at once while one is rotated out.
        public var signingSecrets: [String] = []
        public var botToken: String?
        public var webhookURL: String?
        public var apiURL: String = "https://slack.com/api"
        public var defaultChannel: String?
        /// IANA zone in which commands read times of day and messages show times, unless a
        /// namespace's schedule has its own.
        public var timeZone: String = "UTC"
        public var preSleepWarning: Duration = .minutes(10)
        public var principals: [SlackPrincipal] = []
        /// Slack user IDs that may act on production clusters without the admin role.
        public var productionAllowList: [String] = []
        /// Outbox entries older than this are given up and recorded as such.
        public var maxDeliveryAge: Duration = .hours(1)

        public init() {}

        public var commandsEnabled: Bool { !signingSecrets.isEmpty }
        public var notificationsEnabled: Bool { botToken != nil || webhookURL != nil }
    }

    public struct GitOps: Sendable {
        public struct GitLab: Sendable {
            public var url: String = "https://gitlab.com"
            /// Numeric id or `group/project` path.
            public var project: String = ""
            public var token: String?
            public var targetBranch: String = "main"
            /// Where a namespace's SleepInfo manifest lives; `{cluster}` and `{namespace}` are substituted.
            public var pathTemplate: String = "clusters/{cluster}/{namespace}/sleepinfo.yaml"
            /// The secret GitLab sends as `X-Gitlab-Token` to `/gitlab/webhook`; without one the
            /// hub polls merge requests instead of waiting for their events.
            public var webhookSecret: String?
            /// How often an open merge request is read when no webhook is configured (with one,
            /// ten times less often, in case an event is lost).
            public var pollInterval: Duration = .seconds(10)
            /// Labels of the merge requests the hub opens (how it finds its own again).
            public var labels: [String] = ["sandman"]
        }

        public struct ArgoCD: Sendable {
            public var url: String = ""
            public var token: String?
            /// Application to sync after a merge; `{cluster}` and `{namespace}` are substituted.
            public var applicationTemplate: String = "{cluster}-{namespace}"

            /// Whether the hub can read and change Applications (self-heal checks need it).
            public var isConfigured: Bool { !url.isEmpty && token != nil }
        }

        /// How long each stage of a GitOps request may take before the request fails.
        public struct Timeouts: Sendable {
            /// Writing the change and opening (or updating) the merge request.
            public var mergeRequest: Duration = .minutes(2)
            /// An approval by a person (production, or a target branch with approval rules).
            public var approval: Duration = .hours(72)
            /// GitLab merging a merge request that needs no approval.
            public var merge: Duration = .minutes(5)
            /// Argo CD syncing the merge.
            public var sync: Duration = .minutes(10)
            /// The agent seeing the synced change in the cluster and acting on it.
            public var apply: Duration = .minutes(5)
        }

        public var enabled: Bool = false
        public var gitlab = GitLab()
        public var argocd = ArgoCD()
        public var timeouts = Timeouts()
        /// Base URL of the hub in the links of merge requests; the address it listens on when absent.
        public var hubURL: String?
        /// How often expired override annotations are looked for (one cleanup merge request at a time).
        public var cleanupInterval: Duration = .minutes(10)

        public init() {}
    }

    /// Bounds on what people may ask, the same from every source (API, CLI, Slack, buttons).
    public struct Limits: Sendable, Equatable {
        /// Longest a sleep, wake or override may be asked to last (`for`, `duration`, `until`).
        public var maxDuration: Duration = .hours(24 * 7)
        /// Longest `reason`, in characters.
        public var maxReasonLength: Int = 500

        public init() {}
    }

    /// Prices used for the savings estimate.
    public struct Prices: Sendable, Equatable {
        public var cpuHour: Double = 0.0316
        public var memoryGiBHour: Double = 0.0042
        public var currency: String = "USD"

        public init() {}
    }

    public struct LeaderElection: Sendable {
        public var enabled: Bool = false
        /// The cluster (by name) whose Leases coordinate the replicas.
        public var homeCluster: String?
        public var namespace: String = "sandman-system"
        public var identity: String = ProcessInfo.processInfo.hostName
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)

        public init() {}
    }

    /// The file this configuration was read from.
    public var source: String
    public var listen = Listen()
    /// Where the hub keeps its state: a SQLite file (absolute path) or a PostgreSQL database.
    public var database: StoreLocation
    public var plugins: Plugins
    /// Directory of `<cluster>.yaml` files, absolute.
    public var clusterDirectory: String
    public var logLevel: String = "info"
    /// Time between full resyncs of an agent's view of its cluster.
    public var resyncInterval: Duration = .minutes(5)
    public var slack = Slack()
    public var gitops = GitOps()
    public var limits = Limits()
    public var prices = Prices()
    public var leaderElection = LeaderElection()
    /// An admin API token given from outside (a Secret, as `SANDMAN_BOOTSTRAP_TOKEN`): stored
    /// only as its hash at start, so a new deployment has a way in without `kubectl exec`.
    public var bootstrapToken: String?
    public var clusters: [ClusterConfiguration] = []
    /// What loads but is likely a mistake (a schedule that can never apply): said by
    /// `config validate` and logged at start, never refused.
    public var warnings: [ConfigIssue] = []

    public func cluster(named name: String) -> ClusterConfiguration? {
        clusters.first { $0.name == name }
    }
}
