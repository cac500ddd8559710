import Foundation
import JSON
import Kube
import Logging
import Scheduling
import Store

/// Puts one namespace to sleep and wakes it, crash-safely: the restore data goes to the
/// journal and the kube-green state Secret before any object is patched, each object is
/// marked in the journal once patched, and waking restores only objects still asleep.
public final class SleepExecutor: Sendable {
    /// What is slept: a namespace, under a SleepInfo (or a hub schedule of that name), with its spec.
    public struct Target: Sendable {
        public var namespace: String
        /// The SleepInfo's name, or `hub-<schedule>` for hub schedules.
        public var name: String
        public var spec: SleepSpec
        /// The SleepInfo object, when there is one: owner of the Secret, carrier of status and events.
        public var sleepInfo: JSONValue?

        public init(namespace: String, name: String, spec: SleepSpec, sleepInfo: JSONValue? = nil) {
            self.namespace = namespace
            self.name = name
            self.spec = spec
            self.sleepInfo = sleepInfo
        }

        public var secretName: String { RestoreSecret.name(forSleepInfo: name) }
    }

    /// What happened to each object.
    public struct Outcome: Sendable {
        /// The objects the plan meant to patch (done, failed, or skipped on the way).
        public var planned: [ObjectRef] = []
        public var done: [ObjectRef] = []
        /// CPU cores and memory bytes requested by the pods that sleeping stopped.
        public var releasedCPU: Double = 0
        public var releasedMemory: Double = 0
        public var skipped: [(ref: ObjectRef, reason: SkipReason)] = []
        public var failed: [(ref: ObjectRef, error: String)] = []
        /// Objects put to sleep otherwise than asked, and why (a disruption budget's floor).
        public var notes: [(ref: ObjectRef, note: String)] = []
        /// The state Secret as the operation left it, for a next operation not to read it again.
        public var stateSecret: StateSecret?

        public var state: OperationRecord.State {
            failed.isEmpty ? .succeeded : (done.isEmpty ? .failed : .partial)
        }

        /// The operation summary stored with the operation record.
        public var summary: JSONValue {
            [
                "planned": .array(planned.map { .string($0.description) }),
                "done": .array(done.map { .string($0.description) }),
                "skipped": .array(skipped.map { ["object": .string($0.ref.description), "reason": .string($0.reason.description)] }),
                "failed": .array(failed.map { ["object": .string($0.ref.description), "error": .string($0.error)] }),
                "notes": .array(notes.map { ["object": .string($0.ref.description), "note": .string($0.note)] }),
                "releasedCPU": .double(releasedCPU),
                "releasedMemoryBytes": .double(releasedMemory),
            ]
        }

        /// When the objects held back by their grace period are due to sleep; nil: none are.
        public var graceEnds: Date? { SleepPlan.graceEnds(of: skipped) }
    }

    public let cluster: String
    private let client: KubeClient
    private let store: Store
    private let concurrency: Int
    /// Objects in flight across every namespace this executor works on at once.
    private let permits: Permits
    private let now: @Sendable () -> Date
    private let logger: Logger

    /// A moment of a sleep or wake where the process could die; tests stop there (`checkpoint`)
    /// to play what a kill at that moment leaves behind.
    public enum Checkpoint: Sendable, Equatable {
        /// A sleep's restore data is in the journal and the Secret; nothing patched yet.
        case restoreDataWritten(namespace: String)
        /// One object was patched (asleep or awake) and its journal entry is not marked yet.
        case patched(ObjectRef, action: RestoreSecret.Operation)
        /// A wake patched what it could; the Secret is not rewritten yet.
        case wakeBeforeSecret(namespace: String)
    }

    private let checkpoint: (@Sendable (Checkpoint) async -> Void)?

    public init(
        cluster: String, client: KubeClient, store: Store, concurrency: Int = 16, now: @escaping @Sendable () -> Date = Date.init,
        checkpoint: (@Sendable (Checkpoint) async -> Void)? = nil, logger: Logger
    ) {
        self.checkpoint = checkpoint
        self.cluster = cluster
        self.client = client
        self.store = store
        self.concurrency = max(1, concurrency)
        permits = Permits { [concurrency] in min(concurrency, client.writeLimit) }
        self.now = now
        self.logger = logger
    }

