import JSON
import Scheduling

/// What one policy or team plugin proposed for a namespace.
public struct PolicyDecision: Sendable, Hashable {
    public enum Action: String, Sendable, CaseIterable {
        /// The namespace should be asleep now.
        case sleep
        /// The namespace should be awake now.
        case wake
        /// Leave the namespace as it is, whatever the schedule says.
        case keep
    }

    public var action: Action
    public var reason: String
    /// The plugin that proposed it (`policy/default.lua`).
    public var plugin: String
    /// With `sleep`: a partial sleep keeping this many replicas (or this share) of each workload.
    public var downtimeReplicas: DowntimeReplicas?

    public init(action: Action, reason: String, plugin: String, downtimeReplicas: DowntimeReplicas? = nil) {
        self.action = action
        self.reason = reason
        self.plugin = plugin
        self.downtimeReplicas = downtimeReplicas
    }

    /// How later plugins see it, as `ctx.proposal`.
    var json: JSONValue {
        var json: JSONValue = ["action": .string(action.rawValue), "reason": .string(reason), "plugin": .string(plugin)]
        if let downtimeReplicas { json["downtimeReplicas"] = .string(downtimeReplicas.description) }
        return json
    }

    /// The decision in a hook's result: nil for no opinion, else `{action=..., reason=...}`.
    static func validate(_ value: JSONValue?, file: String) throws(PluginError) -> PolicyDecision? {
        guard let value, value != .null else { return nil }
        let shape = ResultShape(file: file)
        let members = try shape.object(value, at: "result", allowed: ["action", "reason", "downtimeReplicas"])
        guard members["action"] != nil else {
            throw shape.failure("result.action", "missing (expected sleep, wake or keep; return nil for no opinion)")
        }
        guard let action = try shape.choice(members, "action", at: "result", as: Action.self, what: "action") else {
            throw shape.failure("result.action", "missing")
        }
        let reason = try shape.string(members, "reason", at: "result") ?? ""
        var downtimeReplicas: DowntimeReplicas?
        if let value = members["downtimeReplicas"] {
            guard action == .sleep else { throw shape.failure("result.downtimeReplicas", "only with action sleep") }
            guard let text = value.int.map({ String($0) }) ?? value.string, let replicas = DowntimeReplicas(text) else {
                throw shape.failure("result.downtimeReplicas", "expected \(DowntimeReplicas.expected)")
            }
            downtimeReplicas = replicas
        }
        return PolicyDecision(
            action: action, reason: reason.isEmpty ? "\(action.rawValue) proposed by \(file)" : reason, plugin: file,
            downtimeReplicas: downtimeReplicas
        )
    }
}
