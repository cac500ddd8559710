import Foundation
import JSON

/// Something a Slack command asks the hub to do. The hub authorizes and performs it; the plugin
/// only proposes.
public enum SlackAction: Sendable, Hashable {
    /// Wake `namespaces` of `cluster` (every namespace it manages with `all`, which must be asked
    /// for), and keep them awake for `duration` (until the next scheduled sleep when nil).
    case wake(cluster: String, namespaces: [String], all: Bool = false, duration: Duration?)
    /// Put `namespaces` of `cluster` (every managed one with `all`) to sleep now.
    case sleep(cluster: String, namespaces: [String], all: Bool = false)
    /// Record an exception to the schedule.
    case override(SlackOverride)
    /// Remove the active overrides of `namespaces` of `cluster` (every one of the cluster with `all`).
    case clearOverride(cluster: String, namespaces: [String], all: Bool = false)
    /// Report the state of one cluster, or of every cluster when nil.
    case status(cluster: String?)
    /// The user asked for help; nothing to do beyond the response.
    case help

    /// The `type` values a plugin may use.
    static let types = ["wake", "sleep", "override", "status", "help"]

    static func validate(_ value: JSONValue, at field: String, shape: ResultShape) throws(PluginError) -> SlackAction {
        guard case .object(let members) = value else {
            throw shape.failure(field, "expected an action table such as {type=\"wake\", cluster=\"staging\"}, got \(ResultShape.describe(value))")
        }
        guard let type = try shape.string(members, "type", at: field, required: true) else { throw shape.failure(field + ".type", "missing") }
        switch type {
        case "wake":
            let members = try shape.object(value, at: field, allowed: ["type", "cluster", "namespaces", "all", "duration"])
            return .wake(
                cluster: try shape.string(members, "cluster", at: field, required: true)!,
                namespaces: try shape.strings(members, "namespaces", at: field),
                all: try shape.bool(members, "all", at: field) ?? false,
                duration: try shape.duration(members, "duration", at: field)
            )
        case "sleep":
            let members = try shape.object(value, at: field, allowed: ["type", "cluster", "namespaces", "all"])
            return .sleep(
                cluster: try shape.string(members, "cluster", at: field, required: true)!,
                namespaces: try shape.strings(members, "namespaces", at: field),
                all: try shape.bool(members, "all", at: field) ?? false
            )
        case "override":
            let members = try shape.object(value, at: field, allowed: ["type", "cluster", "namespaces", "all", "kind", "duration", "until", "reason", "clear"])
            let cluster = try shape.string(members, "cluster", at: field, required: true)!
            let namespaces = try shape.strings(members, "namespaces", at: field)
            let all = try shape.bool(members, "all", at: field) ?? false
            if try shape.bool(members, "clear", at: field) == true {
                for key in ["kind", "duration", "until", "reason"] where members[key] != nil {
                    throw shape.failure(field + "." + key, "not allowed with clear=true")
                }
                return .clearOverride(cluster: cluster, namespaces: namespaces, all: all)
            }
            guard let kind = try shape.choice(members, "kind", at: field, as: SlackOverride.Kind.self, what: "override kind") else {
                throw shape.failure(field + ".kind", "missing (expected wake, sleep or skip, or clear=true)")
            }
            let duration = try shape.duration(members, "duration", at: field)
            let until = try shape.integer(members, "until", at: field)
            if duration != nil, until != nil { throw shape.failure(field + ".until", "give duration or until, not both") }
            return .override(SlackOverride(
                cluster: cluster, namespaces: namespaces, all: all, kind: kind, duration: duration,
                until: until.map { Date(timeIntervalSince1970: TimeInterval($0)) },
                reason: try shape.string(members, "reason", at: field)
            ))
        case "status":
            let members = try shape.object(value, at: field, allowed: ["type", "cluster"])
            return .status(cluster: try shape.string(members, "cluster", at: field))
        case "help":
            _ = try shape.object(value, at: field, allowed: ["type"])
            return .help
        default:
            throw shape.failure(field + ".type", "unknown action \"\(type)\" (expected \(ResultShape.list(types)))")
        }
    }
}

/// An exception to the schedule proposed from Slack (`/k8s-override`).
public struct SlackOverride: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Keep awake.
        case wake
        /// Keep asleep.
        case sleep
        /// Skip the next scheduled transition.
        case skip
    }

    public var cluster: String
    public var namespaces: [String]
    /// The whole cluster (asked for explicitly) rather than `namespaces`.
    public var all: Bool
    public var kind: Kind
    /// How long it lasts from now; nil with `until` nil means until cleared.
    public var duration: Duration?
    public var until: Date?
    public var reason: String?

    public init(cluster: String, namespaces: [String], all: Bool = false, kind: Kind, duration: Duration?, until: Date?, reason: String?) {
        self.cluster = cluster
        self.namespaces = namespaces
        self.all = all
        self.kind = kind
        self.duration = duration
        self.until = until
        self.reason = reason
    }
}
