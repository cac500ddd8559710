import Foundation
import JSON
import Kube
import Testing
@testable import Sleep

/// What sleeping one object does under a SleepInfo patch, as kube-green does it
/// (internal/controller/sleepinfo/jsonpatch/jsonpatch.go `Sleep`: patcher.Exec, then
/// `CreateMergePatch(modified, original)` as the restore patch, and nothing when it is `{}`).
@Suite("Sleep plans as kube-green makes them")
struct KubeGreenPlanTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var source: String
        var kind = ResourceKind.deployment
        var object: String
        var patch: String
        /// The restore patch saved; nil when the object is already asleep.
        var restore: String?
        /// The JSON patch sent to the API server.
        var sent: String?
        var testDescription: String { source }
    }

    static let cases: [Case] = [
        Case(
            source: "defaultpatches.go deploymentPatch on replicas 3",
            object: #"{"metadata":{"name":"api","resourceVersion":"7"},"spec":{"replicas":3}}"#,
            patch: #"[{"op":"add","path":"/spec/replicas","value":0}]"#,
            restore: #"{"spec":{"replicas":3}}"#,
            sent: #"[{"op":"test","path":"/spec/replicas","value":3},{"op":"add","path":"/spec/replicas","value":0}]"#
        ),
        Case(
            source: "issue 14 item 1: add, and remove of an existing annotation",
            object: #"{"metadata":{"annotations":{"keep-warm":"true"},"name":"api","resourceVersion":"7"},"spec":{"replicas":3}}"#,
            patch: #"[{"op":"add","path":"/spec/replicas","value":0},{"op":"remove","path":"/metadata/annotations/keep-warm"}]"#,
            restore: #"{"metadata":{"annotations":{"keep-warm":"true"}},"spec":{"replicas":3}}"#,
            sent: #"[{"op":"test","path":"/spec/replicas","value":3},{"op":"test","path":"/metadata/annotations/keep-warm","value":"true"},{"op":"add","path":"/spec/replicas","value":0},{"op":"remove","path":"/metadata/annotations/keep-warm"}]"#
        ),
        Case(
            source: "issue 14 item 1: patcher.go AllowMissingPathOnRemove, the annotation is not there",
            object: #"{"metadata":{"name":"web","resourceVersion":"7"},"spec":{"replicas":2}}"#,
            patch: #"[{"op":"add","path":"/spec/replicas","value":0},{"op":"remove","path":"/metadata/annotations/keep-warm"}]"#,
            restore: #"{"spec":{"replicas":2}}"#,
            sent: #"[{"op":"test","path":"/spec/replicas","value":2},{"op":"add","path":"/spec/replicas","value":0}]"#
        ),
        Case(
            source: "issue 14 item 1: asleep already, re-applying the remove is a no-op (patcher.go IsResourceChanged)",
            object: #"{"metadata":{"name":"api","resourceVersion":"7"},"spec":{"replicas":0}}"#,
            patch: #"[{"op":"add","path":"/spec/replicas","value":0},{"op":"remove","path":"/metadata/annotations/keep-warm"}]"#
        ),
        Case(
            source: "jsonpatch_test.go full lifecycle - keda ScaledObject: test-scaledobject-1 has no annotations",
            kind: ResourceKind(group: "keda.sh", version: "v1alpha1", kind: "ScaledObject"),
            object: #"{"metadata":{"name":"test-scaledobject-1","resourceVersion":"7"}}"#,
            patch: #"[{"op":"add","path":"/metadata/annotations/autoscaling.keda.sh~1paused-replicas","value":"0"}]"#,
            restore: #"{"metadata":{"annotations":null}}"#,
            sent: #"[{"op":"test","path":"/metadata/resourceVersion","value":"7"},{"op":"add","path":"/metadata/annotations","value":{"autoscaling.keda.sh/paused-replicas":"0"}}]"#
        ),
        Case(
            source: "jsonpatch_test.go full lifecycle - keda ScaledObject: test-scaledobject-2 has annotations",
            kind: ResourceKind(group: "keda.sh", version: "v1alpha1", kind: "ScaledObject"),
            object: #"{"metadata":{"annotations":{"some":"field"},"name":"test-scaledobject-2","resourceVersion":"7"}}"#,
            patch: #"[{"op":"add","path":"/metadata/annotations/autoscaling.keda.sh~1paused-replicas","value":"0"}]"#,
            restore: #"{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":null}}}"#,
            sent: #"[{"op":"add","path":"/metadata/annotations/autoscaling.keda.sh~1paused-replicas","value":"0"}]"#
        ),
        Case(
            source: "defaultpatches.go cronjobPatch on a CronJob without suspend",
            kind: .cronJob,
            object: #"{"metadata":{"name":"nightly","resourceVersion":"7"},"spec":{"schedule":"0 * * * *"}}"#,
            patch: #"[{"op":"add","path":"/spec/suspend","value":true}]"#,
            restore: #"{"spec":{"suspend":null}}"#,
            sent: #"[{"op":"add","path":"/spec/suspend","value":true}]"#
        ),
    ]

    @Test(arguments: cases)
    func plans(_ testCase: Case) throws {
        let object = try JSONValue(parsing: testCase.object)
        let target = SleepSpec.Target(group: testCase.kind.group, kind: testCase.kind.kind, patch: try JSONPatch(JSONValue(parsing: testCase.patch)))
        let plan = SleepPlanner.plan(spec: SleepSpec(targets: [target]), objects: [(testCase.kind, [object])], existing: RestoreData())
        let name = try #require(object[path: ["metadata", "name"]]?.string)
        #expect(plan.restore.patch(groupKind: target.groupKind, name: name) == testCase.restore)
        #expect(plan.changes.first?.patch.document == (try testCase.sent.map { try JSONValue(parsing: $0) }))
        if let change = plan.changes.first {
            // What the API server does with what is sent is what kube-green's patcher does.
            #expect(try change.patch.applied(to: object) == (try target.patch.applied(to: object, options: .kubeGreen)))
            #expect(SleepPlanner.isAsleep(try change.patch.applied(to: object), under: target))
        } else {
            #expect(plan.skipped.map(\.reason) == [.alreadyAsleep])
            #expect(SleepPlanner.isAsleep(object, under: target))
        }
    }

    /// Issue 14 item 3: kube-green keys restore data by `fmt.Sprintf("%s.%s", Kind, Group)`
    /// (api/v1alpha1/sleepinfo_types.go `PatchTarget.String`), so a core kind is `ConfigMap.`.
    @Test func coreKindsAreKeyedWithATrailingDot() throws {
        let target = SleepSpec.Target(group: "", kind: "ConfigMap", patch: try JSONPatch(JSONValue(parsing: #"[{"op":"add","path":"/data/mode","value":"asleep"}]"#)))
        #expect(target.groupKind == "ConfigMap.")
        let object: JSONValue = ["metadata": ["name": "flags"], "data": ["mode": "awake"]]
        let plan = SleepPlanner.plan(spec: SleepSpec(targets: [target]), objects: [(.configMap, [object])], existing: RestoreData())
        #expect(plan.changes.map(\.ref.description) == ["ConfigMap./flags"])
        #expect(plan.restore.serialized == #"{"ConfigMap.":{"flags":"{\"data\":{\"mode\":\"awake\"}}"}}"#)
        #expect(ObjectRef(groupKind: "ConfigMap.", name: "flags").groupAndKind == ("", "ConfigMap"))

        // Secrets Sandman wrote before used `ConfigMap`: read as the same kind, rewritten for kube-green.
        var secret = Secret(name: "sleepinfo-nights", namespace: "shop")
        secret.data = ["operation-type": Data("SLEEP".utf8), "original-resource-info": Data(#"{"ConfigMap":{"flags":"{\"data\":{\"mode\":\"awake\"}}"},"Deployment.apps":{"api":"{}"}}"#.utf8)]
        #expect(try RestoreSecret.read(secret).restore.patch(groupKind: "ConfigMap.", name: "flags") == #"{"data":{"mode":"awake"}}"#)
        #expect(SleepSpec(targets: [target]).target(forGroupKind: "ConfigMap") == target)
        let rewritten = try #require(try RestoreSecret.keyedForKubeGreen(secret))
        #expect(rewritten.string("original-resource-info") == #"{"ConfigMap.":{"flags":"{\"data\":{\"mode\":\"awake\"}}"},"Deployment.apps":{"api":"{}"}}"#)
        #expect(try RestoreSecret.keyedForKubeGreen(rewritten) == nil)
    }

    /// sleepinfodata.go `convertOldSecretDataToNewFormat`: the keys of kube-green before 0.6
    /// replace the kind's entries, and fields they lack read as Go's zero values.
    @Test func olderKeysReplaceTheirKindsEntries() throws {
        var secret = Secret(name: "sleepinfo-old", namespace: "shop")
        secret.data = [
            "original-resource-info": Data(#"{"Deployment.apps":{"gone":"{\"spec\":{\"replicas\":9}}"},"StatefulSet.apps":{"db":"{\"spec\":{\"replicas\":3}}"}}"#.utf8),
            "deployment-replicas": Data(#"[{"name":"api"},{"name":"","replicas":4}]"#.utf8),
            "cronjobs-info": Data("null".utf8),
        ]
        let restore = try RestoreSecret.read(secret).restore
        #expect(restore.patches == [
            "Deployment.apps": ["api": #"{"spec":{"replicas":0}}"#],
            "StatefulSet.apps": ["db": #"{"spec":{"replicas":3}}"#],
        ])
    }

    /// jsonpatch.go `GetOriginalInfoToRestore` unmarshals into map[string]map[string]string:
    /// anything else is an error there, and here.
    @Test func restorePatchesMustBeStrings() {
        var secret = Secret(name: "sleepinfo-bad", namespace: "shop")
        secret.data = ["original-resource-info": Data(#"{"Deployment.apps":{"api":{"spec":{"replicas":3}}}}"#.utf8)]
        let error = #expect(throws: RestoreSecretError.self) { try RestoreSecret.read(secret) }
        #expect(error?.description == "original-resource-info: Deployment.apps: a restore patch is not a string")
    }
}
