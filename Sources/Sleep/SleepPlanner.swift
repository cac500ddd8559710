import JSON
import Kube

/// An object of a namespace, named as kube-green names it (`Deployment.apps/api`).
public struct ObjectRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var groupKind: String
    public var name: String

    public init(groupKind: String, name: String) {
        self.groupKind = groupKind
        self.name = name
    }

    public var description: String { "\(groupKind)/\(name)" }

    public static func < (lhs: ObjectRef, rhs: ObjectRef) -> Bool {
        (lhs.groupKind, lhs.name) < (rhs.groupKind, rhs.name)
    }

    /// The group and kind of a `Kind.group` key.
    var groupAndKind: (group: String, kind: String) {
        let parts = groupKind.split(separator: ".", maxSplits: 1).map(String.init)
        return (parts.count == 2 ? parts[1] : "", parts[0])
    }
}

/// Why an object is left as it is.
public enum SkipReason: Sendable, Equatable, CustomStringConvertible {
    case controlled(by: String)
    case excluded
    case notIncluded
    case alreadyAsleep
    case invalidPatch(String)
    case gone
    case modifiedDuringSleep

    public var description: String {
        switch self {
        case .controlled(let owner): "managed by its controller \(owner)"
        case .excluded: "excluded by excludeRef"
        case .notIncluded: "not selected by includeRef"
        case .alreadyAsleep: "already in its sleep state"
        case .invalidPatch(let reason): "the sleep patch does not apply: \(reason)"
        case .gone: "no longer exists"
        case .modifiedDuringSleep: "changed by someone while asleep: left as it is"
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
            guard let target = spec.target(forGroupKind: kind.groupKind) else { continue }
            for object in items {
                let name = object[path: ["metadata", "name"]]?.string ?? ""
                let ref = ObjectRef(groupKind: kind.groupKind, name: name)
                if let reason = skipReason(object, kind: kind.kind, spec: spec) {
                    plan.skipped.append((ref, reason))
                    continue
                }
                let slept: JSONValue
                do {
                    slept = try target.patch.applied(to: object)
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
                plan.changes.append(PlannedChange(ref: ref, kind: kind, patch: guarded(target.patch, on: object), restorePatch: restore))
            }
        }
        plan.changes.sort { $0.ref < $1.ref }
        plan.skipped.sort { $0.ref < $1.ref }
        return plan
    }

    static func skipReason(_ object: JSONValue, kind: String, spec: SleepSpec) -> SkipReason? {
        let owners = object[path: ["metadata", "ownerReferences"]]?.array ?? []
        if let controller = owners.first(where: { $0["controller"]?.bool == true }) {
            return .controlled(by: "\(controller["kind"]?.string ?? "?")/\(controller["name"]?.string ?? "?")")
        }
        if spec.exclude.contains(where: { $0.matches(kind: kind, object: object) }) { return .excluded }
        if !spec.include.isEmpty, !spec.include.contains(where: { $0.matches(kind: kind, object: object) }) { return .notIncluded }
        return nil
    }

    /// `patch` preceded by a `test` of the current value of every path it changes that exists.
    static func guarded(_ patch: JSONPatch, on object: JSONValue) -> JSONPatch {
        var tests: [JSONPatch.Operation] = []
        for operation in patch.operations {
            let path: JSONPointer
            switch operation {
            case .add(let pointer, _), .replace(let pointer, _), .remove(let pointer): path = pointer
            default: continue
            }
            if let current = JSONPatch.value(at: path, in: object) {
                tests.append(.test(path, current))
            }
        }
        return JSONPatch(tests + patch.operations)
    }

    /// Whether `object` is in the state the sleep patch leaves it in.
    public static func isAsleep(_ object: JSONValue, under target: SleepSpec.Target) -> Bool {
        (try? target.patch.applied(to: object)) == object
    }
}
