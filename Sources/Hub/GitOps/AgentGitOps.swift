/// What GitOps adds to one cluster's agent: whether the overrides of its GitOps-managed
/// namespaces come from git (the agent then reads their annotation and never writes it), and
/// the guard against Argo CD's self-heal (when Argo CD is configured).
public final class AgentGitOps: Sendable {
    let routesOverrides: Bool
    let selfHeal: SelfHealGuard?

    init(routesOverrides: Bool, selfHeal: SelfHealGuard?) {
        self.routesOverrides = routesOverrides
        self.selfHeal = selfHeal
    }
}
