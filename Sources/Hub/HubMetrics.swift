import Config
import CoreMetrics
import Foundation
import JSON
import Prometheus
import Sleep
import Store

/// The hub's Prometheus metrics, in a registry of its own (so that several hubs in one test
/// process do not mix), with the seed's kube-green metric names.
public final class HubMetrics: Sendable, HubEventSink {
    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    public init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// The text exposition format served at `/metrics`.
    public func exposition() -> String {
        registry.emitToString()
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }

    public func clusterHealthChanged(cluster: String, tier: ClusterConfiguration.Tier, health: ClusterHealth) async {
        Gauge(label: "sandman_cluster_ready", dimensions: [("cluster", cluster), ("environment", tier.rawValue)], factory: factory).record(health.ready ? 1 : 0)
    }

    public func operationStarted(_ operation: OperationRecord, cluster: ClusterConfiguration, unit namespace: String) async {}

    public func operationFinished(_ operation: OperationRecord, cluster: ClusterConfiguration, namespace: String, timeZone: String?, outcome: SleepExecutor.Outcome?, duration: Duration) async {
        let environment = cluster.tier.rawValue
        let status = operation.state == .succeeded ? "success" : operation.state.rawValue
        counter("kube_green_sleep_operations_total", [("environment", environment), ("operation", operation.action), ("status", status)]).increment()
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        CoreMetrics.Timer(label: "sandman_operation_duration_seconds", dimensions: [("cluster", cluster.name), ("operation", operation.action)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
        guard let outcome else { return }
        for ref in outcome.done {
            counter("kube_green_resources_scaled_total", [("environment", environment), ("resource_type", ref.groupKind), ("namespace", namespace)]).increment()
        }
    }

    /// Estimated savings per environment, refreshed by the hub.
    public func recordSavings(environment: String, period: String, dollars: Double) {
        Gauge(label: "kube_green_cost_savings_estimate_dollars", dimensions: [("environment", environment), ("time_period", period)], factory: factory).record(dollars)
    }

    public func recordHTTPRequest(method: String, route: String, status: Int, seconds: Double) {
        counter("sandman_http_requests_total", [("method", method), ("route", route), ("status", String(status))]).increment()
        CoreMetrics.Timer(label: "sandman_http_request_duration_seconds", dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// `kind`: `load` (a version of the file that does not compile or validate) or `call`.
    public func recordPluginFailures(plugin: String, kind: String, count: Int) {
        guard count > 0 else { return }
        counter("sandman_plugin_failures_total", [("plugin", plugin), ("kind", kind)]).increment(by: Int64(count))
    }

    /// 1 while some version of the plugin serves calls; `current` 1 when it is the file on disk.
    public func recordPluginState(plugin: String, serving: Bool, current: Bool) {
        Gauge(label: "sandman_plugin_serving", dimensions: [("plugin", plugin)], factory: factory).record(serving ? 1 : 0)
        Gauge(label: "sandman_plugin_current", dimensions: [("plugin", plugin)], factory: factory).record(current ? 1 : 0)
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

    public func operationFinished(_ operation: OperationRecord, cluster: ClusterConfiguration, namespace: String, timeZone: String?, outcome: SleepExecutor.Outcome?, duration: Duration) async {
        for sink in sinks { await sink.operationFinished(operation, cluster: cluster, namespace: namespace, timeZone: timeZone, outcome: outcome, duration: duration) }
    }

    public func notice(_ event: JSONValue, cluster: ClusterConfiguration, namespace: String?, key: String) async {
        for sink in sinks { await sink.notice(event, cluster: cluster, namespace: namespace, key: key) }
    }
}
