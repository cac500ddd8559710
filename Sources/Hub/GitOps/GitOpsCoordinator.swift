import Config
import Crypto
import Foundation
import GitOps
import JSON
import Logging
import Store
import Synchronization
import Transport

/// Drives each GitOps change from the request to the cluster: the SleepInfo manifest edited on a
/// branch, a merge request opened (or Sandman's open one for the namespace updated), merged at
/// once or after an approval, Argo CD asked to sync, the agent seeing the annotation and running
/// the request. Every step is recorded in the store before the next, so a restarted hub carries
/// on; each step can be repeated without harm. Changes of one namespace are worked on one at a
/// time, in order; namespaces in parallel.
public final class GitOpsCoordinator: Sendable {
    let settings: HubConfiguration.GitOps
    let store: Store
    /// Hub time: stage times shown to people, override times.
    let clock: any HubClock
    /// Real time: backoff, polling, stage timeouts (a warped demo clock must not rush GitLab).
    let now: @Sendable () -> Date
    let gitlab: GitLabClient
    let argocd: ArgoCDClient
    let metrics: HubMetrics
    let events: any HubEventSink
    let logger: Logger
    let clusters: [String: ClusterConfiguration]
    let agents: [String: ClusterAgent]
    private let http: HTTPClient
    private let hubURL: Mutex<String?>
    private let trigger: AsyncStream<Void>.Continuation
    private let triggers: AsyncStream<Void>
    private let timer = Mutex<Task<Void, Never>?>(nil)

    /// The annotation the agent reads.
    static let annotationKey = OverrideAnnotation.key

    init(
        configuration: HubConfiguration, store: Store, clock: any HubClock, metrics: HubMetrics, events: any HubEventSink,
        agents: [String: ClusterAgent], logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        settings = configuration.gitops
        self.store = store
        self.clock = clock
        self.now = now
        self.metrics = metrics
        self.events = events
        self.agents = agents
        self.clusters = Dictionary(configuration.clusters.map { ($0.name, $0) }) { $1 }
        var logger = logger
        logger[metadataKey: "component"] = "gitops"
        self.logger = logger
        http = HTTPClient(configuration: .init(timeout: .seconds(30), userAgent: "sandman-gitops"))
        let observe: RequestObserver = { service, call, result, seconds in
            metrics.recordGitOpsRequest(service: service, call: call, result: result, seconds: seconds)
        }
        gitlab = GitLabClient(url: settings.gitlab.url, project: settings.gitlab.project, token: settings.gitlab.token, http: http, observe: observe)
        argocd = ArgoCDClient(url: settings.argocd.url, token: settings.argocd.token, http: http, observe: observe)
        hubURL = Mutex(settings.hubURL)
        (triggers, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The hub's address for links in merge requests, once it listens (unless configured).
    func setHubURL(_ url: String) {
        hubURL.withLock { if $0 == nil { $0 = url } }
    }

    /// A link to an operation in the hub's API.
    func operationLink(_ id: String) -> String {
        (hubURL.withLock { $0 } ?? "") + "/api/v1/operations/\(id)"
    }

    /// Why GitOps requests cannot be made now (a token missing), nil when they can.
    var unavailableReason: String? {
        if settings.gitlab.token == nil { return "GitOps is enabled but no GitLab token is configured: set SANDMAN_GITLAB_TOKEN" }
        if settings.argocd.token == nil { return "GitOps is enabled but no Argo CD token is configured: set SANDMAN_ARGOCD_TOKEN" }
        return nil
    }

    /// Looks at the changes now (a request was accepted, a webhook arrived).
    func nudge() {
        trigger.yield()
    }

    // MARK: Running

    /// Works on changes until cancelled; expired annotations are cleaned up alongside.
    public func run() async {
        if let reason = unavailableReason { logger.error("GitOps cannot work", metadata: ["reason": "\(reason)"]) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.cleanupLoop() }
            await workLoop()
            group.cancelAll()
        }
        http.shutdown()
    }

    private func workLoop() async {
        trigger.yield()
        for await _ in triggers {
            let next = await pass()
            schedule(at: next)
        }
        timer.withLock { $0?.cancel() }
    }

    /// One pass over the changes that are due; returns when the next one is.
    func pass() async -> Date {
        let changes: [GitOpsChangeRecord]
        do {
            changes = try await store.gitopsChangesNeedingWork()
        } catch {
            logger.error("cannot read GitOps changes", metadata: ["error": "\(error)"])
            return now().addingTimeInterval(5)
        }
        let owned = await ownedClusters()
        let due = changes.filter { $0.nextAttemptAt <= now() && owned.contains($0.cluster) }
        let lanes = Dictionary(grouping: due) { "\($0.cluster)/\($0.namespace)" }
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes.values {
                group.addTask {
                    for change in lane.sorted(by: { $0.createdAt < $1.createdAt }) { await self.advance(change.id) }
                }
            }
        }
        let remaining = ((try? await store.gitopsChangesNeedingWork()) ?? []).filter { owned.contains($0.cluster) }
        let next = remaining.map(\.nextAttemptAt).min() ?? now().addingTimeInterval(60)
        // Other replicas sharing the store accept requests and webhooks for the clusters led here,
        // and leadership moves: look again soon.
        return store.isShared ? min(next, now().addingTimeInterval(Self.sharedStorePollInterval)) : next
    }

