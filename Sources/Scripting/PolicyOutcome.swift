import JSON

/// The combined answer of the policy plugins, then the team's plugin, for one namespace.
public struct PolicyOutcome: Sendable, Equatable {
    /// The last opinion given, in plugin order (policies by file name, then the team's file); nil
    /// when no plugin had one, in which case the schedule stands.
    public var decision: PolicyDecision?
    /// Every opinion given, in order.
    public var opinions: [PolicyDecision]
    /// The plugins asked, in order.
    public var consulted: [String]
    /// Plugins that failed (error, wrong result, timeout); each counts as "no opinion".
    public var failures: [PluginError]

    public init(decision: PolicyDecision? = nil, opinions: [PolicyDecision] = [], consulted: [String] = [], failures: [PluginError] = []) {
        self.decision = decision
        self.opinions = opinions
        self.consulted = consulted
        self.failures = failures
    }
}

/// One namespace to ask the policy plugins about: its context (docs/plugins.md) and its team.
public struct PolicyQuestion: Sendable {
    public var context: JSONValue
    public var team: String?

    public init(context: JSONValue, team: String?) {
        self.context = context
        self.team = team
    }
}

/// The questions of one ``PluginHost/decide(_:)`` and their outcomes so far, plugin by plugin.
struct PolicyRound {
    private var contexts: [JSONValue]
    var outcomes: [PolicyOutcome]

    init(_ questions: [PolicyQuestion]) {
        contexts = questions.map(\.context)
        outcomes = Array(repeating: PolicyOutcome(), count: questions.count)
    }

    var indices: [Int] { Array(contexts.indices) }

    /// The context of question `index` for the next plugin, which sees the decision so far as
    /// `ctx.proposal`; records that the plugin was consulted.
    mutating func context(asking index: Int, plugin file: String) -> JSONValue {
        if let decision = outcomes[index].decision { contexts[index]["proposal"] = decision.json }
        outcomes[index].consulted.append(file)
        return contexts[index]
    }
}