    // MARK: State

    /// The contents of a target's state Secret, nil when there is none.
    public func state(of target: Target) async throws -> RestoreSecret.Contents? {
        try await stateSecret(of: target).contents
    }

    /// A target's state Secret, read now.
    public func stateSecret(of target: Target) async throws -> StateSecret {
        do {
            return try StateSecret(try await client.get(Secret.self, namespace: target.namespace, name: target.secretName))
        } catch let error as KubeError where error.isNotFound {
            return try StateSecret(nil)
        }
    }

    /// Every state Secret of the cluster in one list (by kube-green's label), keyed by
    /// `namespace/name`; nil when they cannot be listed that way (permissions in some
    /// namespaces only), and each is read on its own.
    public func stateSecrets() async -> [String: Secret]? {
        do {
            let options = ListOptions(labelSelector: "\(RestoreSecret.managedByLabel)=kube-green")
            let secrets = try await client.list(Secret.self, options: options)
            return Dictionary(secrets.map { ("\($0.metadata.namespace ?? "")/\($0.metadata.name)", $0) }) { first, _ in first }
        } catch {
            logger.info("state Secrets read one by one", metadata: ["cluster": "\(cluster)", "error": "\(error)"])
            return nil
        }
    }

    // MARK: Sleep

    /// Puts the target's objects to sleep. `operation` must be saved already (the journal refers to it).
    /// `state` is the target's state Secret when the caller has just read it; `clusterObjects`
    /// the objects read for several namespaces at once. `graceFrom`: the time of a scheduled
    /// sleep, from which the spec's grace period is counted (nil: a person asked, no grace).
    public func sleep(
        _ target: Target, operation: OperationRecord, scheduledAt: Date, state: StateSecret? = nil, clusterObjects: ClusterObjects? = nil,
        graceFrom: Date? = nil
    ) async throws -> Outcome {
        try await startingOverOnChange(state) { state in
            try await sleepPass(target, operation: operation, scheduledAt: scheduledAt, state: state, clusterObjects, graceFrom: graceFrom)
        }
    }

    /// What sleeping the target would do now, without doing it: to find, in a namespace asleep,
    /// the workloads started since, without an operation when there are none.
    /// `changedSince`: objects with restore data already are planned only if changed since then.
    public func planSleep(
        _ target: Target, state: StateSecret? = nil, clusterObjects: ClusterObjects? = nil, graceFrom: Date? = nil, changedSince: Date? = nil
    ) async throws -> SleepPlan {
        try await prepareSleep(target, state: state, clusterObjects, graceFrom: graceFrom, changedSince: changedSince).plan
    }

    /// The state Secret, the target's objects as listed, and the plan made from them.
    private func prepareSleep(
        _ target: Target, state: StateSecret?, _ clusterObjects: ClusterObjects?, graceFrom: Date?, changedSince: Date? = nil
    ) async throws -> (known: StateSecret, objects: [(kind: ResourceKind, items: [JSONValue])], plan: SleepPlan) {
        let known = if let state { state } else { try await stateSecret(of: target) }
        let existing = known.contents
        let previous = existing?.operation == .sleep ? existing?.restore ?? RestoreData() : RestoreData()
        // The kinds at once: each is a list (or a share of one), and the first namespace's wait is every namespace's.
        let objects = try await withThrowingTaskGroup(of: (Int, ResourceKind, [JSONValue])?.self) { group in
            for (index, spec) in target.spec.targets.enumerated() {
                group.addTask { try await self.listed(spec, in: target.namespace, clusterObjects).map { (index, $0.kind, $0.items) } }
            }
            var listed: [(Int, ResourceKind, [JSONValue])] = []
            for try await result in group { if let result { listed.append(result) } }
            return listed.sorted { $0.0 < $1.0 }.map { (kind: $0.1, items: $0.2) }
        }
        let previousDowntime = existing?.operation == .sleep ? existing?.downtimeReplicas : nil
        let context = PlanContext(
            budgets: try await budgets(for: target, or: previousDowntime), graceFrom: graceFrom, previousDowntime: previousDowntime,
            changedSince: changedSince
        )
        let plan = SleepPlanner.plan(spec: target.spec, objects: objects, existing: previous, context: context)
        logger.debug("sleep planned", metadata: ["cluster": "\(cluster)", "namespace": "\(target.namespace)", "changes": "\(plan.changes.count)", "skipped": "\(plan.skipped.count)"])
        return (known, objects, plan)
    }

