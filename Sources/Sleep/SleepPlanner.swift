import Foundation
import JSON
import Kube
import Scheduling

/// An object of a namespace, named as kube-green names it (`Deployment.apps/api`).
public struct ObjectRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var groupKind: String
    public var name: String

    /// `groupKind` as kube-green keys it; a core kind written without the trailing dot (as
    /// Sandman wrote it before) is read as the same kind.
    public init(groupKind: String, name: String) {
        self.groupKind = RestoreData.normalized(groupKind)
        self.name = name
    }

    public var description: String { "\(groupKind)/\(name)" }

    public static func < (lhs: ObjectRef, rhs: ObjectRef) -> Bool {
        (lhs.groupKind, lhs.name) < (rhs.groupKind, rhs.name)
    }

    /// The group and kind of a `Kind.group` key.
    var groupAndKind: (group: String, kind: String) {
        let parts = groupKind.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        return (parts.count == 2 ? parts[1] : "", parts[0])
    }
}

/// Why an object is left as it is.
public enum SkipReason: Sendable, Equatable, CustomStringConvertible {
    case controlled(by: String)
    case excluded
    case notIncluded
    /// A restore entry for a kind the SleepInfo no longer patches: ignored at wake, as kube-green does.
    case notTargeted
    case alreadyAsleep
    case invalidPatch(String)
    case gone
    case modifiedDuringSleep
    /// On wake: already as the restore data has it (a wake cut short restored it, or a sleep cut short never reached it).
    case alreadyAwake
    /// Created or changed by someone less than the grace period ago: left running until then.
    case inGrace(until: Date)
    /// A Job that completed or failed: there is nothing left to suspend.
    case finished
    /// An autoscaler whose workload stays awake (excluded, held in grace, or of a kind not slept).
    case workloadAwake(ObjectRef)
    /// An autoscaler under a partial sleep: paused at zero, it would scale its workload to none.
    case partialSleep

    public var description: String {
        switch self {
        case .controlled(let owner): "managed by its controller \(owner)"
        case .excluded: "excluded by excludeRef"
        case .notIncluded: "not selected by includeRef"
        case .notTargeted: "its kind is no longer patched by the SleepInfo: restore data ignored"
        case .alreadyAsleep: "already in its sleep state"
        case .invalidPatch(let reason): "the sleep patch does not apply: \(reason)"
        case .gone: "no longer exists"
        case .modifiedDuringSleep: "changed by someone while asleep: left as it is"
        case .alreadyAwake: "already awake"
        case .inGrace(let until): "changed less than the grace period ago: left running until \(KubeTime.format(until))"
        case .finished: "finished: nothing to suspend"
        case .workloadAwake(let workload): "its workload \(workload) stays awake"
        case .partialSleep: "a partial sleep leaves the autoscaler running"
        }
    }
}

/// One object to put to sleep: the guarded JSON patch that does it and the merge patch that undoes it.
public struct PlannedChange: Sendable, Equatable {
    public var ref: ObjectRef
    public var kind: ResourceKind
    /// The sleep patch, preceded by `test` operations on the values it changes, so that a
    /// change made between planning and patching fails instead of being overwritten.
    public var patch: JSONPatch
    /// RFC 7386 merge patch restoring the object's original values, as text.
    public var restorePatch: String
    /// Why it sleeps differently from what was asked (a PodDisruptionBudget's floor), for people.
    public var note: String?
}

/// What a plan reads besides the objects themselves.
public struct PlanContext: Sendable {
    /// The namespace's PodDisruptionBudgets: a partial sleep keeps each workload at their floor.
    public var budgets: DisruptionBudgets
    /// The time of a scheduled sleep, from which the grace period is counted; nil: no grace
    /// (a person asked for the sleep).
    public var graceFrom: Date?
    /// The replicas kept by the sleep that saved the existing restore data (nil: a full sleep):
    /// a workload still as that sleep left it keeps the replicas it had before as its original.
    public var previousDowntime: DowntimeReplicas?
    /// A look at a namespace asleep since this time: an object the sleep covered already (it has
    /// restore data) is planned again only when someone changed it since.
    public var changedSince: Date?

