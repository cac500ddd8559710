import Config
import Foundation
import JSON
import Prometheus
import Scheduling
import Sleep
import Store

/// The hub's Prometheus metrics, in a registry of its own (so that several hubs in one test
/// process do not mix), with the seed's kube-green metric names. Every family has `# HELP`.
public final class HubMetrics: Sendable, HubEventSink {
    public let registry = PrometheusCollectorRegistry()
    private let clock: any HubClock

    public init(clock: any HubClock = SystemClock()) {
        self.clock = clock
    }

    /// The text exposition format served at `/metrics`.
    public func exposition() -> String {
        registry.emitToString()
    }

    func counter(_ family: Family, _ labels: [(String, String)]) -> Counter {
        registry.makeCounter(descriptor: family.descriptor, labels: labels)
    }

    private func gauge(_ family: Family, _ labels: [(String, String)]) -> Gauge {
        registry.makeGauge(descriptor: family.descriptor, labels: labels)
    }

    func histogram(_ family: Family, _ labels: [(String, String)]) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: family.descriptor, labels: labels, buckets: Self.durationBuckets)
    }

    private static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    public func clusterHealthChanged(cluster: String, tier: ClusterConfiguration.Tier, health: ClusterHealth) async {
        gauge(.clusterReady, [("cluster", cluster), ("environment", tier.rawValue)]).set(to: health.ready ? 1 : 0)
    }

    public func operationStarted(_ operation: OperationRecord, cluster: ClusterConfiguration, unit namespace: String) async {}

    /// One namespace's part of an operation: durations, objects scaled, the last transition.
    public func operationFinished(_ operation: OperationRecord, cluster: ClusterConfiguration, namespace: String, timeZone: String?, result: OperationPartResult, duration: Duration) async {
        histogram(.operationDuration, [("cluster", cluster.name), ("operation", operation.action)]).record(duration)
        guard let outcome = result.outcome else { return }
        for ref in outcome.done {
            counter(.resourcesScaled, [("environment", cluster.tier.rawValue), ("resource_type", ref.groupKind), ("namespace", namespace)]).increment()
        }
        if outcome.state == .succeeded {
            gauge(.lastTransition, [("cluster", cluster.name), ("namespace", namespace), ("operation", operation.action)])
                .set(to: clock.now.timeIntervalSince1970)
        }
    }

    public func evaluationFinished(cluster: String, duration: Duration) async {
        histogram(.evaluationDuration, [("cluster", cluster)]).record(duration)
    }

    /// An operation reached its final state: counted once, whatever the namespaces it covered.
    public func operationCompleted(_ operation: OperationRecord, cluster: ClusterConfiguration) async {
        guard operation.state.isFinished else { return }
        let status = operation.state == .succeeded ? "success" : operation.state.rawValue
        counter(.operations, [("environment", cluster.tier.rawValue), ("operation", operation.action), ("status", status)]).increment()
    }

    /// Estimated savings per environment, refreshed by the hub.
    public func recordSavings(environment: String, period: String, dollars: Double) {
        gauge(.savings, [("environment", environment), ("time_period", period)]).set(to: dollars)
    }

    public func recordHTTPRequest(method: String, route: String, status: Int, seconds: Double) {
        counter(.httpRequests, [("method", method), ("route", route), ("status", String(status))]).increment()
        histogram(.httpRequestDuration, [("method", method), ("route", route)]).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// A Slack request refused before any plugin saw it (`reason`: bad_signature, replayed, ...).
    public func recordSlackRejection(reason: String) {
        counter(.slackRejections, [("reason", reason)]).increment()
    }

    /// `kind`: `load` (a version of the file that does not compile or validate) or `call`.
    /// Served from the plugin's first sight, at 0, so that `increase()` sees its first failure.
    public func recordPluginFailures(plugin: String, kind: String, count: Int) {
        counter(.pluginFailures, [("plugin", plugin), ("kind", kind)]).increment(by: Int64(max(count, 0)))
    }

    /// 1 while some version of the plugin serves calls; `current` 1 when it is the file on disk;
    /// `abandonedStates`: its threads left running past a deadline.
    public func recordPluginState(plugin: String, serving: Bool, current: Bool, abandonedStates: Int) {
        gauge(.pluginServing, [("plugin", plugin)]).set(to: serving ? 1 : 0)
        gauge(.pluginCurrent, [("plugin", plugin)]).set(to: current ? 1 : 0)
        gauge(.pluginAbandonedStates, [("plugin", plugin)]).set(to: Double(abandonedStates))
    }

    /// Plugin threads abandoned at a deadline and still running, host-wide.
    public func recordAbandonedPluginStates(_ count: Int) {
        gauge(.abandonedPluginStates, []).set(to: Double(count))
    }

    /// What the agents know of their namespaces, taken when Prometheus scrapes.
    func recordNamespaces(of status: ClusterStatus) {
        let cluster = [("cluster", status.name), ("environment", status.tier.rawValue)]
        var counts = ["asleep": 0, "awake": 0, "unknown": 0]
        for namespace in status.namespaces {
            let labels = [("cluster", status.name), ("namespace", namespace.namespace)]
            switch namespace.asleep {
            case true?: counts["asleep", default: 0] += 1
            case false?: counts["awake", default: 0] += 1
            case nil: counts["unknown", default: 0] += 1
            }
            if let asleep = namespace.asleep { gauge(.namespaceAsleep, labels).set(to: asleep ? 1 : 0) }
            if let desired = namespace.desired { gauge(.namespaceShouldSleep, labels).set(to: desired == .sleep ? 1 : 0) }
        }
        for (state, count) in counts {
            gauge(.namespaces, cluster + [("state", state)]).set(to: Double(count))
        }
    }

    func recordOverrides(cluster: String, count: Int) {
        gauge(.overrides, [("cluster", cluster)]).set(to: Double(count))
    }

    func recordOutbox(_ counts: Store.OutboxCounts) {
        gauge(.outbox, [("state", "pending")]).set(to: Double(counts.pending))
        gauge(.outbox, [("state", "given_up")]).set(to: Double(counts.givenUp))
    }
}

