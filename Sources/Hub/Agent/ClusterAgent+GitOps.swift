import Crypto
import Foundation
import GitOps
import Kube
import Scheduling
import Sleep
import Store

/// The agent's side of GitOps: which namespaces change through git, the override annotation
/// read from git (never written: Argo CD would undo it), the moment a request's change reaches
/// the cluster, and Argo CD's self-heal around sleeps and wakes.
extension ClusterAgent {
    /// Whether a unit's overrides come from git: GitOps is on, the namespace has a SleepInfo (the
    /// manifest to edit), and it matches the cluster's `gitops.namespaces` or (with
    /// `gitops.detect`) its SleepInfo is tracked by an Argo CD Application.
    func isGitOpsManaged(_ unit: ManagedUnit) -> Bool {
        guard gitops?.routesOverrides == true, let sleepInfo = unit.sleepInfo else { return false }
        return configuration.gitops.namespaces.matchesAny(unit.namespace)
            || (configuration.gitops.detect && SelfHealGuard.trackingApplication(sleepInfo.object) != nil)
    }

    /// The GitOps-managed namespaces the watches show now.
    public func gitopsManagedNamespaces() -> Set<String> {
        Set(units().filter(isGitOpsManaged).map(\.namespace))
    }

    /// The SleepInfos of a namespace, by name.
    func sleepInfoNames(in namespace: String) -> [String] {
        sleepInfos.values.filter { $0.namespace == namespace }.map(\.name).sorted()
    }

    /// The override annotations of GitOps-managed SleepInfos, with whether their namespace is asleep.
    func gitopsAnnotations() -> [(namespace: String, text: String, asleep: Bool)] {
        units().filter(isGitOpsManaged).compactMap { unit in
            guard let text = unit.sleepInfo?.metadata.annotations[OverrideAnnotation.key] else { return nil }
            return (unit.namespace, text, statuses[unit.key]?.asleep ?? true)
        }
    }

    /// The overrides an evaluation of `unit` plans with: a GitOps-managed namespace follows only
    /// its own, those that came through git (a cluster's override has no manifest).
    func overrides(for unit: ManagedUnit, among overrides: [OverrideRecord]) -> [OverrideRecord] {
        let gitops = isGitOpsManaged(unit)
        return overrides.filter { ($0.namespace == nil && !gitops) || $0.namespace == unit.namespace }
    }

    // MARK: The annotation from git

    /// Reads the annotation of a GitOps-managed SleepInfo: a request's change that has arrived
    /// takes effect; an annotation the hub does not know (a merge request a person made) is taken
    /// in under its own id; the hub's own, pending or over, is left as it is. Nothing is written.
    func mirrorFromGit(_ sleepInfo: SleepInfo, namespace: String, now: Date) async {
        let current = sleepInfo.metadata.annotations[OverrideAnnotation.key]
        do {
            let found = try current.map { text throws(OverrideAnnotation.AnnotationError) in try OverrideAnnotation(parsing: text) }
            let changes = try await store.gitopsChanges(cluster: name, namespace: namespace)
            for change in changes where change.state == .open && change.arrivedAt == nil && change.stage >= .merged {
                let arrived = change.removal ? change.stage >= .synced && found?.id != change.overrideId : found?.id == change.overrideId
                if arrived { try await arrive(change, now: now) }
            }
            guard let found, let current else { return }
            if let id = found.id, changes.contains(where: { $0.overrideId == id }) { return }
            let id = found.id ?? Self.derivedID(current)
            if try await store.override(id: id) != nil { return }
            if let until = found.until, until <= now { return }
            try await adoptFromGit(found, id: id, namespace: namespace, sleepInfo: sleepInfo, now: now)
        } catch let error as OverrideAnnotation.AnnotationError {
            await reportInvalid(sleepInfo, problem: "annotation \(OverrideAnnotation.key): \(error)")
        } catch {
            logger.warning("cannot read the override annotation from git", metadata: ["namespace": "\(namespace)", "error": "\(error)"])
        }
    }

