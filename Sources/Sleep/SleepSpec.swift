import JSON
import Kube

/// What sleeping a namespace touches: which kinds get which JSON patch, and which objects are
/// included or excluded. Built from a SleepInfo or a hub schedule.
public struct SleepSpec: Sendable, Equatable {
    /// A kind (by group, as SleepInfo patches name it) and the JSON patch that puts its objects to sleep.
    public struct Target: Sendable, Equatable {
        public var group: String
        public var kind: String
        public var patch: JSONPatch

        public init(group: String, kind: String, patch: JSONPatch) {
            self.group = group
            self.kind = kind
            self.patch = patch
        }

        /// `Deployment.apps`: the key of kube-green's restore data.
        public var groupKind: String { group.isEmpty ? kind : "\(kind).\(group)" }
    }

    /// An object picked by kind and name, or by labels (never both, as kube-green validates).
    public struct Selector: Sendable, Equatable {
        public var apiVersion: String?
        public var kind: String?
        public var name: String?
        public var labels: [String: String]?

        public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil, labels: [String: String]? = nil) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.name = name
            self.labels = labels
        }

        func matches(kind objectKind: String, object: JSONValue) -> Bool {
            if let labels {
                let objectLabels = (object[path: ["metadata", "labels"]]?.object ?? [:]).compactMapValues(\.string)
                return labels.allSatisfy { objectLabels[$0.key] == $0.value }
            }
            if let kind, kind != objectKind { return false }
            if let name { return object[path: ["metadata", "name"]]?.string == name }
            return false
        }
    }

    public var targets: [Target]
    /// Objects to leave alone: any match excludes.
    public var exclude: [Selector]
    /// When not empty, only objects that match at least one of these are touched.
    public var include: [Selector]

    public init(targets: [Target], exclude: [Selector] = [], include: [Selector] = []) {
        self.targets = targets
        self.exclude = exclude
        self.include = include
    }

    public static let scaleToZero = try! JSONPatch([["op": "add", "path": "/spec/replicas", "value": 0]])
    public static let suspend = try! JSONPatch([["op": "add", "path": "/spec/suspend", "value": true]])

    /// kube-green's defaults: Deployments and StatefulSets to zero unless turned off, CronJobs
    /// suspended when asked; a user patch for the same kind replaces its default.
    public init(
        suspendDeployments: Bool = true, suspendStatefulSets: Bool = true, suspendCronJobs: Bool = false,
        patches: [Target] = [], exclude: [Selector] = [], include: [Selector] = []
    ) {
        var targets: [Target] = []
        if suspendDeployments { targets.append(Target(group: "apps", kind: "Deployment", patch: Self.scaleToZero)) }
        if suspendStatefulSets { targets.append(Target(group: "apps", kind: "StatefulSet", patch: Self.scaleToZero)) }
        if suspendCronJobs { targets.append(Target(group: "batch", kind: "CronJob", patch: Self.suspend)) }
        for patch in patches {
            targets.removeAll { $0.groupKind == patch.groupKind }
            targets.append(patch)
        }
        self.init(targets: targets, exclude: exclude, include: include)
    }

    /// The spec of a SleepInfo; a bad patch or reference is an error naming the field.
    public init(sleepInfo: SleepInfo) throws(SleepSpecError) {
        var patches: [Target] = []
        for (index, patch) in sleepInfo.patches.enumerated() {
            let document: JSONValue
            do {
                document = try JSONValue(yaml: patch.patch)
            } catch {
                throw SleepSpecError(field: "spec.patches[\(index)].patch", reason: "not YAML or JSON: \(error)")
            }
            do {
                patches.append(Target(group: patch.group, kind: patch.kind, patch: try JSONPatch(document)))
            } catch {
                throw SleepSpecError(field: "spec.patches[\(index)].patch", reason: "\(error)")
            }
        }
        func selectors(_ references: [SleepInfo.Reference], field: String) throws(SleepSpecError) -> [Selector] {
            var result: [Selector] = []
            for (index, reference) in references.enumerated() {
                let byLabels = !(reference.matchLabels ?? [:]).isEmpty
                if byLabels, reference.name != nil || reference.kind != nil {
                    throw SleepSpecError(field: "spec.\(field)[\(index)]", reason: "give either matchLabels or kind and name, not both")
                }
                if !byLabels, reference.name == nil || reference.kind == nil {
                    throw SleepSpecError(field: "spec.\(field)[\(index)]", reason: "needs kind and name, or matchLabels")
                }
                result.append(Selector(apiVersion: reference.apiVersion, kind: reference.kind, name: reference.name, labels: byLabels ? reference.matchLabels : nil))
            }
            guard result.count <= 100 else { throw SleepSpecError(field: "spec.\(field)", reason: "at most 100 items, got \(result.count)") }
            return result
        }
        self.init(
            suspendDeployments: sleepInfo.suspendDeployments, suspendStatefulSets: sleepInfo.suspendStatefulSets,
            suspendCronJobs: sleepInfo.suspendCronJobs, patches: patches,
            exclude: try selectors(sleepInfo.excludeRef, field: "excludeRef"), include: try selectors(sleepInfo.includeRef, field: "includeRef")
        )
    }

    public func target(forGroupKind groupKind: String) -> Target? {
        targets.first { $0.groupKind == groupKind }
    }
}

/// A SleepInfo field Sandman cannot act on.
public struct SleepSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public var description: String { "\(field): \(reason)" }
}
