import Config
import Foundation
import GitOps
import JSON
import Kube
import Logging
import Sleep
import Store

/// Argo CD's self-heal and the sleeps of one cluster. Before a sleep it finds the Applications
/// tracking the namespace's workloads that would scale them back up, and either warns (a Warning
/// event, a `conflict` problem, one Slack notification) or turns their self-heal off, having
/// recorded their sync policy first (`argoPause` rows and an annotation on the Application), so
/// that a hub killed at any point puts it back. After the wake, or at the next evaluation of a
/// hub that restarts, the policy is restored exactly and the Application synced. A sleep undone
/// anyway is reported as "reverted by Argo CD application X" and its operation not counted as
/// a success.
actor SelfHealGuard {
    /// Annotation on a paused Application holding its sync policy from before the pause.
    static let pausedAnnotation = "sandman.dev/self-heal-paused"

    struct Settings: Sendable {
        /// How long after a sleep its workloads are watched for a revert (real time).
        var revertWindow: TimeInterval = 120
        /// How often the watch looks, and a failed restore is tried again (real time).
        var recheckInterval: Duration = .seconds(2)
        /// How long a conflict found stays shown before the Applications are read again (real time).
        var conflictCheckInterval: TimeInterval = 300
    }

    /// One Application tracking workloads of a namespace, and what it would do to a sleep.
    struct Finding: Sendable {
        var application: String
        var verdict: SelfHealCheck.Verdict
        var objects: [(kind: ResourceKind, name: String)]
    }

    /// Workloads slept while an Application in conflict tracks them.
    private struct RevertWatch {
        var operationId: String
        var namespace: String
        var unit: String
        var spec: SleepSpec
        var involved: JSONValue
        var objects: [(kind: ResourceKind, name: String, application: String)]
        var until: Date
    }

    let cluster: ClusterConfiguration
    let argocd: ArgoCDClient
    let client: KubeClient
    let store: Store
    let events: any HubEventSink
    let metrics: HubMetrics
    let clock: any HubClock
    let settings: Settings
    let logger: Logger
    /// Real time, for the windows above.
    let now: @Sendable () -> Date

    private var conflicts: [String: (checkedAt: Date, problem: String?)] = [:]
    private var reverted: [String: String] = [:]
    private var watches: [String: RevertWatch] = [:]
    /// Pauses whose restore failed: tried again at the next evaluation.
    private var restoreBacklog = false

    init(
        cluster: ClusterConfiguration, argocd: ArgoCDClient, client: KubeClient, store: Store, events: any HubEventSink, metrics: HubMetrics,
        clock: any HubClock, settings: Settings = .init(), logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.cluster = cluster
        self.argocd = argocd
        self.client = client
        self.store = store
        self.events = events
        self.metrics = metrics
        self.clock = clock
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    var mode: ClusterConfiguration.GitOps.SelfHeal { cluster.gitops.selfHeal }

    /// Asks the agent to evaluate while something is being watched or a restore is owed.
    func run(wake: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: settings.recheckInterval)
            } catch {
                return
            }
            if !watches.isEmpty || restoreBacklog { await wake() }
        }
    }

    /// What the namespace status shows: a sleep undone, or a conflict found.
    func problem(namespace: String, unit: String) -> String? {
        let key = "\(namespace)/\(unit)"
        return reverted[key] ?? conflicts[key]?.problem
    }

    // MARK: Sleep and wake

    /// Before a sleep: warns of the Applications that would undo it, or pauses their self-heal.
    /// Returns the Applications still in conflict (warned, or not paused), to watch after the sleep.
    func beforeSleep(_ target: SleepExecutor.Target, operation: OperationRecord) async -> [Finding] {
        let key = "\(target.namespace)/\(target.name)"
        reverted[key] = nil
        let findings: [Finding]
        do {
            findings = try await inspect(target.namespace).filter(\.verdict.conflict)
        } catch {
            logger.warning("cannot check Argo CD self-heal before a sleep", metadata: ["namespace": "\(target.namespace)", "error": "\(error)"])
            return []
        }
        conflicts[key] = (now(), Self.problem(findings, mode: mode))
        guard !findings.isEmpty else { return [] }
        let involved = involvedObject(target)
        switch mode {
        case .warn:
            for finding in findings {
                await event(involved, type: "Warning", reason: "SelfHealConflict", message: "Argo CD application \(finding.application) will undo this sleep: \(finding.verdict.explanation); see docs/gitops.md (gitops.argocd.selfHeal: pause, or ignoreDifferences)")
                await events.notice(
                    ["type": "selfheal_conflict", "application": .string(finding.application), "explanation": .string(finding.verdict.explanation), "mode": "warn"],
                    cluster: cluster, namespace: target.namespace, key: "selfheal:\(cluster.name)/\(target.namespace)/\(finding.application)"
                )
            }
            return findings
        case .pause:
            var unpaused: [Finding] = []
            for finding in findings {
                do {
                    try await pause(finding.application, namespace: target.namespace, unit: target.name, operation: operation)
                    await event(involved, type: "Normal", reason: "SelfHealPaused", message: "Argo CD application \(finding.application): self-heal paused while the namespace sleeps")
                } catch {
                    unpaused.append(finding)
                    logger.warning("cannot pause Argo CD self-heal", metadata: ["application": "\(finding.application)", "error": "\(error)"])
                    await event(involved, type: "Warning", reason: "SelfHealPauseFailed", message: "could not pause self-heal of Argo CD application \(finding.application): \(error)")
                }
            }
            conflicts[key] = (now(), Self.problem(unpaused, mode: .warn))
            return unpaused
        }
    }

    /// After a sleep: watches the workloads the Applications still in conflict track.
    func afterSleep(_ target: SleepExecutor.Target, operation: OperationRecord, conflicting: [Finding]) {
        let objects = conflicting.flatMap { finding in finding.objects.map { ($0.kind, $0.name, finding.application) } }
        guard !objects.isEmpty else { return }
        watches["\(target.namespace)/\(target.name)"] = RevertWatch(
            operationId: operation.id, namespace: target.namespace, unit: target.name, spec: target.spec, involved: involvedObject(target),
            objects: objects, until: now().addingTimeInterval(settings.revertWindow)
        )
    }

    /// After a wake: the namespace's pauses are released, and an Application no other sleeping
    /// namespace holds gets its sync policy back.
    func afterWake(_ target: SleepExecutor.Target) async {
        let key = "\(target.namespace)/\(target.name)"
        watches[key] = nil
        reverted[key] = nil
        await release(namespace: target.namespace, unit: target.name)
    }

    // MARK: Evaluations

    /// At each evaluation: pauses of namespaces that are awake with no sleep under way are
    /// released (a hub killed between a wake and the restore, or between a pause and a sleep
    /// that did not happen), watched workloads are checked for a revert.
    func reconcile() async {
        restoreBacklog = false
        do {
            let pending = try await store.unfinishedOperations(cluster: cluster.name).filter { $0.action == "sleep" }
            for row in try await store.pauses(cluster: cluster.name) {
                if pending.contains(where: { $0.namespaces.isEmpty || $0.namespaces.contains(row.namespace) }) { continue }
                if try await isAsleep(namespace: row.namespace, unit: row.unit) { continue }
                logger.notice("releasing an Argo CD pause of a namespace that is awake", metadata: ["application": "\(row.application)", "namespace": "\(row.namespace)"])
                await release(namespace: row.namespace, unit: row.unit)
            }
        } catch {
            restoreBacklog = true
            logger.warning("cannot check Argo CD pauses", metadata: ["error": "\(error)"])
        }
        for (key, watch) in watches {
            if now() > watch.until {
                watches[key] = nil
                continue
            }
            await check(watch, key: key)
        }
    }

    /// Reads the Applications of a namespace again when the last look is old (for the problem shown).
    func refreshConflicts(namespace: String, unit: String, asleep: Bool) async {
        let key = "\(namespace)/\(unit)"
        if let last = conflicts[key], now().timeIntervalSince(last.checkedAt) < settings.conflictCheckInterval { return }
        // While asleep in pause mode the Applications are paused on purpose: the verdict at the sleep stands.
        if asleep, mode == .pause, conflicts[key] != nil { return }
        do {
            let findings = try await inspect(namespace).filter(\.verdict.conflict)
            conflicts[key] = (now(), mode == .pause ? nil : Self.problem(findings, mode: mode))
        } catch {
            conflicts[key] = (now(), nil)
            logger.debug("cannot read Argo CD applications", metadata: ["namespace": "\(namespace)", "error": "\(error)"])
        }
    }

    // MARK: Inspection

    /// The Applications tracking the Deployments and StatefulSets of a namespace, each with its
    /// verdict (on the policy from before a pause of ours). Names that are no Application (a Helm
    /// release's instance label) are skipped.
    func inspect(_ namespace: String) async throws -> [Finding] {
        var tracked: [String: [(kind: ResourceKind, name: String)]] = [:]
        for kind in [ResourceKind.deployment, .statefulSet] {
            do {
                for item in try await client.list(kind, namespace: namespace).items {
                    guard let application = Self.trackingApplication(item), let name = item[path: ["metadata", "name"]]?.string else { continue }
                    tracked[application, default: []].append((kind, name))
                }
            } catch let error as KubeError where error.isNotFound {
                continue
            }
        }
        var findings: [Finding] = []
        for (name, objects) in tracked.sorted(by: { $0.key < $1.key }) {
            guard var application = try await application(name, unless: [.notFound, .forbidden]) else { continue }
            if let original = application.annotations[Self.pausedAnnotation], let policy = try? JSONValue(parsing: Data(original.utf8)) {
                application.object[path: ["spec", "syncPolicy"]] = policy
            }
            let verdicts = objects.map { SelfHealCheck.verdict(application, group: $0.kind.group, kind: $0.kind.kind, namespace: namespace, name: $0.name) }
            findings.append(Finding(application: name, verdict: verdicts.first { $0.conflict } ?? verdicts[0], objects: objects))
        }
        return findings
    }

    /// An Application, or nil when Argo CD answers with one of `reasons` (it does not exist, or
    /// is none we may read).
    private func application(_ name: String, unless reasons: [GitOpsError.Reason]) async throws(GitOpsError) -> Application? {
        do {
            return try await argocd.application(name)
        } catch where reasons.contains(error.reason) {
            logger.debug("no readable Argo CD application by this name", metadata: ["application": "\(name)", "error": "\(error)"])
            return nil
        }
    }

    /// The Application tracking an object: its `app.kubernetes.io/instance` label, or the name in
    /// its `argocd.argoproj.io/tracking-id` annotation (`<app>:<group>/<kind>:<namespace>/<name>`,
    /// the app prefixed `<namespace>_` for Applications outside Argo CD's namespace).
    static func trackingApplication(_ object: JSONValue) -> String? {
        if let id = object[path: ["metadata", "annotations", "argocd.argoproj.io/tracking-id"]]?.string,
           let name = id.split(separator: ":").first.map(String.init), !name.isEmpty {
            return name.split(separator: "_").last.map(String.init)
        }
        if let label = object[path: ["metadata", "labels", "app.kubernetes.io/instance"]]?.string, !label.isEmpty { return label }
        return nil
    }

    static func problem(_ findings: [Finding], mode: ClusterConfiguration.GitOps.SelfHeal) -> String? {
        guard !findings.isEmpty else { return nil }
        return "conflict: " + findings.map { "Argo CD application \($0.application) will undo sleeps (\($0.verdict.explanation))" }.joined(separator: "; ")
    }

    // MARK: Pause and restore

    /// Records the Application's sync policy (the one from before any pause of ours), then
    /// turns its self-heal off and keeps that policy on it as an annotation.
    private func pause(_ name: String, namespace: String, unit: String, operation: OperationRecord) async throws {
        let current = try await argocd.application(name)
        let original = current.annotations[Self.pausedAnnotation] ?? current.syncPolicy.serialized()
        let policy = try await store.recordPause(ArgoPauseRecord(
            cluster: cluster.name, application: name, namespace: namespace, unit: unit, syncPolicy: original, operationId: operation.id, pausedAt: clock.now
        ))
        guard current.syncPolicy[path: ["automated", "selfHeal"]]?.bool == true || current.annotations[Self.pausedAnnotation] == nil else { return }
        try await argocd.patch(name, [
            "metadata": ["annotations": [Self.pausedAnnotation: .string(policy)]],
            "spec": ["syncPolicy": ["automated": ["selfHeal": false]]],
        ], type: .merge)
        logger.info("Argo CD self-heal paused", metadata: ["application": "\(name)", "namespace": "\(namespace)"])
    }

    /// Removes the namespace's holds; an Application held by nobody else gets its policy back first.
    private func release(namespace: String, unit: String) async {
        do {
            for row in try await store.pauses(cluster: cluster.name) where row.namespace == namespace && row.unit == unit {
                let holders = try await store.pauses(cluster: cluster.name, application: row.application)
                if holders.allSatisfy({ $0.namespace == namespace && $0.unit == unit }) {
                    try await restore(row.application, policy: row.syncPolicy)
                }
                try await store.releasePause(cluster: cluster.name, application: row.application, namespace: namespace, unit: unit)
            }
        } catch {
            restoreBacklog = true
            logger.warning("cannot restore Argo CD self-heal; trying again", metadata: ["namespace": "\(namespace)", "error": "\(error)"])
        }
    }

    /// Puts the recorded sync policy back exactly, drops the annotation, and syncs.
    private func restore(_ name: String, policy text: String) async throws {
        guard let current = try await application(name, unless: [.notFound]) else { return }
        let policy = (try? JSONValue(parsing: Data(text.utf8))) ?? .null
        var operations: [JSONValue] = []
        if policy == .null {
            if current.syncPolicy != .null { operations.append(["op": "remove", "path": "/spec/syncPolicy"]) }
        } else if current.syncPolicy != policy {
            operations.append(["op": "add", "path": "/spec/syncPolicy", "value": policy])
        }
        if current.annotations[Self.pausedAnnotation] != nil {
            operations.append(["op": "remove", "path": .string("/metadata/annotations/" + Self.pausedAnnotation.replacingOccurrences(of: "/", with: "~1"))])
        }
        if !operations.isEmpty { try await argocd.patch(name, .array(operations), type: .json) }
        do {
            try await argocd.sync(name, revision: nil, resources: nil)
        } catch where error.isOperationInProgress {
            // A sync is under way already.
        } catch {
            logger.notice("cannot sync after restoring self-heal", metadata: ["application": "\(name)", "error": "\(error)"])
        }
        logger.info("Argo CD self-heal restored", metadata: ["application": "\(name)"])
    }

    private func isAsleep(namespace: String, unit: String) async throws -> Bool {
        do {
            let secret = try await client.get(Secret.self, namespace: namespace, name: RestoreSecret.name(forSleepInfo: unit))
            return (try? RestoreSecret.read(secret))?.operation == .sleep
        } catch let error as KubeError where error.isNotFound {
            return false
        }
    }

    // MARK: Reverts

    /// Reports the watched workloads that are awake again: the operation is not a success.
    private func check(_ watch: RevertWatch, key: String) async {
        var undone: [(kind: ResourceKind, name: String, application: String)] = []
        // A partial sleep's state depends on the replicas each workload had, and on its budgets.
        var restore = RestoreData()
        var budgets = DisruptionBudgets([])
        if watch.spec.downtimeReplicas != nil {
            let secret = try? await client.get(Secret.self, namespace: watch.namespace, name: RestoreSecret.name(forSleepInfo: watch.unit))
            restore = secret.flatMap { try? RestoreSecret.read($0).restore } ?? RestoreData()
            if let kind = try? await client.resource(group: "policy", kind: "PodDisruptionBudget").kind,
                let listed = try? await client.list(kind, namespace: watch.namespace).items
            {
                budgets = DisruptionBudgets(listed)
            }
        }
        for object in watch.objects {
            guard let live = try? await client.get(object.kind, namespace: watch.namespace, name: object.name),
                  let target = watch.spec.target(forGroupKind: RestoreData.key(group: object.kind.group, kind: object.kind.kind))
            else { continue }
            let entry = restore.patch(groupKind: target.groupKind, name: object.name)
            if !SleepPlanner.isAsleep(live, under: target, spec: watch.spec, restore: entry, budgets: budgets) { undone.append(object) }
        }
        guard !undone.isEmpty else { return }
        let remaining = watch.objects.filter { object in !undone.contains { $0.kind == object.kind && $0.name == object.name } }
        if remaining.isEmpty { watches[key] = nil } else { watches[key]?.objects = remaining }
        let applications = Array(Set(undone.map(\.application))).sorted()
        let names = undone.map { "\($0.kind.kind)/\($0.name)" }.joined(separator: ", ")
        let message = "reverted by Argo CD application \(applications.joined(separator: ", ")): \(names)"
        reverted[key] = message
        logger.warning("sleep reverted by Argo CD", metadata: ["namespace": "\(watch.namespace)", "applications": "\(applications)", "objects": "\(names)"])
        for application in applications { metrics.recordSleepReverted(cluster: cluster.name, application: application) }
        await event(watch.involved, type: "Warning", reason: "RevertedByArgoCD", message: "sleep \(message)")
        let failures = undone.map { object -> JSONValue in
            ["object": .string("\(RestoreData.key(group: object.kind.group, kind: object.kind.kind))/\(object.name)"), "error": .string("reverted by Argo CD application \(object.application)")]
        }
        let amended = try? await store.updateOperation(id: watch.operationId) { operation in
            operation.summary = OperationSummary.reverted(failures, of: watch.namespace, unit: watch.unit, in: operation.summary)
            if let summary = operation.summary.flatMap({ try? JSONValue(parsing: Data($0.utf8)) }) { operation.state = OperationSummary.state(of: summary) }
        }
        _ = try? await store.record(AuditEntry(
            at: clock.now, actor: "argocd", source: "argocd", action: "sleep-reverted", cluster: cluster.name, namespace: watch.namespace,
            target: watch.operationId, result: "reverted", detail: message
        ))
        await events.notice(
            ["type": "sleep_reverted", "applications": .array(applications.map(JSONValue.string)), "objects": .array(undone.map { .string("\($0.kind.kind)/\($0.name)") }),
             "operation": .string(watch.operationId), "state": .string(amended?.state.rawValue ?? "")],
            cluster: cluster, namespace: watch.namespace, key: "reverted:\(watch.operationId):\(names)"
        )
    }

    // MARK: Helpers

    private func involvedObject(_ target: SleepExecutor.Target) -> JSONValue {
        target.sleepInfo ?? ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(target.namespace), "namespace": .string(target.namespace)]]
    }

    private func event(_ involved: JSONValue, type: String, reason: String, message: String) async {
        let event = Event(about: involved, type: type, reason: reason, message: message, component: "sandman", at: clock.now)
        _ = try? await client.create(event.object, namespace: involved[path: ["metadata", "namespace"]]?.string)
    }
}