    /// A change reached the cluster; once all of its request's have, the request takes effect.
    private func arrive(_ change: GitOpsChangeRecord, now: Date) async throws {
        let arrival = try await store.arriveGitOps(changeId: change.id, at: now)
        logger.info("GitOps change seen in the cluster", metadata: ["namespace": "\(change.namespace)", "operation": "\(change.operationId)"])
        guard let operation = arrival.operation else { return }
        for old in arrival.replaced {
            try await store.record(AuditEntry(
                at: now, actor: operation.actor, source: "gitops", action: "override-superseded", cluster: name, namespace: old.namespace,
                target: old.id, result: "ok", detail: "\(old.kind.rawValue) override \(old.id) replaced by \(old.replacedBy ?? "?")"
            ))
        }
        for cleared in arrival.cleared {
            try await store.record(AuditEntry(
                at: now, actor: operation.actor, source: "gitops", action: "override-delete", cluster: name, namespace: cleared.namespace,
                target: cleared.id, result: "ok", detail: "cleared through git (operation \(operation.id))"
            ))
        }
        wake()
    }

    /// An override written in git by a person: stored under the annotation's id (or one derived
    /// from its text), so that the next evaluations know it.
    private func adoptFromGit(_ found: OverrideAnnotation, id: String, namespace: String, sleepInfo: SleepInfo, now: Date) async throws {
        let record = OverrideRecord(
            id: id, cluster: name, namespace: namespace, kind: found.kind, until: found.kind == .skip ? nil : found.until, reason: found.reason,
            actor: found.actor ?? "git", createdAt: min(found.createdAt ?? now, now)
        )
        let replaced = try await store.place([record], at: now)
        try await store.record(AuditEntry(
            at: now, actor: record.actor, source: "gitops", action: "override-\(record.kind.rawValue)", cluster: name, namespace: namespace,
            target: sleepInfo.name, result: "ok", detail: record.reason
        ))
        for old in replaced {
            try await store.record(AuditEntry(
                at: now, actor: record.actor, source: "gitops", action: "override-superseded", cluster: name, namespace: old.namespace,
                target: old.id, result: "ok", detail: "\(old.kind.rawValue) override \(old.id) replaced by \(record.id)"
            ))
        }
        logger.notice("override taken in from git", metadata: ["namespace": "\(namespace)", "kind": "\(record.kind.rawValue)", "actor": "\(record.actor)"])
        wake()
    }

    /// The id of an annotation written without one: the same text gives the same id.
    static func derivedID(_ text: String) -> String {
        "git-" + SHA256.hash(data: Data(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Self-heal

    /// Before a sleep (`SelfHealGuard.beforeSleep`); the Applications still in conflict.
    func selfHealBeforeSleep(_ target: SleepExecutor.Target, operation: OperationRecord) async -> [SelfHealGuard.Finding] {
        await gitops?.selfHeal?.beforeSleep(target, operation: operation) ?? []
    }

    /// After a sleep or a wake.
    func selfHealAfter(_ action: Transition.Kind, _ target: SleepExecutor.Target, operation: OperationRecord, conflicting: [SelfHealGuard.Finding]) async {
        guard let selfHeal = gitops?.selfHeal else { return }
        if action == .sleep {
            await selfHeal.afterSleep(target, operation: operation, conflicting: conflicting)
        } else {
            await selfHeal.afterWake(target)
        }
    }

    /// At the start of an evaluation: pauses owed a restore, watched sleeps.
    func selfHealReconcile() async {
        await gitops?.selfHeal?.reconcile()
    }

    /// The self-heal problem of each unit, where it has no other, after the conflicts are refreshed.
    func annotateSelfHealProblems(_ results: inout [UnitResult]) async {
        guard let selfHeal = gitops?.selfHeal else { return }
        for index in results.indices where results[index].status.problem == nil {
            let status = results[index].status
            await selfHeal.refreshConflicts(namespace: status.namespace, unit: status.unit, asleep: status.asleep == true)
            results[index].status.problem = await selfHeal.problem(namespace: status.namespace, unit: status.unit)
        }
    }
}