    /// How often a replica on a shared store looks for GitOps changes it has not been told of.
    static let sharedStorePollInterval: TimeInterval = 2

    /// The clusters whose GitOps changes this replica drives: those whose Lease it holds (all of
    /// them without leader election), so that replicas sharing a store never both drive one.
    func ownedClusters() async -> Set<String> {
        var owned: Set<String> = []
        for (name, agent) in agents where await agent.isOwnedHere() { owned.insert(name) }
        return owned
    }

    private func schedule(at deadline: Date) {
        let trigger = self.trigger
        let delay = max(0, deadline.timeIntervalSince(now()))
        let task = Task {
            try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            if !Task.isCancelled { trigger.yield() }
        }
        timer.withLock { previous in
            previous?.cancel()
            previous = task
        }
    }

    // MARK: Webhook

    /// A GitLab webhook call to `/gitlab/webhook`: checked (`X-Gitlab-Token` in constant time,
    /// merge request events only), then the changes of that merge request are looked at now.
    /// Refusals are audited. Returns the HTTP status and body.
    func receiveWebhook(_ body: Data, token: String?, event: String?) async -> (status: Int, body: JSONValue) {
        guard let secret = settings.gitlab.webhookSecret else {
            await auditWebhook("refused", detail: "no webhook secret configured (gitops.gitlab.webhookSecret)")
            return (404, ["error": "the GitLab webhook is not configured on this hub"])
        }
        guard let token, Self.constantTimeEquals(token, secret) else {
            await auditWebhook("rejected", detail: token == nil ? "no X-Gitlab-Token" : "X-Gitlab-Token does not match")
            return (401, ["error": "missing or wrong X-Gitlab-Token"])
        }
        guard event == "Merge Request Hook", let payload = try? JSONValue(parsing: body), payload["object_kind"] == "merge_request",
              let iid = payload[path: ["object_attributes", "iid"]]?.int
        else {
            await auditWebhook("rejected", detail: "unknown event \(event ?? "(no X-Gitlab-Event)"): only merge request events are handled")
            return (400, ["error": "only merge request events (X-Gitlab-Event: Merge Request Hook) are handled"])
        }
        let project = payload[path: ["project", "path_with_namespace"]]?.string
        let projectID = payload[path: ["project", "id"]]?.int.map(String.init)
        guard project == settings.gitlab.project || projectID == settings.gitlab.project else {
            return (200, ["handled": 0, "note": "not the configured project"])
        }
        let changes = ((try? await store.gitopsChanges(mergeRequestIID: Int(iid))) ?? []).filter(\.needsWork)
        let at = now()
        for change in changes {
            _ = try? await store.updateGitOpsChange(id: change.id) { $0.nextAttemptAt = at }
        }
        logger.debug("GitLab webhook", metadata: ["mergeRequest": "!\(iid)", "action": "\(payload[path: ["object_attributes", "action"]]?.string ?? "")", "changes": "\(changes.count)"])
        if !changes.isEmpty { nudge() }
        return (200, ["handled": .int(Int64(changes.count))])
    }

    private func auditWebhook(_ result: String, detail: String) async {
        logger.warning("GitLab webhook refused", metadata: ["reason": "\(detail)"])
        _ = try? await store.record(AuditEntry(at: clock.now, actor: "gitlab", source: "gitlab-webhook", action: "webhook", result: result, detail: detail))
    }

    /// Compares the digests, which swift-crypto compares in constant time, so that neither the
    /// content nor the length of the secret leaks through timing.
    static func constantTimeEquals(_ given: String, _ expected: String) -> Bool {
        SHA256.hash(data: Data(given.utf8)) == SHA256.hash(data: Data(expected.utf8))
    }
}
