import Foundation
import JSON

/// kube-green's SleepInfo (`kube-green.com/v1alpha1`): when a namespace sleeps and wakes, and
/// what is touched. Read as written; validation belongs to the schedule parser.
public struct SleepInfo: KubeResource {
    public static let kind = ResourceKind.sleepInfo
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }

    /// An object selected by name or labels in `excludeRef`/`includeRef`.
    public struct Reference: Sendable, Equatable {
        public var apiVersion: String?
        public var kind: String?
        public var name: String?
        public var matchLabels: [String: String]?
    }

    /// A JSON patch applied to every object of a kind while asleep.
    public struct PatchTarget: Sendable, Equatable {
        public var group: String
        public var kind: String
        /// RFC 6902 operations written as YAML (or JSON) text.
        public var patch: String
    }

    public var weekdays: String? { value("spec", "weekdays")?.string }
    public var sleepAt: String? { value("spec", "sleepAt")?.string }
    public var wakeUpAt: String? { value("spec", "wakeUpAt")?.string }
    public var timeZone: String? { value("spec", "timeZone")?.string }
    public var suspendCronJobs: Bool { value("spec", "suspendCronJobs")?.bool ?? false }
    /// nil means true, as in kube-green.
    public var suspendDeployments: Bool { value("spec", "suspendDeployments")?.bool ?? true }
    public var suspendStatefulSets: Bool { value("spec", "suspendStatefulSets")?.bool ?? true }

    public var excludeRef: [Reference] { references("excludeRef") }
    public var includeRef: [Reference] { references("includeRef") }

    public var patches: [PatchTarget] {
        (value("spec", "patches")?.array ?? []).compactMap { item in
            guard let kind = item[path: ["target", "kind"]]?.string, let patch = item["patch"]?.string else { return nil }
            return PatchTarget(group: item[path: ["target", "group"]]?.string ?? "", kind: kind, patch: patch)
        }
    }

    private func references(_ field: String) -> [Reference] {
        (value("spec", field)?.array ?? []).map { item in
            Reference(
                apiVersion: item["apiVersion"]?.string, kind: item["kind"]?.string, name: item["name"]?.string,
                matchLabels: item["matchLabels"]?.object?.compactMapValues(\.string)
            )
        }
    }

    public var lastScheduleTime: Date? {
        get { value("status", "lastScheduleTime")?.string.flatMap(KubeTime.parse) }
        set { object[path: ["status", "lastScheduleTime"]] = newValue.map { .string(KubeTime.format($0)) } }
    }

    /// `SLEEP`, `WAKE_UP` or empty.
    public var operation: String? {
        get { value("status", "operation")?.string }
        set { object[path: ["status", "operation"]] = newValue.map(JSONValue.string) }
    }
}