    /// The objects `operation` put to sleep before it was cut short (a crash): a resumed run
    /// finds them asleep and plans nothing for them, yet this operation did them.
    private func sleptEarlier(by operation: OperationRecord, of plan: SleepPlan, in target: Target) async -> [ObjectRef] {
        let handled = Set(plan.changes.map(\.ref)).union(plan.skipped.map(\.ref))
        let asleep = Set(plan.restore.refs).subtracting(handled)
        guard !asleep.isEmpty else { return [] }
        do {
            // This unit's entries only: a resumed whole-cluster operation asks once per namespace.
            let entries = try await store.journalEntries(operationId: operation.id, namespace: target.namespace, sleepInfo: target.name)
            return entries.filter { $0.state != .skipped }.map { ObjectRef(groupKind: $0.groupKind, name: $0.name) }.filter(asleep.contains)
        } catch {
            // Only the summary's count is at stake: the objects are asleep either way.
            logger.warning("journal not read: done objects left uncounted", metadata: ["cluster": "\(cluster)", "namespace": "\(target.namespace)", "error": "\(error)"])
            return []
        }
    }

    /// The objects of one of the spec's kinds; nil when the cluster does not serve it, or when it
    /// is one Sandman sleeps of its own accord and the role does not let it list them.
    private func listed(
        _ spec: SleepSpec.Target, in namespace: String, _ clusterObjects: ClusterObjects?
    ) async throws -> (kind: ResourceKind, items: [JSONValue])? {
        do {
            let resource = try await client.resource(group: spec.group, kind: spec.kind)
            return (resource.kind, try await list(resource.kind, in: namespace, clusterObjects))
        } catch let error as KubeError where error.isNotFound {
            // A patch for a kind the cluster does not serve (its CRD is not installed): nothing to do.
            logger.debug("kind not served", metadata: ["cluster": "\(cluster)", "kind": "\(spec.groupKind)"])
        } catch let error as KubeError where error.reason == .forbidden && spec.isNative {
            // A kind Sandman sleeps of its own accord, which its role may not cover yet.
            logger.warning("kind left out: not allowed to list it", metadata: [
                "cluster": "\(cluster)", "namespace": "\(namespace)", "kind": "\(spec.groupKind)", "error": "\(error)",
            ])
        }
        return nil
    }

    private func sleepPass(
        _ target: Target, operation: OperationRecord, scheduledAt: Date, state: StateSecret?, _ clusterObjects: ClusterObjects?,
        graceFrom: Date?
    ) async throws -> Outcome {
        let (known, objects, plan) = try await prepareSleep(target, state: state, clusterObjects, graceFrom: graceFrom)
        var outcome = Outcome()
        outcome.skipped = plan.skipped
        outcome.planned = plan.changes.map(\.ref)
        outcome.notes = plan.changes.compactMap { change in change.note.map { (change.ref, $0) } }

        // Journal and Secret first: from here on, a crash loses nothing.
        let time = now()
        var entries = plan.changes.map { change in
            JournalEntry(
                operationId: operation.id, cluster: cluster, namespace: target.namespace, sleepInfo: target.name, groupKind: change.ref.groupKind,
                name: change.ref.name, restorePatch: change.restorePatch, updatedAt: time, downtimeReplicas: target.spec.downtimeReplicas?.description
            )
        }
        entries = try await store.journal(entries)
        outcome.stateSecret = try await writeSecret(target, operation: .sleep, scheduledAt: scheduledAt, restore: plan.restore, over: known)
        await checkpoint?(.restoreDataWritten(namespace: target.namespace))
        logger.debug("restore data written", metadata: ["cluster": "\(cluster)", "namespace": "\(target.namespace)"])

        let results: [(ObjectRef, ObjectResult)] = await forEach(plan.changes) { change in
            do {
                try await self.client.patchIgnoringResult(change.kind, namespace: target.namespace, name: change.ref.name, .json(change.patch.document))
                await self.checkpoint?(.patched(change.ref, action: .sleep))
                return (change.ref, .done)
            } catch let error as KubeError where error.isNotFound {
                return (change.ref, .skipped(.gone))
            } catch let error as KubeError where error.reason == .invalid {
                // The guard failed: the object changed since it was read. Its restore entry stays,
                // and waking will see that it is not asleep and leave it alone.
                return (change.ref, .skipped(.modifiedDuringSleep))
            } catch {
                return (change.ref, .failed("\(error)"))
            }
        }
        await mark(entries, results, done: .slept, in: target)
        outcome.done = await sleptEarlier(by: operation, of: plan, in: target)
        let listed = Dictionary(objects.flatMap { kind, items in items.map { (ObjectRef(groupKind: kind.groupKind, name: $0[path: ["metadata", "name"]]?.string ?? ""), $0) } }) { first, _ in first }
        for (ref, result) in results {
            switch result {
            case .done:
                outcome.done.append(ref)
                if let object = listed[ref], ["Deployment.apps", "StatefulSet.apps"].contains(ref.groupKind) {
                    let workload = Deployment(object: object)
                    outcome.releasedCPU += Double(workload.replicas) * workload.containers.compactMap(\.cpuRequest).reduce(0, +)
                    outcome.releasedMemory += Double(workload.replicas) * workload.containers.compactMap(\.memoryRequest).reduce(0, +)
                }
            case .skipped(let reason): outcome.skipped.append((ref, reason))
            case .failed(let message): outcome.failed.append((ref, message))
            }
        }
        await report(target, operation: .sleep, scheduledAt: scheduledAt, outcome: outcome)
        return outcome
    }

