import Foundation
import JSON
import Kube
import Testing
@testable import Sleep
import TestSupport

func deployment(_ name: String, replicas: Int64 = 3, labels: [String: String] = [:], owner: String? = nil) -> JSONValue {
    var metadata: JSONValue = ["name": .string(name), "namespace": "shop", "labels": .object(labels.mapValues(JSONValue.string))]
    if let owner {
        metadata["ownerReferences"] = [["apiVersion": "example.com/v1", "kind": "Rollout", "name": .string(owner), "uid": "u-1", "controller": true]]
    }
    return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": ["replicas": .int(replicas)]]
}

func cronJob(_ name: String, suspend: Bool? = false) -> JSONValue {
    var spec: JSONValue = ["schedule": "0 * * * *"]
    if let suspend { spec["suspend"] = .bool(suspend) }
    return ["apiVersion": "batch/v1", "kind": "CronJob", "metadata": ["name": .string(name), "namespace": "shop"], "spec": spec]
}

@Suite("Sleep planner")
struct SleepPlannerTests {
    @Test func defaultsScaleDeploymentsAndStatefulSetsButNotCronJobs() {
        let spec = SleepSpec()
        #expect(spec.targets.map(\.groupKind) == ["Deployment.apps", "StatefulSet.apps"])
        let withCronJobs = SleepSpec(suspendDeployments: false, suspendCronJobs: true)
        #expect(withCronJobs.targets.map(\.groupKind) == ["StatefulSet.apps", "CronJob.batch"])
        let custom = SleepSpec(patches: [.init(group: "apps", kind: "Deployment", patch: try! JSONPatch([["op": "add", "path": "/spec/replicas", "value": 1]]))])
        #expect(custom.targets.count == 2)
        #expect(custom.target(forGroupKind: "Deployment.apps")?.patch.document == [["op": "add", "path": "/spec/replicas", "value": 1]])
    }

