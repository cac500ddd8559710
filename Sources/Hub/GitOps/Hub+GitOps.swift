import Config
import Foundation
import GitOps
import Store

/// Requests for GitOps-managed namespaces: instead of an override stored at once, a change to
/// each namespace's SleepInfo manifest in git that takes effect when the agent sees it in the
/// cluster (`GitOpsCoordinator` drives it there).
extension Hub {
    /// The namespaces of a request that go through git, or nil when it goes direct (GitOps off,
    /// or none of them GitOps-managed). A request over GitOps-managed and direct namespaces
    /// together is refused: one part would wait for a merge the other does not.
    func gitopsNamespaces(cluster: String, namespaces: [String], agent: ClusterAgent) async throws(HubError) -> [String]? {
        guard gitops != nil else { return nil }
        let managed = await agent.gitopsManagedNamespaces()
        guard !managed.isEmpty else { return nil }
        let asked = namespaces.isEmpty ? (await agent.managedNamespaces() ?? []) : namespaces
        let throughGit = asked.filter(managed.contains)
        let direct = asked.filter { !managed.contains($0) }
        if throughGit.isEmpty { return nil }
        guard direct.isEmpty else {
            throw .badRequest(
                "cluster \(cluster): \(throughGit.joined(separator: ", ")) change through GitLab merge requests (GitOps) and \(direct.joined(separator: ", ")) directly; ask for each group on its own",
                field: "namespaces"
            )
        }
        return throughGit
    }

    /// Accepts a GitOps request: a waiting operation and one change per namespace, stored
    /// together (a newer request replaces an open one of the same namespace that is not merged
    /// yet). `until` gives each namespace's end; `removing` makes it clear that override instead.
    func requestThroughGit(
        _ action: String, kind: OverrideRecord.Kind, cluster: ClusterConfiguration, namespaces: [String], reason: String?,
        by principal: Principal, source: String, removing: OverrideRecord? = nil, until: (String) async -> Date?
    ) async throws(HubError) -> (operation: OperationRecord, changes: [GitOpsChangeRecord]) {
        guard let gitops else { throw .internal("GitOps is not enabled") }
        if let reason = gitops.unavailableReason {
            await audit(principal, source: source, action: action, cluster: cluster.name, namespaces: namespaces, result: "failed", detail: reason)
            throw HubError(kind: .unavailable, message: reason)
        }
        let now = clock.now
        var operation = OperationRecord(
            cluster: cluster.name, namespaces: namespaces, action: action, source: source, actor: principal.name, reason: reason, state: .waiting,
            createdAt: now
        )
        operation.addStage("requested", namespace: nil, detail: "through a GitLab merge request", at: now)
        let started = gitops.now()
        var changes: [GitOpsChangeRecord] = []
        for namespace in namespaces {
            let override = OverrideRecord(
                id: removing?.id ?? UUID().uuidString.lowercased(), cluster: cluster.name, namespace: namespace, kind: kind,
                until: kind == .skip ? nil : await until(namespace), reason: reason, actor: principal.name, createdAt: now, operationId: operation.id
            )
            var change = GitOpsChangeRecord(
                operationId: operation.id, cluster: cluster.name, namespace: namespace, overrideId: override.id, removal: removing != nil,
                kind: kind, until: override.until, reason: reason, actor: principal.name,
                annotation: removing == nil ? OverrideAnnotation(override).text : nil,
                path: NameTemplate(configuration.gitops.gitlab.pathTemplate).render(cluster: cluster.name, namespace: namespace),
                application: NameTemplate(configuration.gitops.argocd.applicationTemplate).render(cluster: cluster.name, namespace: namespace),
                needsApproval: cluster.tier == .production, createdAt: now
            )
            change.nextAttemptAt = started
            change.stageStartedAt = started
            change.updatedAt = started
            changes.append(change)
        }
        let superseded: [OperationRecord]
        do {
            superseded = try await store.acceptGitOps(operation, changes: changes, at: now)
        } catch {
            throw .internal("\(error)")
        }
        await audit(principal, source: source, action: action, cluster: cluster.name, namespaces: namespaces, result: "accepted", detail: [reason, "through a GitLab merge request"].compactMap { $0 }.joined(separator: "; "))
        for old in superseded {
            await audit(principal, source: source, action: old.action, cluster: cluster.name, namespaces: old.namespaces, result: "superseded", detail: "operation \(old.id) replaced by \(operation.id) before its merge request was merged")
        }
        gitops.nudge()
        await store.announceWork(cluster: cluster.name)
        return (operation, changes)
    }

    /// The GitOps operation that will put an override in force (or clear it), while it is on its way.
    public func gitopsOperation(carrying overrideID: String) async -> OperationRecord? {
        guard gitops != nil, let change = try? await store.gitopsChange(overrideId: overrideID), change.state == .open else { return nil }
        return try? await store.operation(id: change.operationId)
    }
}