    // MARK: Wake

    /// Restores every object still in its sleep state, read from the cluster (one list per kind):
    /// an object already as the restore data has it is awake (a wake cut short restored it, or a
    /// sleep cut short never reached it); one in neither state was changed by someone and is left
    /// alone and reported. Entries that fail stay in the Secret, which says WAKE_UP only when
    /// nothing is left asleep.
    public func wake(
        _ target: Target, operation: OperationRecord, scheduledAt: Date, state: StateSecret? = nil, clusterObjects: ClusterObjects? = nil
    ) async throws -> Outcome {
        try await startingOverOnChange(state) { state in
            try await wakePass(target, operation: operation, scheduledAt: scheduledAt, state: state, clusterObjects)
        }
    }

    private func wakePass(
        _ target: Target, operation: OperationRecord, scheduledAt: Date, state: StateSecret?, _ clusterObjects: ClusterObjects?
    ) async throws -> Outcome {
        var outcome = Outcome()
        let known = if let state { state } else { try await stateSecret(of: target) }
        let contents = known.contents
        // Judged by what the sleep did: a partial sleep (a plugin may have decided it) or a full one.
        var judged = target
        var restore = contents?.restore ?? RestoreData()
        if let contents {
            judged.spec.downtimeReplicas = contents.downtimeReplicas
        } else {
            // The Secret is gone: fall back to the journal's mirror of the last sleep.
            let entries = try await store.latestSleepEntries(cluster: cluster, namespace: target.namespace, sleepInfo: target.name)
            if let first = entries.first { judged.spec.downtimeReplicas = first.downtimeReplicas.flatMap(DowntimeReplicas.init) }
            for entry in entries where entry.state != .skipped {
                restore.set(entry.restorePatch, groupKind: entry.groupKind, name: entry.name)
            }
        }
        let target = judged
        // Entries of kinds the spec no longer patches are left alone, as kube-green leaves them
        // (jsonpatch.go WakeUp restores only the targets' objects), and reported.
        let (targeted, ignored) = restore.partitioned { target.spec.target(forGroupKind: $0) != nil }
        restore = targeted
        outcome.skipped = ignored.refs.map { ($0, .notTargeted) }
        let current = try await objects(of: Set(restore.refs.map(\.groupKind)), in: target.namespace, clusterObjects)
        let listed = current.mapValues(\.object)
        if !AutoscalerCheck.zeroRestores(restore, objects: listed).isEmpty {
            let autoscalers: [JSONValue]
            do {
                autoscalers = try await list(kind(group: "autoscaling", kind: "HorizontalPodAutoscaler"), in: target.namespace, nil)
            } catch {
                // The check is a safeguard: without it the restore data is applied as it is.
                logger.warning("autoscalers not read: restore data applied as it is", metadata: [
                    "cluster": "\(cluster)", "namespace": "\(target.namespace)", "error": "\(error)",
                ])
                autoscalers = []
            }
            for (ref, floor) in AutoscalerCheck.floors(restore: restore, objects: listed, autoscalers: autoscalers) {
                restore.set(floor.patch, groupKind: ref.groupKind, name: ref.name)
                outcome.notes.append((ref, floor.note))
            }
        }
        let restoreData = restore
        let refs = restore.refs
        outcome.planned = refs
        let time = now()
        let entries = try await store.journal(refs.map { ref in
            JournalEntry(operationId: operation.id, cluster: cluster, namespace: target.namespace, sleepInfo: target.name, groupKind: ref.groupKind, name: ref.name, restorePatch: restore.patch(groupKind: ref.groupKind, name: ref.name) ?? "{}", updatedAt: time)
        })
        let budgets = try await budgets(for: target)

        let results: [(ObjectRef, ObjectResult)] = await forEach(refs) { ref in
            (ref, await self.restore(ref, listed: current[ref], target: target, restore: restoreData, budgets: budgets))
        }
        await mark(entries, results, done: .restored, in: target)
        var remaining = RestoreData()
        for (ref, result) in results {
            switch result {
            case .done:
                outcome.done.append(ref)
            case .skipped(let reason):
                outcome.skipped.append((ref, reason))
            case .failed(let message):
                outcome.failed.append((ref, message))
                remaining.set(restore.patch(groupKind: ref.groupKind, name: ref.name), groupKind: ref.groupKind, name: ref.name)
            }
        }
        await checkpoint?(.wakeBeforeSecret(namespace: target.namespace))
        if remaining.isEmpty {
            outcome.stateSecret = try await writeSecret(target, operation: .wakeUp, scheduledAt: scheduledAt, restore: nil, over: known)
        } else {
            outcome.stateSecret = try await writeSecret(
                target, operation: .sleep, scheduledAt: contents?.scheduledAt ?? scheduledAt, restore: remaining, over: known
            )
        }
        await report(target, operation: .wakeUp, scheduledAt: scheduledAt, outcome: outcome)
        return outcome
    }