extension HubMetrics {
    /// Every metric family the hub serves, with its help text.
    enum Family: String, CaseIterable {
        case operations = "kube_green_sleep_operations_total"
        case resourcesScaled = "kube_green_resources_scaled_total"
        case savings = "kube_green_cost_savings_estimate_dollars"
        case clusterReady = "sandman_cluster_ready"
        case operationDuration = "sandman_operation_duration_seconds"
        case evaluationDuration = "sandman_evaluation_duration_seconds"
        case httpRequests = "sandman_http_requests_total"
        case httpRequestDuration = "sandman_http_request_duration_seconds"
        case slackRejections = "sandman_slack_rejected_requests_total"
        case pluginFailures = "sandman_plugin_failures_total"
        case pluginServing = "sandman_plugin_serving"
        case pluginCurrent = "sandman_plugin_current"
        case pluginAbandonedStates = "sandman_plugin_abandoned_states"
        case abandonedPluginStates = "sandman_plugin_host_abandoned_states"
        case namespaces = "sandman_namespaces"
        case namespaceAsleep = "sandman_namespace_asleep"
        case namespaceShouldSleep = "sandman_namespace_should_be_asleep"
        case lastTransition = "sandman_namespace_last_transition_timestamp_seconds"
        case overrides = "sandman_overrides_active"
        case outbox = "sandman_notification_outbox_messages"
        case gitopsRequests = "sandman_gitops_requests_total"
        case gitopsRequestDuration = "sandman_gitops_request_duration_seconds"
        case gitopsStageDuration = "sandman_gitops_stage_duration_seconds"
        case gitopsResults = "sandman_gitops_results_total"
        case sleepReverted = "sandman_sleep_reverted_total"

