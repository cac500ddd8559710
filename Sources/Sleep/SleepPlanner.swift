import JSON
import Kube

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
}

/// What sleeping a namespace will do.
public struct SleepPlan: Sendable {
    public var changes: [PlannedChange] = []
    public var skipped: [(ref: ObjectRef, reason: SkipReason)] = []
    /// The restore data to save before patching: what was saved already plus the new entries.
    public var restore = RestoreData()
}

/// Decides, without I/O, what sleeping a namespace does to each of its objects.
public enum SleepPlanner {
    /// - Parameters:
    ///   - objects: the objects of each target kind, as listed.
    ///   - existing: restore data saved by an earlier sleep that was not undone; its entries are kept.
    public static func plan(spec: SleepSpec, objects: [(kind: ResourceKind, items: [JSONValue])], existing: RestoreData) -> SleepPlan {
        var plan = SleepPlan(restore: existing)
        for (kind, items) in objects {
            guard let target = spec.target(forGroupKind: RestoreData.key(group: kind.group, kind: kind.kind)) else { continue }
            for object in items {
                let name = object[path: ["metadata", "name"]]?.string ?? ""
                let ref = ObjectRef(groupKind: target.groupKind, name: name)
                if let reason = skipReason(object, target: target, spec: spec) {
                    plan.skipped.append((ref, reason))
                    continue
                }
                let slept: JSONValue
                let patch: JSONPatch
                do {
                    slept = try target.patch.applied(to: object, options: .kubeGreen)
                    patch = try target.patch.strict(for: object, options: .kubeGreen)
                } catch {
                    plan.skipped.append((ref, .invalidPatch("\(error)")))
                    continue
                }
                if slept == object {
                    // Asleep already: an entry saved by the sleep that did it is the only truth.
                    if existing.patch(groupKind: ref.groupKind, name: name) == nil {
                        plan.skipped.append((ref, .alreadyAsleep))
                    }
                    continue
                }
                let restore = MergePatch.diff(from: slept, to: object).serialized()
                plan.restore.set(restore, groupKind: ref.groupKind, name: name)
                plan.changes.append(PlannedChange(ref: ref, kind: kind, patch: guarded(patch, on: object), restorePatch: restore))
            }
        }
        plan.changes.sort { $0.ref < $1.ref }
        plan.skipped.sort { $0.ref < $1.ref }
        return plan
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
    public static func isAsleep(_ object: JSONValue, under target: SleepSpec.Target) -> Bool {
        (try? target.patch.applied(to: object, options: .kubeGreen)) == object
    }
}