    /// The objects of `groupKinds` in a namespace, as listed now (kinds the cluster does not
    /// serve have none).
    private func objects(
        of groupKinds: Set<String>, in namespace: String, _ cluster: ClusterObjects?
    ) async throws -> [ObjectRef: (kind: ResourceKind, object: JSONValue)] {
        var found: [ObjectRef: (kind: ResourceKind, object: JSONValue)] = [:]
        for groupKind in groupKinds.sorted() {
            let (group, kind) = ObjectRef(groupKind: groupKind, name: "").groupAndKind
            do {
                let resource = try await client.resource(group: group, kind: kind)
                for object in try await list(resource.kind, in: namespace, cluster) {
                    found[ObjectRef(groupKind: groupKind, name: object[path: ["metadata", "name"]]?.string ?? "")] = (resource.kind, object)
                }
            } catch let error as KubeError where error.isNotFound {
                continue
            }
        }
        return found
    }

    /// Wakes one object from how it was `listed`: restored when still asleep, left alone when
    /// awake already or changed by someone. A change between the read and the patch is read again.
    private func restore(
        _ ref: ObjectRef, listed: (kind: ResourceKind, object: JSONValue)?, target: Target, restore: RestoreData, budgets: DisruptionBudgets
    ) async -> ObjectResult {
        guard let (kind, listedObject) = listed else { return .skipped(.gone) }
        guard let patchText = restore.patch(groupKind: ref.groupKind, name: ref.name), let patch = try? JSONValue(parsing: patchText) else {
            return .failed("restore patch is not JSON")
        }
        var object = listedObject
        for attempt in 1...2 {
            if MergePatch.apply(patch, to: object) == object { return .skipped(.alreadyAwake) }
            if let sleepTarget = target.spec.target(forGroupKind: ref.groupKind),
                !SleepPlanner.isAsleep(object, under: sleepTarget, spec: target.spec, restore: patchText, budgets: budgets)
            {
                return .skipped(.modifiedDuringSleep)
            }
            var guarded = patch
            guarded[path: ["metadata", "resourceVersion"]] = object[path: ["metadata", "resourceVersion"]]
            do {
                try await client.patchIgnoringResult(kind, namespace: target.namespace, name: ref.name, .merge(guarded))
                await checkpoint?(.patched(ref, action: .wakeUp))
                return .done
            } catch let error as KubeError where error.isNotFound {
                return .skipped(.gone)
            } catch let error as KubeError where error.isConflict && attempt == 1 {
                do {
                    object = try await client.get(kind, namespace: target.namespace, name: ref.name)
                } catch let error as KubeError where error.isNotFound {
                    return .skipped(.gone)
                } catch {
                    return .failed("\(error)")
                }
            } catch {
                return .failed("\(error)")
            }
        }
        return .failed("changed while being restored, twice")
    }