        var help: String {
            switch self {
            case .operations: "Total number of sleep operations (sleeps and wakes), counted once finished, by final status"
            case .resourcesScaled: "Total number of resources scaled (put to sleep or woken)"
            case .savings: "Estimated cost savings in dollars"
            case .clusterReady: "1 when the cluster's API server answers ready, else 0"
            case .operationDuration: "Time taken to sleep or wake one namespace"
            case .evaluationDuration: "Time taken by one evaluation of a cluster's managed namespaces, operations included"
            case .httpRequests: "HTTP requests the hub answered (API, Slack, webhooks)"
            case .httpRequestDuration: "Time taken to answer HTTP requests"
            case .slackRejections: "Slack requests refused before any plugin saw them, by reason (bad_signature, replayed, ...)"
            case .pluginFailures: "Plugin failures: load (a version that did not compile or validate) or call (failed or timed out)"
            case .pluginServing: "1 while some version of the plugin serves calls"
            case .pluginCurrent: "1 while the serving version of the plugin is the file on disk"
            case .pluginAbandonedStates: "Threads of the plugin abandoned at a deadline and still running"
            case .abandonedPluginStates: "Plugin threads abandoned at a deadline and still running, host-wide"
            case .namespaces: "Managed namespaces by state (asleep, awake, unknown) per cluster"
            case .namespaceAsleep: "1 when the namespace is asleep, 0 when awake"
            case .namespaceShouldSleep: "1 when the schedule and overrides want the namespace asleep, 0 when awake"
            case .lastTransition: "Unix time of the last successful sleep or wake of the namespace"
            case .overrides: "Overrides in force per cluster"
            case .outbox: "Notifications in the outbox: pending delivery, or given up after retries"
            case .gitopsRequests: "Calls to GitLab and Argo CD by service, call and result"
            case .gitopsRequestDuration: "Time taken by calls to GitLab and Argo CD"
            case .gitopsStageDuration: "Time a GitOps request took to reach each stage from the previous one (total: from the request to done)"
            case .gitopsResults: "GitOps requests by how they ended (succeeded, failed, rejected, superseded)"
            case .sleepReverted: "Sleeps an Argo CD Application scaled back up"
            }
        }

        var descriptor: MetricNameDescriptor {
            MetricNameDescriptor(metricName: rawValue, unitName: "", helpText: help)
        }
    }
}

/// Several sinks as one.
public struct HubEventFanOut: HubEventSink {
    public var sinks: [any HubEventSink]

    public init(_ sinks: [any HubEventSink]) {
        self.sinks = sinks
    }

    public func clusterHealthChanged(cluster: String, tier: ClusterConfiguration.Tier, health: ClusterHealth) async {
        for sink in sinks { await sink.clusterHealthChanged(cluster: cluster, tier: tier, health: health) }
    }

    public func operationStarted(_ operation: OperationRecord, cluster: ClusterConfiguration, unit namespace: String) async {
        for sink in sinks { await sink.operationStarted(operation, cluster: cluster, unit: namespace) }
    }

    public func operationFinished(_ operation: OperationRecord, cluster: ClusterConfiguration, namespace: String, timeZone: String?, result: OperationPartResult, duration: Duration) async {
        for sink in sinks { await sink.operationFinished(operation, cluster: cluster, namespace: namespace, timeZone: timeZone, result: result, duration: duration) }
    }

    public func notice(_ event: JSONValue, cluster: ClusterConfiguration, namespace: String?, key: String) async {
        for sink in sinks { await sink.notice(event, cluster: cluster, namespace: namespace, key: key) }
    }

    public func operationCompleted(_ operation: OperationRecord, cluster: ClusterConfiguration) async {
        for sink in sinks { await sink.operationCompleted(operation, cluster: cluster) }
    }

    public func evaluationFinished(cluster: String, duration: Duration) async {
        for sink in sinks { await sink.evaluationFinished(cluster: cluster, duration: duration) }
    }
}