    @Test func planSavesRestorePatchesAndSkipsWithReasons() {
        let spec = SleepSpec(suspendCronJobs: true, exclude: [.name("keep-me", kind: "Deployment", apiVersion: "apps/v1")])
        let plan = SleepPlanner.plan(spec: spec, objects: [
            (.deployment, [deployment("api"), deployment("keep-me"), deployment("owned", owner: "canary"), deployment("idle", replicas: 0)]),
            (.cronJob, [cronJob("nightly"), cronJob("never-set", suspend: nil), cronJob("paused", suspend: true)]),
        ], existing: RestoreData())
        #expect(plan.changes.map(\.ref.description) == ["CronJob.batch/never-set", "CronJob.batch/nightly", "Deployment.apps/api"])
        #expect(plan.restore.patch(groupKind: "Deployment.apps", name: "api") == #"{"spec":{"replicas":3}}"#)
        #expect(plan.restore.patch(groupKind: "CronJob.batch", name: "nightly") == #"{"spec":{"suspend":false}}"#)
        #expect(plan.restore.patch(groupKind: "CronJob.batch", name: "never-set") == #"{"spec":{"suspend":null}}"#)
        #expect(plan.skipped.map { "\($0.ref) \($0.reason)" } == [
            "CronJob.batch/paused already in its sleep state",
            "Deployment.apps/idle already in its sleep state",
            "Deployment.apps/keep-me excluded by excludeRef",
            "Deployment.apps/owned managed by its controller Rollout/canary",
        ])
        // The write is guarded by the values it replaces.
        #expect(plan.changes.last?.patch.document == [
            ["op": "test", "path": "/spec/replicas", "value": 3],
            ["op": "add", "path": "/spec/replicas", "value": 0],
        ])
    }

    @Test func severalIncludedNamesOfOneKindMeanAnyOfThem() {
        // kube-green ANDs several names into one field selector and matches nothing (#472).
        let include: [SleepSpec.Selector] = [.name("a", kind: "Deployment", apiVersion: "apps/v1"), .name("b", kind: "Deployment", apiVersion: "apps/v1")]
        let plan = SleepPlanner.plan(spec: SleepSpec(include: include), objects: [
            (.deployment, [deployment("a"), deployment("b"), deployment("c")]),
        ], existing: RestoreData())
        #expect(plan.changes.map(\.ref.name) == ["a", "b"])
        #expect(plan.skipped.map(\.ref.name) == ["c"])
        #expect(plan.skipped.first?.reason == .notIncluded)
    }

    @Test func anExistingRestoreEntryIsNeverReplacedByASleptValue() {
        var existing = RestoreData()
        existing.set(#"{"spec":{"replicas":5}}"#, groupKind: "Deployment.apps", name: "api")
        let plan = SleepPlanner.plan(spec: SleepSpec(), objects: [(.deployment, [deployment("api", replicas: 0), deployment("web")])], existing: existing)
        #expect(plan.restore.patch(groupKind: "Deployment.apps", name: "api") == #"{"spec":{"replicas":5}}"#)
        #expect(plan.changes.map(\.ref.name) == ["web"])
        #expect(plan.skipped.isEmpty)
    }

    @Test func genericPatchesWorkOnAnyKind() throws {
        let keda = try JSONPatch(JSONValue(yaml: """
            - op: add
              path: /metadata/annotations/autoscaling.keda.sh~1paused-replicas
              value: "0"
            """))
        let spec = SleepSpec(suspendDeployments: false, suspendStatefulSets: false, patches: [.init(group: "keda.sh", kind: "ScaledObject", patch: keda)])
        let object: JSONValue = ["apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": ["name": "worker", "annotations": ["team": "shop"]], "spec": ["minReplicaCount": 1]]
        let plan = SleepPlanner.plan(spec: spec, objects: [(ResourceKind(group: "keda.sh", version: "v1alpha1", kind: "ScaledObject"), [object])], existing: RestoreData())
        #expect(plan.restore.patch(groupKind: "ScaledObject.keda.sh", name: "worker") == #"{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":null}}}"#)
        let patched = try plan.changes[0].patch.applied(to: object)
        #expect(patched[path: ["metadata", "annotations", "autoscaling.keda.sh/paused-replicas"]] == "0")
        #expect(SleepPlanner.isAsleep(patched, under: spec.targets[0]))
        #expect(!SleepPlanner.isAsleep(object, under: spec.targets[0]))
    }

    @Test func tenThousandObjectsArePlanned() {
        let items = (0..<10_000).map { deployment("d\($0)", replicas: Int64($0 % 4)) }
        let plan = SleepPlanner.plan(spec: SleepSpec(), objects: [(.deployment, items)], existing: RestoreData())
        #expect(plan.changes.count == 7_500)
        #expect(plan.skipped.count == 2_500)
        #expect(plan.restore.count == 7_500)
    }

    @Test func emptyNamespaceNeedsNothing() {
        let plan = SleepPlanner.plan(spec: SleepSpec(), objects: [(.deployment, []), (.statefulSet, [])], existing: RestoreData())
        #expect(plan.changes.isEmpty && plan.skipped.isEmpty && plan.restore.isEmpty)
    }

    @Test func sleepInfoSpecIsReadAndValidated() throws {
        var sleepInfo = SleepInfo(name: "nights", namespace: "shop")
        sleepInfo.object["spec"] = [
            "weekdays": "1-5", "sleepAt": "20:00", "suspendCronJobs": true, "suspendStatefulSets": false,
            "excludeRef": [["apiVersion": "apps/v1", "kind": "Deployment", "name": "db"], ["matchLabels": ["keep": "awake"]]],
            "patches": [["target": ["group": "apps", "kind": "Deployment"], "patch": "- op: add\n  path: /spec/replicas\n  value: 1\n"]],
        ]
        let spec = try SleepSpec(sleepInfo: sleepInfo)
        #expect(spec.targets.map(\.groupKind) == ["CronJob.batch", "Deployment.apps"])
        #expect(spec.exclude.count == 2)

        sleepInfo.object[path: ["spec", "patches"]] = [["target": ["group": "apps", "kind": "Deployment"], "patch": "- op: explode\n  path: /x\n"]]
        let badPatch = #expect(throws: SleepSpecError.self) { try SleepSpec(sleepInfo: sleepInfo) }
        #expect(badPatch?.field == "spec.patches[0].patch")
        sleepInfo.object[path: ["spec", "patches"]] = nil
        sleepInfo.object[path: ["spec", "excludeRef"]] = [["kind": "Deployment", "name": "x", "matchLabels": ["a": "b"]]]
        let both = #expect(throws: SleepSpecError.self) { try SleepSpec(sleepInfo: sleepInfo) }
        #expect(both?.description == "spec.excludeRef[0]: give either matchLabels or apiVersion, kind and name, not both")
        // kube-green's CRD (and its 0.7 webhook for excludeRef) wants all three of a name reference.
        sleepInfo.object[path: ["spec", "excludeRef"]] = nil
        sleepInfo.object[path: ["spec", "includeRef"]] = [["kind": "Deployment", "name": "x"]]
        let noVersion = #expect(throws: SleepSpecError.self) { try SleepSpec(sleepInfo: sleepInfo) }
        #expect(noVersion?.description == "spec.includeRef[0]: needs apiVersion, kind and name, or matchLabels")
    }
}

