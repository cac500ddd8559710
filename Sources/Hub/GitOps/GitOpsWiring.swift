import Config
import GitOps
import Kube
import Logging
import Store
import Transport

/// What each agent gets of GitOps: overrides from git when `gitops.enabled`, and a guard against
/// Argo CD's self-heal whenever Argo CD is configured (`gitops.argocd.url` and a token), GitOps
/// mode or not. The guards share one Argo CD client.
struct GitOpsWiring {
    let configuration: HubConfiguration
    let metrics: HubMetrics
    let argocd: ArgoCDClient?

    init(configuration: HubConfiguration, metrics: HubMetrics) {
        self.configuration = configuration
        self.metrics = metrics
        let settings = configuration.gitops.argocd
        argocd = settings.isConfigured
            ? ArgoCDClient(
                url: settings.url, token: settings.token, http: HTTPClient(configuration: .init(timeout: .seconds(30), userAgent: "sandman-gitops")),
                observe: { service, call, result, seconds in metrics.recordGitOpsRequest(service: service, call: call, result: result, seconds: seconds) }
            )
            : nil
    }

    func agentSupport(for cluster: ClusterConfiguration, client: KubeClient, store: Store, events: any HubEventSink, clock: any HubClock, logger: Logger) -> AgentGitOps? {
        guard configuration.gitops.enabled || argocd != nil else { return nil }
        var logger = logger
        logger[metadataKey: "cluster"] = "\(cluster.name)"
        let selfHeal = argocd.map { argocd in
            SelfHealGuard(cluster: cluster, argocd: argocd, client: client, store: store, events: events, metrics: metrics, clock: clock, logger: logger)
        }
        return AgentGitOps(routesOverrides: configuration.gitops.enabled, selfHeal: selfHeal)
    }
}
