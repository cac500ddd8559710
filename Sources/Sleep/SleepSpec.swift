import Foundation
import JSON
import Kube
import Scheduling

/// What sleeping a namespace touches: which kinds get which JSON patch, and which objects are
/// included or excluded. Built from a SleepInfo or a hub schedule.
public struct SleepSpec: Sendable, Equatable {
    /// A kind (by group, as SleepInfo patches name it) and the JSON patch that puts its objects to sleep.
    public struct Target: Sendable, Equatable {
        public var group: String
        public var kind: String
        public var patch: JSONPatch

        /// A kind Sandman sleeps of its own accord (``NativeKind``): without the permission to
        /// list it, it is left out with a warning rather than failing the sleep.
        public var isNative = false

        public init(group: String, kind: String, patch: JSONPatch, isNative: Bool = false) {
            self.group = group
            self.kind = kind
            self.patch = patch
            self.isNative = isNative
        }

        /// `Deployment.apps`, `ConfigMap.` for the core group: kube-green's `PatchTarget.String()`
        /// (api/v1alpha1/sleepinfo_types.go), the key of its restore data.
        public var groupKind: String { RestoreData.key(group: group, kind: kind) }

        /// Whether it scales replicas to zero, which a partial sleep turns into "down to
        /// `downtimeReplicas`".
        public var scalesReplicas: Bool { patch == SleepSpec.scaleToZero }
    }

    /// An `excludeRef` or `includeRef` entry: one object by kind and name, or objects by labels
    /// (never both, as kube-green validates).
    public enum Selector: Sendable, Equatable {
        /// The object `name` of `kind` in the group of `apiVersion` (`apps/v1`: apps; `v1`: core).
        case name(String, kind: String, apiVersion: String)
        case labels([String: String])

        /// Whether a name selector names an object of `target`'s kind and group. kube-green checks
        /// the prefix `<group>/` of `apiVersion` (genericresources.go `matchPatchTargetAndFilterRef`),
        /// which never matches the core group's `v1`; Sandman reads `v1` as the core group.
        func refers(to target: Target) -> Bool {
            guard case .name(_, let kind, let apiVersion) = self, kind == target.kind else { return false }
            return ResourceKind(apiVersion: apiVersion, kind: kind).group == target.group
        }
    }

    public var targets: [Target]
    /// Objects to leave alone (see ``skipReason(for:in:)``).
    public var exclude: [Selector]
    /// Objects to restrict sleeping to (see ``skipReason(for:in:)``).
    public var include: [Selector]
    /// Replicas left running by targets that scale replicas; nil: none (a full sleep).
    public var downtimeReplicas: DowntimeReplicas?
    /// How long a workload created or changed by someone is left running before a scheduled
    /// sleep takes it; zero: no grace.
    public var gracePeriod: TimeInterval = 0

    public init(targets: [Target], exclude: [Selector] = [], include: [Selector] = []) {
        self.targets = targets
        self.exclude = exclude
        self.include = include
    }

    public static let scaleToZero = try! JSONPatch([["op": "add", "path": "/spec/replicas", "value": 0]])
    public static let suspend = try! JSONPatch([["op": "add", "path": "/spec/suspend", "value": true]])
    /// KEDA scales the target to zero and stops scaling it (keda.sh docs, "Pausing autoscaling").
    public static let pauseAutoscaling = try! JSONPatch([
        ["op": "add", "path": "/metadata/annotations/autoscaling.keda.sh~1paused-replicas", "value": "0"],
    ])
    /// A DaemonSet runs no pod once its pods must land on nodes with a label no node has.
    public static let noNodeLabel = "sandman.dev/asleep"
    public static let selectNoNode = try! JSONPatch([
        ["op": "add", "path": "/spec/template/spec/nodeSelector/sandman.dev~1asleep", "value": "true"],
    ])

    /// The kinds Sandman sleeps beyond kube-green's defaults, each with its patch.
    public enum NativeKind: String, Sendable, CaseIterable {
        /// Argo Rollouts, to zero replicas (when the CRD is installed).
        case rollouts
        /// KEDA ScaledObjects of sleeping workloads, paused at zero replicas.
        case scaledObjects
        /// DaemonSets, through a node selector no node matches.
        case daemonSets
        /// Jobs, suspended (finished ones are left alone).
        case jobs

