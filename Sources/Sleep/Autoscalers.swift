import JSON
import Kube

/// HorizontalPodAutoscalers are left alone by a sleep: their controller stops scaling a workload
/// at zero replicas and resumes once it is woken. A wake that would leave such a workload at zero
/// (restore data saying 0, as another tool may write it) would leave it there for good: it is
/// woken to the autoscaler's `minReplicas` instead.
public enum AutoscalerCheck {
    /// The restore patches to use instead, and a note for each, for the `objects` (as listed now)
    /// whose restore gives zero replicas while an autoscaler with a floor above zero targets them.
    public static func floors(
        restore: RestoreData, objects: [ObjectRef: JSONValue], autoscalers: [JSONValue]
    ) -> [ObjectRef: (patch: String, note: String)] {
        var result: [ObjectRef: (patch: String, note: String)] = [:]
        for ref in zeroRestores(restore, objects: objects) {
            let autoscaler = autoscalers.first { scaleTarget(of: $0) == ref }
            guard let autoscaler, let text = restore.patch(groupKind: ref.groupKind, name: ref.name),
                var patch = try? JSONValue(parsing: text)
            else { continue }
            let minimum = autoscaler[path: ["spec", "minReplicas"]]?.int ?? 1
            guard minimum > 0 else { continue }
            patch[path: ["spec", "replicas"]] = .int(minimum)
            let name = autoscaler[path: ["metadata", "name"]]?.string ?? "?"
            let note = "woken to \(minimum) replicas, the minReplicas of HorizontalPodAutoscaler \(name): its restore data said 0"
            result[ref] = (patch.serialized(), note)
        }
        return result
    }

    /// The workload an autoscaler (an HPA, a KEDA ScaledObject) scales: its `spec.scaleTargetRef`,
    /// a Deployment of `apps/v1` where KEDA lets the fields out.
    public static func scaleTarget(of autoscaler: JSONValue) -> ObjectRef {
        let reference = autoscaler[path: ["spec", "scaleTargetRef"]]
        let kind = ResourceKind(apiVersion: reference?["apiVersion"]?.string ?? "apps/v1", kind: reference?["kind"]?.string ?? "Deployment")
        return ObjectRef(groupKind: kind.groupKind, name: reference?["name"]?.string ?? "")
    }

    /// The objects whose restore patch leaves them at zero replicas.
    public static func zeroRestores(_ restore: RestoreData, objects: [ObjectRef: JSONValue]) -> [ObjectRef] {
        restore.refs.filter { ref in
            guard let object = objects[ref], let text = restore.patch(groupKind: ref.groupKind, name: ref.name),
                let patch = try? JSONValue(parsing: text)
            else { return false }
            return MergePatch.apply(patch, to: object)[path: ["spec", "replicas"]]?.int == 0
        }
    }
}
