import Foundation
import JSON

/// Whether an Argo CD Application will undo a sleep of one of its workloads: with automated
/// self-heal it syncs drift back, unless `/spec/replicas` of the workload's kind is in its
/// `ignoreDifferences` and `RespectIgnoreDifferences=true` is among its sync options (without
/// that option a sync for any other reason still applies git's replicas).
public enum SelfHealCheck {
    public struct Verdict: Sendable, Equatable {
        /// Argo CD will scale the workload back up.
        public var conflict: Bool
        /// Why, in words.
        public var explanation: String
    }

    /// The verdict for a workload of `group`/`kind` named `name` in `namespace`.
    public static func verdict(_ application: Application, group: String, kind: String, namespace: String, name: String) -> Verdict {
        let policy = application.syncPolicy
        guard application.isAutomated, policy[path: ["automated", "selfHeal"]]?.bool == true else {
            return Verdict(conflict: false, explanation: "self-heal is off")
        }
        let ignored = ignoresReplicas(application.object[path: ["spec", "ignoreDifferences"]], group: group, kind: kind, namespace: namespace, name: name)
        let respected = (policy["syncOptions"]?.array ?? []).contains { $0.string == "RespectIgnoreDifferences=true" }
        switch (ignored, respected) {
        case (true, true):
            return Verdict(conflict: false, explanation: "/spec/replicas is ignored and RespectIgnoreDifferences=true")
        case (true, false):
            return Verdict(conflict: true, explanation: "self-heal is on and /spec/replicas is ignored, but without RespectIgnoreDifferences=true a sync applies git's replicas")
        default:
            return Verdict(conflict: true, explanation: "self-heal is on and /spec/replicas of \(kind).\(group) is not in ignoreDifferences")
        }
    }

    /// Whether an `ignoreDifferences` list leaves `/spec/replicas` of the workload out of the diff.
    static func ignoresReplicas(_ rules: JSONValue?, group: String, kind: String, namespace: String, name: String) -> Bool {
        (rules?.array ?? []).contains { rule in
            matches(rule["group"]?.string ?? "", group) && matches(rule["kind"]?.string ?? "", kind)
                && (rule["name"]?.string).map { $0.isEmpty || $0 == name } ?? true
                && (rule["namespace"]?.string).map { $0.isEmpty || $0 == namespace } ?? true
                && (coversReplicas(pointers: rule["jsonPointers"]) || coversReplicas(jq: rule["jqPathExpressions"]))
        }
    }

    private static func matches(_ pattern: String, _ value: String) -> Bool {
        pattern == "*" || pattern == value
    }

    /// `/spec/replicas` itself or a parent of it (`/spec`, or the whole object).
    private static func coversReplicas(pointers: JSONValue?) -> Bool {
        (pointers?.array ?? []).compactMap(\.string).contains { pointer in
            pointer.isEmpty || pointer == "/" || pointer == "/spec/replicas" || pointer == "/spec"
        }
    }

    private static func coversReplicas(jq: JSONValue?) -> Bool {
        (jq?.array ?? []).compactMap(\.string).contains { [".spec.replicas", ".spec", "."].contains($0.trimmingCharacters(in: .whitespaces)) }
    }
}