        public var target: Target {
            switch self {
            case .rollouts: Target(group: "argoproj.io", kind: "Rollout", patch: SleepSpec.scaleToZero, isNative: true)
            case .scaledObjects: Target(group: "keda.sh", kind: "ScaledObject", patch: SleepSpec.pauseAutoscaling, isNative: true)
            case .daemonSets: Target(group: "apps", kind: "DaemonSet", patch: SleepSpec.selectNoNode, isNative: true)
            case .jobs: Target(group: "batch", kind: "Job", patch: SleepSpec.suspend, isNative: true)
            }
        }
    }

    /// kube-green's defaults: Deployments and StatefulSets to zero unless turned off, CronJobs
    /// suspended when asked; a user patch for the same kind replaces its default.
    /// `native`: kinds beyond kube-green's, before the patches (which replace them too).
    public init(
        suspendDeployments: Bool = true, suspendStatefulSets: Bool = true, suspendCronJobs: Bool = false,
        native: [NativeKind] = [], patches: [Target] = [], exclude: [Selector] = [], include: [Selector] = []
    ) {
        var targets: [Target] = []
        if suspendDeployments { targets.append(Target(group: "apps", kind: "Deployment", patch: Self.scaleToZero)) }
        if suspendStatefulSets { targets.append(Target(group: "apps", kind: "StatefulSet", patch: Self.scaleToZero)) }
        if suspendCronJobs { targets.append(Target(group: "batch", kind: "CronJob", patch: Self.suspend)) }
        targets += NativeKind.allCases.filter(native.contains).map(\.target)
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
                // kube-green's rule (its webhook in 0.7, a CEL rule on the CRD since).
                let byName = [reference.apiVersion, reference.kind, reference.name].map { ($0 ?? "").isEmpty }
                if let labels = reference.matchLabels, !labels.isEmpty {
                    guard byName.allSatisfy(\.self) else {
                        throw SleepSpecError(field: "spec.\(field)[\(index)]", reason: "give either matchLabels or apiVersion, kind and name, not both")
                    }
                    result.append(.labels(labels))
                } else if let apiVersion = reference.apiVersion, let kind = reference.kind, let name = reference.name, !byName.contains(true) {
                    result.append(.name(name, kind: kind, apiVersion: apiVersion))
                } else {
                    throw SleepSpecError(field: "spec.\(field)[\(index)]", reason: "needs apiVersion, kind and name, or matchLabels")
                }
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

    /// The target whose restore data is kept under `groupKind` (either spelling of a core kind).
    public func target(forGroupKind groupKind: String) -> Target? {
        let key = RestoreData.normalized(groupKind)
        return targets.first { $0.groupKind == key }
    }

    /// Why `object`, of `target`'s kind, is left out of sleeping, as kube-green's list options
    /// leave it out (internal/controller/sleepinfo/jsonpatch/genericresources.go
    /// `getListOptions`): every rule is ANDed into one field and one label selector.
    ///
    /// - excludeRef by name: `metadata.name!=NAME` for the names of this kind only.
    /// - excludeRef by labels: `KEY!=VALUE` for every pair of every entry, for every kind; so an
    ///   object with any one of the pairs is excluded.
    /// - includeRef by name: `metadata.name==NAME` for this kind only; other kinds are not restricted.
    /// - includeRef by labels: `KEY==VALUE` for every pair of every entry, for every kind.
    ///
    /// One difference: several includeRef names of one kind select any of them here, where
    /// kube-green ANDs them and selects nothing (kube-green issue #472).
    public func skipReason(for object: JSONValue, in target: Target) -> SkipReason? {
        let name = object[path: ["metadata", "name"]]?.string ?? ""
        let labels = (object[path: ["metadata", "labels"]]?.object ?? [:]).compactMapValues(\.string)
        func names(_ selectors: [Selector]) -> [String] {
            selectors.compactMap { selector in
                guard case .name(let name, _, _) = selector, selector.refers(to: target) else { return nil }
                return name
            }
        }
        func pairs(_ selectors: [Selector]) -> [(key: String, value: String)] {
            selectors.flatMap { selector -> [(key: String, value: String)] in
                guard case .labels(let labels) = selector else { return [] }
                return labels.map { ($0.key, $0.value) }
            }
        }
        if names(exclude).contains(name) || pairs(exclude).contains(where: { labels[$0.key] == $0.value }) {
            return .excluded
        }
        let included = names(include)
        if !included.isEmpty && !included.contains(name) || pairs(include).contains(where: { labels[$0.key] != $0.value }) {
            return .notIncluded
        }
        return nil
    }
}

/// A SleepInfo field Sandman cannot act on.
public struct SleepSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public var description: String { "\(field): \(reason)" }

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}
