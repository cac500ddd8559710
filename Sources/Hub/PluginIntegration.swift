import Foundation
import JSON
import Scripting

/// The Lua policy plugins as the agents' advisor. Each namespace is asked about on its own: an
/// evaluation asks about `namespaceConcurrency` namespaces at a time, which keeps each plugin's
/// thread busy. (Gathering those questions into batches measured slower: the plugin waited
/// while each batch's answers went out and the next one formed; docs/benchmarks.md.)
public struct PluginAdvisor: PolicyAdvisor {
    let host: PluginHost

    public init(host: PluginHost) {
        self.host = host
    }

    public func advise(_ context: JSONValue, team: String?) async -> PolicyAdvice {
        PolicyAdvice(await host.decide(context, team: team))
    }

    /// One batch for each plugin: one hand-over to its thread instead of one per namespace.
    public func advise(_ questions: [(context: JSONValue, team: String?)]) async -> [PolicyAdvice] {
        await host.decide(questions.map { PolicyQuestion(context: $0.context, team: $0.team) }).map(PolicyAdvice.init)
    }
}

extension PolicyAdvice {
    init(_ outcome: PolicyOutcome) {
        guard let decision = outcome.decision else {
            self = .noOpinion
            return
        }
        self.init(
            action: Action(rawValue: decision.action.rawValue), reason: decision.reason, plugin: decision.plugin,
            downtimeReplicas: decision.downtimeReplicas
        )
    }
}

extension PluginHost: PluginStatusProvider {
    public func pluginStatuses() async -> JSONValue {
        ["plugins": .array(statuses().map(\.json))]
    }

    public func reloadPlugins() async -> JSONValue {
        await reload()
        return await pluginStatuses()
    }
}

extension PluginStatus {
    var json: JSONValue {
        [
            "file": .string(file), "kind": .string(kind.rawValue), "state": .string(state.rawValue),
            "version": version.map(JSONValue.string) ?? .null,
            "loadedAt": loadedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            "loadError": loadError.map { .string($0.description) } ?? .null,
            "disabledError": disabledError.map { .string($0.description) } ?? .null,
            "lastCallError": lastCallError.map { .string($0.description) } ?? .null,
            "failures": .int(Int64(failureCount)),
            "abandonedStates": .int(Int64(abandonedStates)),
        ]
    }
}

/// Counts plugin failures in the metrics from the host's statuses, so that every kind of
/// failure (a version that does not load, a decision, command or format call that fails or
/// times out) is counted once, whoever made the call.
struct PluginMetricsSync {
    let host: PluginHost
    let metrics: HubMetrics
    let interval: Duration

    func run() async {
        var seen: [String: (load: Int, call: Int)] = [:]
        while !Task.isCancelled {
            for status in host.statuses() {
                let before = seen[status.file] ?? (0, 0)
                metrics.recordPluginFailures(plugin: status.file, kind: "load", count: status.loadFailureCount - before.load)
                metrics.recordPluginFailures(plugin: status.file, kind: "call", count: status.failureCount - before.call)
                metrics.recordPluginState(
                    plugin: status.file, serving: status.state != .failed && status.state != .disabled, current: status.state == .loaded,
                    abandonedStates: status.abandonedStates
                )
                seen[status.file] = (status.loadFailureCount, status.failureCount)
            }
            metrics.recordAbandonedPluginStates(host.abandonedStateCount.running)
            try? await Task.sleep(for: interval)
        }
    }
}