    // MARK: Helpers

    private enum ObjectResult: Sendable {
        case done
        case skipped(SkipReason)
        case failed(String)
    }

    /// Records a pass in the journal: `done` for what it changed, skipped for what it left; a
    /// failed object keeps its entry as planned. Not recorded is not lost: the next sleep or wake
    /// judges each object as it is, and a skipped entry only keeps its restore patch in the mirror.
    private func mark(_ entries: [JournalEntry], _ results: [(ObjectRef, ObjectResult)], done: JournalEntry.State, in target: Target) async {
        let marks = zip(entries, results).compactMap { entry, result -> (id: Int64, state: JournalEntry.State)? in
            switch result.1 {
            case .done: (entry.id!, done)
            case .skipped: (entry.id!, .skipped)
            case .failed: nil
            }
        }
        do {
            try await store.markJournalEntries(marks, at: now())
        } catch {
            logger.warning("journal not marked", metadata: ["cluster": "\(cluster)", "namespace": "\(target.namespace)", "error": "\(error)"])
        }
    }

    /// Runs `work` on each item, as many at a time for this executor as a whole as the cluster's
    /// answers allow (at most `concurrency`; several namespaces may be in progress, the one that
    /// started first served first), keeping the input order.
    private func forEach<Item: Sendable, Output: Sendable>(_ items: [Item], _ work: @escaping @Sendable (Item) async -> Output) async -> [Output] {
        let permits = self.permits
        let batch = await permits.newBatch()
        return await withTaskGroup(of: (Int, Output).self) { group in
            var results: [(Int, Output)] = []
            var next = 0
            while next < items.count || !group.isEmpty {
                while next < items.count, next - results.count < concurrency {
                    let index = next
                    group.addTask { (index, await permits.withPermit(batch: batch) { await work(items[index]) }) }
                    next += 1
                }
                if let result = await group.next() { results.append(result) }
            }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// The namespace's PodDisruptionBudgets when a partial sleep needs them, this one or the one
    /// before (`previous`), which judges what that sleep left; none otherwise.
    private func budgets(for target: Target, or previous: DowntimeReplicas? = nil) async throws -> DisruptionBudgets {
        guard target.spec.downtimeReplicas != nil || previous != nil else { return DisruptionBudgets([]) }
        return DisruptionBudgets(try await list(kind(group: "policy", kind: "PodDisruptionBudget"), in: target.namespace, nil))
    }

    private func kind(group: String, kind: String) async throws -> ResourceKind {
        try await client.resource(group: group, kind: kind).kind
    }

    private func list(_ kind: ResourceKind, in namespace: String, _ cluster: ClusterObjects?) async throws -> [JSONValue] {
        if let cluster { return try await cluster.items(of: kind, in: namespace) }
        return try await client.list(kind, namespace: namespace).items
    }

    /// The state Secret changed since it was read (or one believed absent exists after all): the
    /// operation starts over from it rather than write over restore data it never read.
    private struct StateSecretChanged: Error {}

    /// Runs `pass` from the state the caller read, and once more from a fresh read if that changed.
    private func startingOverOnChange(
        _ state: StateSecret?, _ pass: (StateSecret?) async throws -> Outcome
    ) async throws -> Outcome {
        do {
            return try await pass(state)
        } catch is StateSecretChanged {
            return try await pass(nil)
        }
    }

    /// Writes the state Secret over the one `known` (created when there was none): one request
    /// unless someone changed it meanwhile, which the resourceVersion reveals; it is read again then.
    private func writeSecret(
        _ target: Target, operation: RestoreSecret.Operation, scheduledAt: Date, restore: RestoreData?, over known: StateSecret
    ) async throws -> StateSecret {
        let secret = RestoreSecret.make(
            name: target.secretName, namespace: target.namespace, owner: target.sleepInfo, scheduledAt: scheduledAt, operation: operation,
            restore: restore, downtimeReplicas: target.spec.downtimeReplicas
        )
        var current = known.secret
        var attempt = 0
        while true {
            attempt += 1
            do {
                guard var existing = current else { return try StateSecret(try await client.create(secret)) }
                existing.object["data"] = secret.object["data"]
                existing.object["type"] = secret.object["type"]
                var metadata = existing.metadata
                metadata.labels.merge(secret.metadata.labels) { $1 }
                if !secret.metadata.ownerReferences.isEmpty { metadata.ownerReferences = secret.metadata.ownerReferences }
                existing.metadata = metadata
                return try StateSecret(try await client.update(existing))
            } catch let error as KubeError where attempt < 5 && (error.isConflict || error.isAlreadyExists || error.isNotFound) {
                current = try await stateSecret(of: target).secret
                // Only its metadata changed (or it is as it was read): write over it. Otherwise the
                // operation starts again from what it holds now.
                guard current?.object["data"] == known.secret?.object["data"] else { throw StateSecretChanged() }
            }
        }
    }

    /// SleepInfo status as kube-green keeps it, and Events on the SleepInfo (or the namespace) for
    /// failures and for what was done otherwise than asked.
    private func report(_ target: Target, operation: RestoreSecret.Operation, scheduledAt: Date, outcome: Outcome) async {
        if let sleepInfo = target.sleepInfo, let name = sleepInfo[path: ["metadata", "name"]]?.string {
            do {
                try await KubeClient.retryOnConflict {
                    var current = try await client.get(SleepInfo.self, namespace: target.namespace, name: name)
                    current.lastScheduleTime = scheduledAt
                    current.operation = operation.rawValue
                    _ = try await client.updateStatus(current)
                }
            } catch {
                logger.warning("could not update SleepInfo status", metadata: ["cluster": "\(cluster)", "namespace": "\(target.namespace)", "error": "\(error)"])
            }
        }
        let involved = target.sleepInfo ?? ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(target.namespace), "namespace": .string(target.namespace)]]
        var events: [(type: String, reason: String, message: String)] = []
        let verb = operation == .sleep ? "Sleep" : "WakeUp"
        // Only what needs a look or went otherwise than asked: a sleep or wake that went as asked
        // is in the hub's operations and audit, the SleepInfo's status and the workloads' own
        // events (a Normal event a namespace cost one request in 50 of a whole-cluster sleep).
        if !outcome.failed.isEmpty {
            let summary = "\(outcome.done.count) done, \(outcome.skipped.count) skipped, \(outcome.failed.count) failed"
            events.append(("Warning", "\(verb)Failed", summary + ": " + outcome.failed.map { "\($0.ref): \($0.error)" }.joined(separator: "; ")))
        }
        let modified = outcome.skipped.filter { $0.reason == .modifiedDuringSleep }.map(\.ref.description)
        if !modified.isEmpty {
            events.append(("Warning", "ModifiedDuringSleep", "left as they are, changed while asleep: \(modified.joined(separator: ", "))"))
        }
        if !outcome.notes.isEmpty {
            // A disruption budget's floor, an autoscaler's minReplicas: what was done instead of what was asked.
            events.append(("Normal", "\(verb)Adjusted", outcome.notes.map { "\($0.ref): \($0.note)" }.joined(separator: "; ")))
        }
        let ignored = outcome.skipped.filter { $0.reason == .notTargeted }.map(\.ref.description)
        if !ignored.isEmpty {
            events.append(("Warning", "RestoreIgnored", "restore data ignored, their kinds are no longer patched: \(ignored.joined(separator: ", "))"))
        }
        for event in events {
            let object = Event(about: involved, type: event.type, reason: event.reason, message: event.message, component: "sandman", at: now())
            do {
                _ = try await client.create(object.object, namespace: target.namespace)
            } catch {
                logger.debug("could not record event", metadata: ["cluster": "\(cluster)", "error": "\(error)"])
            }
        }
    }
}
