import Foundation
import JSON
import Scripting

/// The Lua policy plugins as the agents' advisor.
public struct PluginAdvisor: PolicyAdvisor {
    let host: PluginHost
    let metrics: HubMetrics?

    public init(host: PluginHost, metrics: HubMetrics? = nil) {
        self.host = host
        self.metrics = metrics
    }

    public func advise(_ context: JSONValue, team: String?) async -> PolicyAdvice {
        let outcome = await host.decide(context, team: team)
        for failure in outcome.failures {
            metrics?.recordPluginFailure(plugin: failure.file, kind: "decide")
        }
        guard let decision = outcome.decision else { return .noOpinion }
        return PolicyAdvice(action: PolicyAdvice.Action(rawValue: decision.action.rawValue), reason: decision.reason, plugin: decision.plugin)
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
            "file": .string(file), "kind": .string("\(kind)"), "state": .string(state.rawValue),
            "version": version.map(JSONValue.string) ?? .null,
            "loadedAt": loadedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            "loadError": loadError.map { .string($0.description) } ?? .null,
            "lastCallError": lastCallError.map { .string($0.description) } ?? .null,
            "failures": .int(Int64(failureCount)),
        ]
    }
}
