import Config
import Foundation
import JSON
import Kube
import Logging
import Scheduling
import Sleep
import Store

/// The hub: one agent per configured cluster, the store, and the operations people ask for
/// through the API, the CLI and Slack. Authorization is decided here, once, for every surface.
public final class Hub: Sendable {
    public let configuration: HubConfiguration
    public let store: Store
    public let clock: any HubClock
    public let metrics: HubMetrics
    public let agents: [String: ClusterAgent]
    /// Overrides through GitLab merge requests and Argo CD (`gitops.enabled`); nil in direct mode.
    public let gitops: GitOpsCoordinator?
    /// Clusters without an agent, because no client could be made: why, by cluster.
    public let unusable: [String: String]
    let logger: Logger

    /// Builds the hub and an agent per cluster; `makeClient` is how each cluster is reached.
    public init(
        configuration: HubConfiguration, store: Store, clock: any HubClock = SystemClock(),
        policy: any PolicyAdvisor = ScheduleOnlyAdvisor(), events: [any HubEventSink] = [],
        agentSettings: ClusterAgent.Settings = .init(), logger: Logger,
        makeClient: (ClusterConfiguration) throws -> KubeClient = ClusterClients.client
    ) throws {
        self.configuration = configuration
        self.store = store
        self.clock = clock
        self.logger = logger
        let metrics = HubMetrics(clock: clock)
        self.metrics = metrics
        var settings = agentSettings
        settings.resyncInterval = configuration.resyncInterval.inSeconds
        // A cluster that cannot be reached as configured is reported, and the others run.
        var clients: [String: KubeClient] = [:]
        var unusable: [String: String] = [:]
        for cluster in configuration.clusters {
            do {
                clients[cluster.name] = try makeClient(cluster)
            } catch {
                unusable[cluster.name] = "\(error)"
                logger.error("cluster not ready", metadata: ["cluster": "\(cluster.name)", "error": "\(error)"])
            }
        }
        self.unusable = unusable
        let election = configuration.leaderElection
        if election.enabled, let home = election.homeCluster, let reason = unusable[home] {
            throw HubError(kind: .unavailable, message: "leader election needs its home cluster \(home): \(reason)")
        }
        let home = election.enabled ? election.homeCluster.flatMap { clients[$0] } : nil
        var agents: [String: ClusterAgent] = [:]
        let fanOut = HubEventFanOut([metrics] + events)
        let argocd = GitOpsWiring(configuration: configuration, metrics: metrics)
        for cluster in configuration.clusters where clients[cluster.name] != nil {
            var clusterSettings = settings
            clusterSettings.concurrency = cluster.client.concurrency
            let elector = home.map { home in
                var electorConfiguration = LeaderElector.Configuration(leaseName: "sandman-\(cluster.name)", namespace: election.namespace, identity: election.identity)
                electorConfiguration.leaseDuration = election.leaseDuration
                electorConfiguration.renewDeadline = election.renewDeadline
                electorConfiguration.retryPeriod = election.retryPeriod
                return LeaderElector(client: home, configuration: electorConfiguration)
            }
            agents[cluster.name] = ClusterAgent(
                configuration: cluster, client: clients[cluster.name]!, store: store, clock: clock, policy: policy,
                events: fanOut, prices: configuration.prices, settings: clusterSettings, elector: elector,
                gitops: argocd.agentSupport(for: cluster, client: clients[cluster.name]!, store: store, events: fanOut, clock: clock, logger: logger),
                logger: logger
            )
        }
        self.agents = agents
        gitops = configuration.gitops.enabled
            ? GitOpsCoordinator(configuration: configuration, store: store, clock: clock, metrics: metrics, events: fanOut, agents: agents, logger: logger)
            : nil
    }