    public init(
        budgets: DisruptionBudgets = DisruptionBudgets([]), graceFrom: Date? = nil, previousDowntime: DowntimeReplicas? = nil,
        changedSince: Date? = nil
    ) {
        self.budgets = budgets
        self.graceFrom = graceFrom
        self.previousDowntime = previousDowntime
        self.changedSince = changedSince
    }
}

/// What sleeping a namespace will do.
public struct SleepPlan: Sendable {
    public var changes: [PlannedChange] = []
    public var skipped: [(ref: ObjectRef, reason: SkipReason)] = []
    /// The restore data to save before patching: what was saved already plus the new entries.
    public var restore = RestoreData()

    /// When the objects held back by their grace period are due to sleep; nil: none are.
    public var graceEnds: Date? { Self.graceEnds(of: skipped) }

    static func graceEnds(of skipped: [(ref: ObjectRef, reason: SkipReason)]) -> Date? {
        skipped.compactMap { if case .inGrace(let until) = $0.reason { until } else { nil } }.min()
    }
}

/// Decides, without I/O, what sleeping a namespace does to each of its objects.
public enum SleepPlanner {
    /// - Parameters:
    ///   - objects: the objects of each target kind, as listed.
    ///   - existing: restore data saved by an earlier sleep that was not undone; its entries are kept.
    public static func plan(
        spec: SleepSpec, objects: [(kind: ResourceKind, items: [JSONValue])], existing: RestoreData, context: PlanContext = PlanContext()
    ) -> SleepPlan {
        var plan = SleepPlan(restore: existing)
        // Objects the plan leaves awake, and those asleep once it is carried out: autoscalers,
        // planned last, follow their workloads.
        var leftAwake: Set<ObjectRef> = []
        var sleeping: Set<ObjectRef> = []
        for (kind, items) in objects.sorted(by: { !isAutoscaler($0.kind.groupKind) && isAutoscaler($1.kind.groupKind) }) {
            guard let target = spec.target(forGroupKind: RestoreData.key(group: kind.group, kind: kind.kind)) else { continue }
            for object in items {
                let name = object[path: ["metadata", "name"]]?.string ?? ""
                let ref = ObjectRef(groupKind: target.groupKind, name: name)
                let entry = existing.patch(groupKind: ref.groupKind, name: name)
                if let since = context.changedSince, entry != nil, lastChange(of: object).map({ $0 <= since }) ?? true {
                    sleeping.insert(ref)  // as the sleep left it
                    continue
                }
                let reason = skipReason(object, target: target, spec: spec)
                    ?? kindSkipReason(object, target: target, spec: spec, leftAwake: leftAwake, sleeping: sleeping)
                if let reason {
                    plan.skipped.append((ref, reason))
                    leftAwake.insert(ref)
                    continue
                }
                let sleepPatch = sleepPatch(for: object, under: target, spec: spec, restore: entry, budgets: context.budgets)
                let slept: JSONValue
                let patch: JSONPatch
                do {
                    slept = try sleepPatch.patch.applied(to: object, options: .kubeGreen)
                    patch = try sleepPatch.patch.strict(for: object, options: .kubeGreen)
                } catch {
                    plan.skipped.append((ref, .invalidPatch("\(error)")))
                    leftAwake.insert(ref)
                    continue
                }
                if slept == object {
                    // Asleep already: an entry saved by the sleep that did it is the only truth.
                    if entry == nil {
                        plan.skipped.append((ref, .alreadyAsleep))
                    }
                    sleeping.insert(ref)
                    continue
                }
                if let until = graceEnd(of: object, spec: spec, context: context) {
                    plan.skipped.append((ref, .inGrace(until: until)))
                    leftAwake.insert(ref)
                    continue
                }
                let wakesTo = original(of: object, under: target, spec: spec, existing: existing, context: context)
                let restore = MergePatch.diff(from: slept, to: wakesTo).serialized()
                plan.restore.set(restore, groupKind: ref.groupKind, name: name)
                plan.changes.append(PlannedChange(
                    ref: ref, kind: kind, patch: guarded(patch, on: object), restorePatch: restore, note: sleepPatch.note
                ))
                sleeping.insert(ref)
            }
        }
        plan.changes.sort { $0.ref < $1.ref }
        plan.skipped.sort { $0.ref < $1.ref }
        return plan
    }

