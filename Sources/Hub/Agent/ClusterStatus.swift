import Config
import Foundation
import JSON
import Scheduling
import Sleep
import Store

/// What an agent knows of one managed namespace, for the API and the CLI.
public struct NamespaceStatus: Sendable {
    public var namespace: String
    /// SleepInfo name or `hub-<schedule>`.
    public var unit: String
    public var team: String?
    public var schedule: JSONValue
    public var asleep: Bool?
    public var sleptSince: Date?
    /// When the namespace's state next changes if nobody does anything (overrides, skips applied).
    public var nextChange: Change?
    /// The override shown for the namespace: its own, else its cluster's.
    public var override: OverrideRecord?
    /// Why the namespace cannot be managed (a malformed SleepInfo, an API error), nil when fine.
    public var problem: String?
    /// A plugin holding back the transition the schedule wants (answered `keep`): the plugin and
    /// its reason. The transition is asked again at every evaluation until the plugin lets it go.
    public var heldBy: PolicyAdvice?
    /// Workloads a scheduled sleep left running in their grace period: slept at this time.
    public var graceUntil: Date?
    /// The state the schedule and overrides want now (before any plugin holds it back).
    public var desired: Transition.Kind?
    /// The hub-clock instant of the evaluation this status comes from.
    public var evaluatedAt: Date?

    init(unit: ManagedUnit, now: Date) {
        namespace = unit.namespace
        self.unit = unit.name
        team = unit.team?.name
        schedule = unit.scheduleDescription
    }
}

/// One cluster's health and namespaces.
public struct ClusterStatus: Sendable {
    public var name: String
    public var tier: ClusterConfiguration.Tier
    public var health: ClusterHealth
    public var namespaces: [NamespaceStatus]
    /// With leader election: the replica holding this cluster's Lease.
    public var owner: String?
    /// Whether this replica acts on the cluster.
    public var ownedHere: Bool

    public var asleepCount: Int { namespaces.filter { $0.asleep == true }.count }
    /// The first namespace whose state will change, and that change.
    public var nextChange: (namespace: String, change: Change)? {
        namespaces.compactMap { status in status.nextChange.map { (status.namespace, $0) } }.min { $0.1.at < $1.1.at }
    }
}

/// Who hears about what the agents do: metrics, notifications, the log.
/// How one namespace's part of an operation ended.
public enum OperationPartResult: Sendable {
    /// It ran; some of its objects may have failed.
    case ran(SleepExecutor.Outcome)
    /// It could not run, or its GitOps request failed: why.
    case failed(String)

    public var outcome: SleepExecutor.Outcome? {
        if case .ran(let outcome) = self { outcome } else { nil }
    }
}

public protocol HubEventSink: Sendable {
    func clusterHealthChanged(cluster: String, tier: ClusterConfiguration.Tier, health: ClusterHealth) async
    func operationStarted(_ operation: OperationRecord, cluster: ClusterConfiguration, unit namespace: String) async
    /// `timeZone`: the IANA zone of the namespace's schedule, for showing times to people.
    func operationFinished(_ operation: OperationRecord, cluster: ClusterConfiguration, namespace: String, timeZone: String?, result: OperationPartResult, duration: Duration) async
    /// Something people should hear of that is not an operation (an Argo CD Application that will
    /// undo sleeps, a sleep it undid); `key` names it, so that it is announced once.
    func notice(_ event: JSONValue, cluster: ClusterConfiguration, namespace: String?, key: String) async
    /// The operation reached its final state (every namespace ran, or it was superseded).
    func operationCompleted(_ operation: OperationRecord, cluster: ClusterConfiguration) async
    /// One evaluation of the cluster's managed namespaces took `duration` (operations included).
    func evaluationFinished(cluster: String, duration: Duration) async
}

extension HubEventSink {
    public func notice(_ event: JSONValue, cluster: ClusterConfiguration, namespace: String?, key: String) async {}
    public func operationCompleted(_ operation: OperationRecord, cluster: ClusterConfiguration) async {}
    public func evaluationFinished(cluster: String, duration: Duration) async {}
}