@Suite("kube-green restore Secret")
struct RestoreSecretTests {
    @Test func writesKubeGreensFormat() throws {
        var restore = RestoreData()
        restore.set(#"{"spec":{"replicas":3}}"#, groupKind: "Deployment.apps", name: "api")
        restore.set(#"{"spec":{"suspend":false}}"#, groupKind: "CronJob.batch", name: "nightly")
        let owner: JSONValue = ["apiVersion": "kube-green.com/v1alpha1", "kind": "SleepInfo", "metadata": ["name": "nights", "uid": "uid-1"]]
        let secret = RestoreSecret.make(name: "sleepinfo-nights", namespace: "shop", owner: owner, scheduledAt: instant("2026-12-07T20:00:00Z"), operation: .sleep, restore: restore)
        #expect(secret.name == "sleepinfo-nights")
        #expect(secret.type == "Opaque")
        #expect(secret.metadata.labels == ["app.kubernetes.io/managed-by": "kube-green"])
        #expect(secret.metadata.ownerReferences == [OwnerReference(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", name: "nights", uid: "uid-1")])
        #expect(secret.string("scheduled-at") == "2026-12-07T20:00:00Z")
        #expect(secret.string("operation-type") == "SLEEP")
        // Byte for byte what kube-green writes: sorted keys, restore patches as JSON strings.
        #expect(secret.string("original-resource-info") == #"{"CronJob.batch":{"nightly":"{\"spec\":{\"suspend\":false}}"},"Deployment.apps":{"api":"{\"spec\":{\"replicas\":3}}"}}"#)
        #expect(try RestoreSecret.read(secret) == .init(scheduledAt: instant("2026-12-07T20:00:00Z"), operation: .sleep, restore: restore))

        let woken = RestoreSecret.make(name: "sleepinfo-nights", namespace: "shop", owner: nil, scheduledAt: instant("2026-12-08T08:00:00Z"), operation: .wakeUp, restore: nil)
        #expect(Set(woken.data.keys) == ["scheduled-at", "operation-type"])
        #expect(woken.string("operation-type") == "WAKE_UP")
    }

    @Test func readsOlderKubeGreenKeys() throws {
        var secret = Secret(name: "sleepinfo-old", namespace: "shop")
        secret.data = [
            "scheduled-at": Data("2024-05-10T18:00:00Z".utf8),
            "operation-type": Data("SLEEP".utf8),
            "deployment-replicas": Data(#"[{"name":"api","replicas":2},{"name":"web","replicas":1}]"#.utf8),
            "cronjobs-info": Data(#"[{"name":"nightly","suspend":false}]"#.utf8),
        ]
        let contents = try RestoreSecret.read(secret)
        #expect(contents.operation == .sleep)
        #expect(contents.restore.patch(groupKind: "Deployment.apps", name: "api") == #"{"spec":{"replicas":2}}"#)
        #expect(contents.restore.patch(groupKind: "Deployment.apps", name: "web") == #"{"spec":{"replicas":1}}"#)
        #expect(contents.restore.patch(groupKind: "CronJob.batch", name: "nightly") == #"{"spec":{"suspend":false}}"#)

        secret.data = ["original-resource-info": Data("not json".utf8)]
        let error = #expect(throws: RestoreSecretError.self) { try RestoreSecret.read(secret) }
        #expect(error?.key == "original-resource-info")
    }
}