    /// The patch putting `object` to sleep under `target`: the target's own; for a partial sleep,
    /// "down to `downtimeReplicas`" of the replicas it had (`restore` undone first, so that a
    /// workload asleep already counts from what it had), raised to its disruption budgets' floor.
    /// `neverUp`: no more replicas than the object has now (a sleep does not scale up; a wake
    /// judges by the count itself).
    public static func sleepPatch(
        for object: JSONValue, under target: SleepSpec.Target, spec: SleepSpec, restore: String?, budgets: DisruptionBudgets,
        neverUp: Bool = true
    ) -> (patch: JSONPatch, note: String?) {
        guard target.scalesReplicas, let downtime = spec.downtimeReplicas else { return (target.patch, nil) }
        let original = restore.flatMap { try? JSONValue(parsing: $0) }.map { MergePatch.apply($0, to: object) } ?? object
        let had = Int(original[path: ["spec", "replicas"]]?.int ?? 1)
        var keep = downtime.replicas(of: had)
        var note: String?
        if let floor = budgets.floor(for: original, replicas: had), floor.replicas > keep {
            note = "kept at \(floor.replicas) of \(had) replicas by PodDisruptionBudget \(floor.budget) (asked \(downtime))"
            keep = floor.replicas
        }
        // Never up from where it is: a workload at zero (a full sleep before) stays there.
        if neverUp { keep = min(keep, Int(object[path: ["spec", "replicas"]]?.int ?? 1)) }
        return (JSONPatch([.add(JSONPointer(tokens: ["spec", "replicas"]), .int(Int64(keep)))]), note)
    }

    /// What waking `object` must give back: the object itself, or, when it is still as an earlier
    /// sleep under other terms left it (full, then partial), what it was before that sleep.
    static func original(
        of object: JSONValue, under target: SleepSpec.Target, spec: SleepSpec, existing: RestoreData, context: PlanContext
    ) -> JSONValue {
        let name = object[path: ["metadata", "name"]]?.string ?? ""
        guard let entry = existing.patch(groupKind: target.groupKind, name: name), let patch = try? JSONValue(parsing: entry) else {
            return object
        }
        var earlier = spec
        earlier.downtimeReplicas = context.previousDowntime
        guard isAsleep(object, under: target, spec: earlier, restore: entry, budgets: context.budgets) else { return object }
        return MergePatch.apply(patch, to: object)
    }

    /// Autoscalers are planned after the workloads they scale.
    static func isAutoscaler(_ groupKind: String) -> Bool { groupKind == "ScaledObject.keda.sh" }

    /// Rules of particular kinds: a finished Job is not suspended; a ScaledObject is not paused
    /// when its workload stays awake, nor under a partial sleep (paused at zero, KEDA would scale
    /// the workload to none). Paused by Sandman's own choice (hub schedules), it needs its workload
    /// put to sleep; paused by a SleepInfo patch, it is paused unless the plan leaves the workload
    /// awake (a SleepInfo may pause KEDA alone and let it scale the workloads to zero).
    static func kindSkipReason(
        _ object: JSONValue, target: SleepSpec.Target, spec: SleepSpec, leftAwake: Set<ObjectRef>, sleeping: Set<ObjectRef>
    ) -> SkipReason? {
        switch target.groupKind {
        case "Job.batch":
            let conditions = object[path: ["status", "conditions"]]?.array ?? []
            let finished = conditions.contains { ["Complete", "Failed"].contains($0["type"]?.string) && $0["status"]?.string == "True" }
            return finished ? .finished : nil
        case "ScaledObject.keda.sh":
            if spec.downtimeReplicas != nil { return .partialSleep }
            let workload = AutoscalerCheck.scaleTarget(of: object)
            let awake = target.isNative ? !sleeping.contains(workload) : leftAwake.contains(workload)
            return awake ? .workloadAwake(workload) : nil
        default:
            return nil
        }
    }