    /// Runs every agent until cancelled; one cluster's trouble never holds up another's agent.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.refreshSavings() }
            if let gitops { group.addTask { await gitops.run() } }
            // Work other replicas sharing the store accepted (theirs only take it up where they lead).
            group.addTask {
                await self.store.followAnnouncements { cluster in
                    await self.agents[cluster]?.wake()
                    self.gitops?.nudge()
                }
            }
            await withTaskGroup(of: Void.self) { agentsGroup in
                for agent in agents.values {
                    agentsGroup.addTask { await agent.run() }
                }
            }
            group.cancelAll()
        }
    }

    /// Has `cluster`'s new work taken up now: by this replica's agent if it leads the cluster, and
    /// by whichever replica sharing the store does.
    func workAccepted(cluster: String) async {
        await agents[cluster]?.wake()
        await store.announceWork(cluster: cluster)
    }

    /// Stops every agent once its current work is done.
    public func drain() async {
        for agent in agents.values { await agent.finishCurrentWork() }
    }

    // MARK: Reads

    public func clusterStatuses() async -> [ClusterStatus] {
        var statuses: [ClusterStatus] = []
        for cluster in configuration.clusters {
            if let agent = agents[cluster.name] {
                statuses.append(await agent.status())
            } else if let reason = unusable[cluster.name] {
                var health = ClusterHealth()
                health.lastError = reason
                statuses.append(ClusterStatus(name: cluster.name, tier: cluster.tier, health: health, namespaces: [], owner: nil, ownedHere: true))
            }
        }
        return statuses
    }

    public func cluster(_ name: String) throws(HubError) -> ClusterConfiguration {
        guard let cluster = configuration.cluster(named: name) else {
            throw .notFound("cluster \"\(name)\" is not managed by this hub; clusters: \(configuration.clusters.map(\.name).joined(separator: ", "))", field: "cluster")
        }
        return cluster
    }

    func audit(_ principal: Principal, source: String, action: String, cluster: String?, namespaces: [String], result: String, detail: String) async {
        do {
            try await store.record(AuditEntry(at: clock.now, actor: principal.name, source: source, action: action, cluster: cluster, namespace: namespaces.isEmpty ? nil : namespaces.joined(separator: ","), result: result, detail: detail))
        } catch {
            logger.error("audit write failed", metadata: ["error": "\(error)"])
        }
    }

    /// The metrics that say how things are now, taken afresh for each scrape.
    public func metricsExposition() async -> String {
        for status in await clusterStatuses() {
            metrics.recordNamespaces(of: status)
        }
        let overrides = (try? await store.activeOverrides(at: clock.now)) ?? []
        for cluster in configuration.clusters {
            metrics.recordOverrides(cluster: cluster.name, count: overrides.filter { $0.cluster == cluster.name }.count)
        }
        if let outbox = try? await store.outboxCounts() { metrics.recordOutbox(outbox) }
        return metrics.exposition()
    }

    // MARK: Savings

    /// Estimated savings of `cluster` over the last `days` days: for each sleep, the hourly cost
    /// of what it stopped times how long it slept.
    public func savings(cluster: String, days: Double = 7) async -> Double {
        let now = clock.now
        let since = now.addingTimeInterval(-days * 86_400)
        guard let operations = try? await store.operations(cluster: cluster, limit: 5000) else { return 0 }
        let chronological = operations.reversed()
        var total = 0.0
        for (index, operation) in chronological.enumerated() where operation.action == "sleep" {
            guard let summary = operation.summary.flatMap({ try? JSONValue(parsing: $0) }) else { continue }
            for (namespace, part) in OperationSummary.parts(of: summary) {
                guard let rate = part["hourlySavings"]?.double else { continue }
                let woke = chronological.dropFirst(index + 1).first { other in
                    other.action == "wake" && (other.namespaces.isEmpty || other.namespaces.contains(namespace))
                }?.createdAt ?? now
                let start = max(operation.createdAt, since)
                if woke > start { total += rate * woke.timeIntervalSince(start) / 3600 }
            }
        }
        return total
    }

    private func refreshSavings() async {
        while !Task.isCancelled {
            var byEnvironment: [String: Double] = [:]
            for cluster in configuration.clusters {
                byEnvironment[cluster.tier.rawValue, default: 0] += await savings(cluster: cluster.name)
            }
            for (environment, dollars) in byEnvironment {
                metrics.recordSavings(environment: environment, period: "week", dollars: dollars)
            }
            try? await Task.sleep(for: .seconds(60))
        }
    }
}

/// Why the hub refused a request; `kind` maps to an HTTP status (`Kind.status`).
public struct HubError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case badRequest = "bad_request"
        case unauthorized
        case forbidden
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case conflict
        case payloadTooLarge = "payload_too_large"
        case tooManyRequests = "too_many_requests"
        case unavailable
        case internalError = "internal"
    }

    public var kind: Kind
    public var message: String
    public var field: String?

    public static func badRequest(_ message: String, field: String? = nil) -> HubError { HubError(kind: .badRequest, message: message, field: field) }
    public static func forbidden(_ message: String) -> HubError { HubError(kind: .forbidden, message: message) }
    public static func notFound(_ message: String, field: String? = nil) -> HubError { HubError(kind: .notFound, message: message, field: field) }
    public static func `internal`(_ message: String) -> HubError { HubError(kind: .internalError, message: message) }

    public var description: String { message }
}
