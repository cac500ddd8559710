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