    /// When the grace period of an object changed by someone recently ends, if it has not yet at
    /// the scheduled sleep.
    static func graceEnd(of object: JSONValue, spec: SleepSpec, context: PlanContext) -> Date? {
        guard spec.gracePeriod > 0, let now = context.graceFrom, let changed = lastChange(of: object) else { return nil }
        let until = changed.addingTimeInterval(spec.gracePeriod)
        return until > now ? until : nil
    }

    /// When someone last created or changed `object`: its creation, or the latest write to its
    /// spec by anyone but Sandman, its status writers, and the autoscalers' controller scaling it
    /// (a person's `kubectl scale` counts).
    static func lastChange(of object: JSONValue) -> Date? {
        var changed = object[path: ["metadata", "creationTimestamp"]]?.string.flatMap(KubeTime.parse)
        for entry in object[path: ["metadata", "managedFields"]]?.array ?? [] {
            let manager = entry["manager"]?.string
            let subresource = entry["subresource"]?.string ?? ""
            guard manager != KubeClient.fieldManager, subresource != "status",
                subresource != "scale" || manager != "kube-controller-manager",
                entry[path: ["fieldsV1", "f:spec"]] != nil, let time = entry["time"]?.string.flatMap(KubeTime.parse)
            else { continue }
            changed = max(changed ?? time, time)
        }
        return changed
    }

    static func skipReason(_ object: JSONValue, target: SleepSpec.Target, spec: SleepSpec) -> SkipReason? {
        let owners = object[path: ["metadata", "ownerReferences"]]?.array ?? []
        if let controller = owners.first(where: { $0["controller"]?.bool == true }) {
            return .controlled(by: "\(controller["kind"]?.string ?? "?")/\(controller["name"]?.string ?? "?")")
        }
        return spec.skipReason(for: object, in: target)
    }

    /// `patch` (strict: every path it removes or replaces exists) preceded by a `test` of the
    /// current value of every path it changes that exists; and of the resourceVersion when it
    /// creates a missing object or array, which a concurrent writer may have created meanwhile.
    static func guarded(_ patch: JSONPatch, on object: JSONValue) -> JSONPatch {
        var tests: [JSONPatch.Operation] = []
        var createsContainer = false
        for operation in patch.operations {
            switch operation {
            case .add(let path, let value), .replace(let path, let value):
                if let current = JSONPatch.value(at: path, in: object) {
                    tests.append(.test(path, current))
                } else if value.object != nil || value.array != nil {
                    createsContainer = true
                }
            case .remove(let path):
                if let current = JSONPatch.value(at: path, in: object) { tests.append(.test(path, current)) }
            default:
                continue
            }
        }
        if createsContainer, let version = object[path: ["metadata", "resourceVersion"]] {
            tests.insert(.test(JSONPointer(tokens: ["metadata", "resourceVersion"]), version), at: 0)
        }
        return JSONPatch(tests + patch.operations)
    }

    /// Whether `object` is in the state the sleep patch leaves it in: applying the patch as
    /// kube-green does changes nothing (internal/patcher/patcher.go `IsResourceChanged`).
    /// A partial sleep's patch depends on the replicas the object had: `restore` tells them
    /// (`spec` says whether the sleep is partial; the default is a full one).
    public static func isAsleep(
        _ object: JSONValue, under target: SleepSpec.Target, spec: SleepSpec = SleepSpec(targets: []), restore: String? = nil,
        budgets: DisruptionBudgets = DisruptionBudgets([])
    ) -> Bool {
        if target.scalesReplicas, spec.downtimeReplicas != nil, object[path: ["spec", "replicas"]]?.int == 0 {
            return true  // at zero, as a full sleep before this partial one left it
        }
        let patch = sleepPatch(for: object, under: target, spec: spec, restore: restore, budgets: budgets, neverUp: false).patch
        return (try? patch.applied(to: object, options: .kubeGreen)) == object
    }
}
