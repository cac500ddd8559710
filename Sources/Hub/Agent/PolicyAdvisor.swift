import JSON
import Scheduling

/// Gives the plugins their say before the hub acts on a namespace. The hub decides and
/// authorizes; an advisor only proposes, and its failure means "no opinion".
public protocol PolicyAdvisor: Sendable {
    /// The advice for `context` (see docs/plugins.md for its fields).
    func advise(_ context: JSONValue, team: String?) async -> PolicyAdvice
    /// The advice for many namespaces at once, in order: what an evaluation asks.
    func advise(_ questions: [(context: JSONValue, team: String?)]) async -> [PolicyAdvice]
}

extension PolicyAdvisor {
    public func advise(_ questions: [(context: JSONValue, team: String?)]) async -> [PolicyAdvice] {
        var advice: [PolicyAdvice] = []
        for question in questions { advice.append(await advise(question.context, team: question.team)) }
        return advice
    }
}

public struct PolicyAdvice: Sendable, Equatable {
    public enum Action: String, Sendable {
        case sleep, wake, keep
    }

    /// Nil: no opinion, the schedule decides.
    public var action: Action?
    public var reason: String?
    /// The plugin that decided, for the audit.
    public var plugin: String?
    /// With `sleep`: a partial sleep instead of the schedule's kind of sleep.
    public var downtimeReplicas: DowntimeReplicas?

    public init(action: Action? = nil, reason: String? = nil, plugin: String? = nil, downtimeReplicas: DowntimeReplicas? = nil) {
        self.action = action
        self.reason = reason
        self.plugin = plugin
        self.downtimeReplicas = downtimeReplicas
    }

    public static let noOpinion = PolicyAdvice()
}

/// An advisor without opinions: the schedules alone decide.
public struct ScheduleOnlyAdvisor: PolicyAdvisor {
    public init() {}

    public func advise(_ context: JSONValue, team: String?) async -> PolicyAdvice {
        .noOpinion
    }
}
