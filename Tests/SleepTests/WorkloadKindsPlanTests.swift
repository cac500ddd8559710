import Foundation
import JSON
import Kube
import Scheduling
import Testing
@testable import Sleep
import TestSupport

private let rollout = ResourceKind(group: "argoproj.io", version: "v1alpha1", kind: "Rollout")
private let scaledObject = ResourceKind(group: "keda.sh", version: "v1alpha1", kind: "ScaledObject")
private let daemonSet = ResourceKind(group: "apps", version: "v1", kind: "DaemonSet")
private let job = ResourceKind(group: "batch", version: "v1", kind: "Job")

private func object(_ kind: ResourceKind, _ name: String, _ fields: JSONValue = [:], metadata: JSONValue = [:]) -> JSONValue {
    var result: JSONValue = [
        "apiVersion": .string(kind.group.isEmpty ? kind.version : "\(kind.group)/\(kind.version)"), "kind": .string(kind.kind),
        "metadata": ["name": .string(name), "namespace": "shop"],
    ]
    for (key, value) in fields.object ?? [:] { result[key] = value }
    for (key, value) in metadata.object ?? [:] { result[path: ["metadata", key]] = value }
    return result
}

private func scaled(_ name: String, target: String, kind: String? = nil, annotations: [String: String] = [:]) -> JSONValue {
    var reference: JSONValue = ["name": .string(target)]
    if let kind { reference["kind"] = .string(kind) }
    let metadata: JSONValue = annotations.isEmpty ? [:] : ["annotations": .object(annotations.mapValues(JSONValue.string))]
    return object(scaledObject, name, ["spec": ["scaleTargetRef": reference]], metadata: metadata)
}

private func workload(_ name: String, replicas: Int64, app: String? = nil) -> JSONValue {
    var result = deployment(name, replicas: replicas)
    result[path: ["spec", "template", "metadata", "labels"]] = ["app": .string(app ?? name)]
    return result
}

private func budget(_ name: String, app: String, _ rule: JSONValue) -> JSONValue {
    var spec: JSONValue = ["selector": ["matchLabels": ["app": .string(app)]]]
    for (key, value) in rule.object ?? [:] { spec[key] = value }
    return object(ResourceKind(group: "policy", version: "v1", kind: "PodDisruptionBudget"), name, ["spec": spec])
}

/// The kinds beyond kube-green's defaults, partial sleep and the grace period, planned without I/O.
@Suite("Sleep planner: workload kinds, partial sleep, grace")
struct WorkloadKindsPlanTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var spec: SleepSpec
        var objects: [(kind: ResourceKind, items: [JSONValue])]
        var context = PlanContext()
        var existing = RestoreData()
        /// `ref → restore patch` of each change.
        var changes: [String: String]
        var skipped: [String: SkipReason] = [:]
        /// A path of one changed object and the value the sleep leaves there.
        var slept: (ref: String, path: [String], value: JSONValue?)?
        var testDescription: String { name }
    }

    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static func ago(_ minutes: Double) -> JSONValue { .string(KubeTime.format(now.addingTimeInterval(-minutes * 60))) }
    static let native = SleepSpec(native: SleepSpec.NativeKind.allCases)
    static func partial(_ replicas: String) -> SleepSpec {
        var spec = SleepSpec()
        spec.downtimeReplicas = DowntimeReplicas(replicas)
        return spec
    }
    static func grace(_ minutes: Double) -> SleepSpec {
        var spec = SleepSpec()
        spec.gracePeriod = minutes * 60
        return spec
    }
    static func restore(_ entries: [String: String]) -> RestoreData {
        var data = RestoreData()
        for (key, patch) in entries {
            let ref = key.split(separator: "/").map(String.init)
            data.set(patch, groupKind: ref[0], name: ref[1])
        }
        return data
    }
    static func managed(_ manager: String, minutesAgo: Double, subresource: String? = nil) -> JSONValue {
        var entry: JSONValue = ["manager": .string(manager), "operation": "Update", "time": ago(minutesAgo), "fieldsV1": ["f:spec": ["f:replicas": [:]]]]
        if let subresource { entry["subresource"] = .string(subresource) }
        return entry
    }

    static let cases: [Case] = [
        Case(
            name: "an Argo Rollout goes to zero like a Deployment", spec: native,
            objects: [(rollout, [object(rollout, "web", ["spec": ["replicas": 4]])])],
            changes: ["Rollout.argoproj.io/web": #"{"spec":{"replicas":4}}"#], slept: ("Rollout.argoproj.io/web", ["spec", "replicas"], 0)
        ),
        Case(
            name: "a ScaledObject of a sleeping Deployment is paused at zero; the annotation goes at wake", spec: native,
            objects: [(scaledObject, [scaled("api-scaler", target: "api")]), (.deployment, [deployment("api")])],
            changes: [
                "Deployment.apps/api": #"{"spec":{"replicas":3}}"#,
                "ScaledObject.keda.sh/api-scaler": #"{"metadata":{"annotations":null}}"#,
            ],
            slept: ("ScaledObject.keda.sh/api-scaler", ["metadata", "annotations", "autoscaling.keda.sh/paused-replicas"], "0")
        ),
        Case(
            name: "a paused-replicas value a person set is given back at wake", spec: native,
            objects: [(.deployment, [deployment("api")]), (scaledObject, [scaled("s", target: "api", annotations: ["autoscaling.keda.sh/paused-replicas": "2"])])],
            changes: [
                "Deployment.apps/api": #"{"spec":{"replicas":3}}"#,
                "ScaledObject.keda.sh/s": #"{"metadata":{"annotations":{"autoscaling.keda.sh/paused-replicas":"2"}}}"#,
            ]
        ),
        Case(
            name: "a ScaledObject of an excluded Deployment is left alone",
            spec: SleepSpec(native: [.scaledObjects], exclude: [.name("api", kind: "Deployment", apiVersion: "apps/v1")]),
            objects: [(.deployment, [deployment("api")]), (scaledObject, [scaled("s", target: "api")])],
            changes: [:], skipped: ["Deployment.apps/api": .excluded, "ScaledObject.keda.sh/s": .workloadAwake(ObjectRef(groupKind: "Deployment.apps", name: "api"))]
        ),
        Case(
            name: "a SleepInfo may pause KEDA alone and let it scale the workloads to zero",
            spec: SleepSpec(suspendDeployments: false, patches: [SleepSpec.Target(group: "keda.sh", kind: "ScaledObject", patch: SleepSpec.pauseAutoscaling)]),
            objects: [(.deployment, [deployment("api")]), (scaledObject, [scaled("s", target: "api")])],
            changes: ["ScaledObject.keda.sh/s": #"{"metadata":{"annotations":null}}"#]
        ),
        Case(
            name: "a hub schedule pauses a ScaledObject only with its workload",
            spec: SleepSpec(suspendStatefulSets: false, native: [.scaledObjects]),
            objects: [(.statefulSet, [object(.statefulSet, "db", ["spec": ["replicas": 2]])]), (scaledObject, [scaled("s", target: "db", kind: "StatefulSet")])],
            changes: [:], skipped: ["ScaledObject.keda.sh/s": .workloadAwake(ObjectRef(groupKind: "StatefulSet.apps", name: "db"))]
        ),
        Case(
            name: "a partial sleep leaves KEDA running", spec: { var spec = native; spec.downtimeReplicas = .count(1); return spec }(),
            objects: [(.deployment, [deployment("api")]), (scaledObject, [scaled("s", target: "api")])],
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":3}}"#], skipped: ["ScaledObject.keda.sh/s": .partialSleep]
        ),
        Case(
            name: "a look at a sleeping namespace: what the sleep covered counts only if changed since", spec: SleepSpec(),
            objects: [(.deployment, [
                object(.deployment, "scaled-by-hpa", ["spec": ["replicas": 2]], metadata: [
                    "creationTimestamp": ago(600), "managedFields": [managed("kube-controller-manager", minutesAgo: 5, subresource: "scale")],
                ]),
                object(.deployment, "scaled-by-person", ["spec": ["replicas": 2]], metadata: [
                    "creationTimestamp": ago(600), "managedFields": [managed("kubectl", minutesAgo: 5, subresource: "scale")],
                ]),
                object(.deployment, "new", ["spec": ["replicas": 1]], metadata: ["creationTimestamp": ago(5)]),
            ])],
            context: PlanContext(changedSince: now.addingTimeInterval(-3600)),
            existing: restore(["Deployment.apps/scaled-by-hpa": #"{"spec":{"replicas":4}}"#, "Deployment.apps/scaled-by-person": #"{"spec":{"replicas":4}}"#]),
            changes: ["Deployment.apps/scaled-by-person": #"{"spec":{"replicas":2}}"#, "Deployment.apps/new": #"{"spec":{"replicas":1}}"#]
        ),
        Case(
            name: "a look at a sleeping namespace: a ScaledObject made since for a workload asleep and unchanged is paused",
            spec: native,
            objects: [
                (.deployment, [object(.deployment, "api", ["spec": ["replicas": 0]], metadata: ["creationTimestamp": ago(600)])]),
                (scaledObject, [{ var made = scaled("s", target: "api"); made[path: ["metadata", "creationTimestamp"]] = ago(5); return made }()]),
            ],
            context: PlanContext(changedSince: now.addingTimeInterval(-3600)),
            existing: restore(["Deployment.apps/api": #"{"spec":{"replicas":3}}"#]),
            changes: ["ScaledObject.keda.sh/s": #"{"metadata":{"annotations":null}}"#]
        ),
        Case(
            name: "grace: a person's kubectl scale counts", spec: grace(15),
            objects: [(.deployment, [object(.deployment, "api", ["spec": ["replicas": 2]], metadata: [
                "creationTimestamp": ago(600), "managedFields": [managed("kubectl", minutesAgo: 2, subresource: "scale")],
            ])])],
            context: PlanContext(graceFrom: now),
            changes: [:], skipped: ["Deployment.apps/api": .inGrace(until: now.addingTimeInterval(13 * 60))]
        ),
        Case(
            name: "a DaemonSet gets a node selector no node matches; one it had is kept", spec: native,
            objects: [(daemonSet, [
                object(daemonSet, "agent", ["spec": ["template": ["spec": ["containers": []]]]]),
                object(daemonSet, "ssd-agent", ["spec": ["template": ["spec": ["nodeSelector": ["disk": "ssd"]]]]]),
            ])],
            changes: [
                "DaemonSet.apps/agent": #"{"spec":{"template":{"spec":{"nodeSelector":null}}}}"#,
                "DaemonSet.apps/ssd-agent": #"{"spec":{"template":{"spec":{"nodeSelector":{"sandman.dev/asleep":null}}}}}"#,
            ],
            slept: ("DaemonSet.apps/ssd-agent", ["spec", "template", "spec", "nodeSelector"], ["disk": "ssd", "sandman.dev/asleep": "true"])
        ),
        Case(
            name: "a running Job is suspended; a finished one and a CronJob's are not", spec: native,
            objects: [(job, [
                object(job, "backfill", ["spec": ["suspend": false]]),
                object(job, "done", ["spec": ["suspend": false], "status": ["conditions": [["type": "Complete", "status": "True"]]]]),
                object(job, "failed", ["status": ["conditions": [["type": "Failed", "status": "True"]]]]),
                object(job, "nightly-123", metadata: ["ownerReferences": [["kind": "CronJob", "name": "nightly", "controller": true]]]),
            ])],
            changes: ["Job.batch/backfill": #"{"spec":{"suspend":false}}"#],
            skipped: ["Job.batch/done": .finished, "Job.batch/failed": .finished, "Job.batch/nightly-123": .controlled(by: "CronJob/nightly")]
        ),
        Case(
            name: "kube-green's defaults touch none of the new kinds", spec: SleepSpec(),
            objects: [(rollout, [object(rollout, "web", ["spec": ["replicas": 4]])]), (job, [object(job, "backfill")])],
            changes: [:]
        ),
        Case(
            name: "partial: a number of replicas", spec: partial("1"),
            objects: [(.deployment, [deployment("api", replicas: 3)])],
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":3}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 1)
        ),
        Case(
            name: "partial: a percentage, rounded up", spec: partial("50%"),
            objects: [(.deployment, [deployment("api", replicas: 3)])],
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":3}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 2)
        ),
        Case(
            name: "partial: never scales up", spec: partial("5"),
            objects: [(.deployment, [deployment("api", replicas: 3)])],
            changes: [:], skipped: ["Deployment.apps/api": .alreadyAsleep]
        ),
        Case(
            name: "partial: CronJobs are suspended as usual", spec: { var spec = SleepSpec(suspendCronJobs: true); spec.downtimeReplicas = .count(1); return spec }(),
            objects: [(.cronJob, [cronJob("nightly")])],
            changes: ["CronJob.batch/nightly": #"{"spec":{"suspend":false}}"#]
        ),
        Case(
            name: "partial: a minAvailable budget is a floor", spec: partial("1"),
            objects: [(.deployment, [workload("api", replicas: 4)])],
            context: PlanContext(budgets: DisruptionBudgets([budget("api-pdb", app: "api", ["minAvailable": 2])])),
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":4}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 2)
        ),
        Case(
            name: "partial: a maxUnavailable budget is a floor", spec: partial("0"),
            objects: [(.deployment, [workload("api", replicas: 4)])],
            context: PlanContext(budgets: DisruptionBudgets([budget("api-pdb", app: "api", ["maxUnavailable": 1])])),
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":4}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 3)
        ),
        Case(
            name: "partial: a percentage budget rounds up", spec: partial("1"),
            objects: [(.deployment, [workload("api", replicas: 3)])],
            context: PlanContext(budgets: DisruptionBudgets([budget("api-pdb", app: "api", ["minAvailable": "50%"])])),
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":3}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 2)
        ),
        Case(
            name: "partial: a budget of other pods is no floor", spec: partial("1"),
            objects: [(.deployment, [workload("api", replicas: 3)])],
            context: PlanContext(budgets: DisruptionBudgets([budget("db-pdb", app: "db", ["minAvailable": 3])])),
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":3}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 1)
        ),
        Case(
            name: "a full sleep after a partial one keeps the replicas the workload had", spec: SleepSpec(),
            objects: [(.deployment, [deployment("api", replicas: 1)])], context: PlanContext(previousDowntime: .count(1)),
            existing: restore(["Deployment.apps/api": #"{"spec":{"replicas":4}}"#]),
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":4}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 0)
        ),
        Case(
            name: "a partial sleep after a full one does not scale up", spec: partial("1"),
            objects: [(.deployment, [deployment("api", replicas: 0)])],
            existing: restore(["Deployment.apps/api": #"{"spec":{"replicas":4}}"#]), changes: [:]
        ),
        Case(
            name: "a person's change since the earlier sleep is the new original", spec: SleepSpec(),
            objects: [(.deployment, [deployment("api", replicas: 3)])], context: PlanContext(previousDowntime: .count(1)),
            existing: restore(["Deployment.apps/api": #"{"spec":{"replicas":4}}"#]),
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":3}}"#]
        ),
        Case(
            name: "a full sleep ignores budgets (kube-green's sleep)", spec: SleepSpec(),
            objects: [(.deployment, [workload("api", replicas: 3)])],
            context: PlanContext(budgets: DisruptionBudgets([budget("api-pdb", app: "api", ["minAvailable": 2])])),
            changes: ["Deployment.apps/api": #"{"spec":{"replicas":3}}"#], slept: ("Deployment.apps/api", ["spec", "replicas"], 0)
        ),
        Case(
            name: "grace: created five minutes before a scheduled sleep", spec: grace(15),
            objects: [(.deployment, [object(.deployment, "new", ["spec": ["replicas": 2]], metadata: ["creationTimestamp": ago(5)])])],
            context: PlanContext(graceFrom: now),
            changes: [:], skipped: ["Deployment.apps/new": .inGrace(until: now.addingTimeInterval(10 * 60))]
        ),
        Case(
            name: "grace: created long ago", spec: grace(15),
            objects: [(.deployment, [object(.deployment, "old", ["spec": ["replicas": 2]], metadata: ["creationTimestamp": ago(60)])])],
            context: PlanContext(graceFrom: now), changes: ["Deployment.apps/old": #"{"spec":{"replicas":2}}"#]
        ),
        Case(
            name: "grace: redeployed (its spec written by kubectl) a minute ago", spec: grace(15),
            objects: [(.deployment, [object(.deployment, "api", ["spec": ["replicas": 2]], metadata: [
                "creationTimestamp": ago(600), "managedFields": [managed("kubectl-client-side-apply", minutesAgo: 1)],
            ])])],
            context: PlanContext(graceFrom: now),
            changes: [:], skipped: ["Deployment.apps/api": .inGrace(until: now.addingTimeInterval(14 * 60))]
        ),
        Case(
            name: "grace: Sandman's own writes and an autoscaler's scale are no redeploy", spec: grace(15),
            objects: [(.deployment, [object(.deployment, "api", ["spec": ["replicas": 2]], metadata: [
                "creationTimestamp": ago(600),
                "managedFields": [managed(KubeClient.fieldManager, minutesAgo: 1), managed("kube-controller-manager", minutesAgo: 1, subresource: "scale")],
            ])])],
            context: PlanContext(graceFrom: now), changes: ["Deployment.apps/api": #"{"spec":{"replicas":2}}"#]
        ),
        Case(
            name: "grace: a sleep a person asks for has none", spec: grace(15),
            objects: [(.deployment, [object(.deployment, "new", ["spec": ["replicas": 2]], metadata: ["creationTimestamp": ago(1)])])],
            changes: ["Deployment.apps/new": #"{"spec":{"replicas":2}}"#]
        ),
        Case(
            name: "grace: an object asleep already is not in grace", spec: grace(15),
            objects: [(.deployment, [object(.deployment, "idle", ["spec": ["replicas": 0]], metadata: ["creationTimestamp": ago(1)])])],
            context: PlanContext(graceFrom: now), changes: [:], skipped: ["Deployment.apps/idle": .alreadyAsleep]
        ),
        Case(
            name: "grace: a ScaledObject waits for its workload's grace", spec: { var spec = native; spec.gracePeriod = 900; return spec }(),
            objects: [
                (.deployment, [object(.deployment, "api", ["spec": ["replicas": 2]], metadata: ["creationTimestamp": ago(1)])]),
                (scaledObject, [scaled("s", target: "api")]),
            ],
            context: PlanContext(graceFrom: now), changes: [:],
            skipped: [
                "Deployment.apps/api": .inGrace(until: now.addingTimeInterval(14 * 60)),
                "ScaledObject.keda.sh/s": .workloadAwake(ObjectRef(groupKind: "Deployment.apps", name: "api")),
            ]
        ),
    ]

    @Test(arguments: cases) func plans(_ testCase: Case) throws {
        let plan = SleepPlanner.plan(spec: testCase.spec, objects: testCase.objects, existing: testCase.existing, context: testCase.context)
        #expect(Dictionary(uniqueKeysWithValues: plan.changes.map { ($0.ref.description, $0.restorePatch) }) == testCase.changes)
        #expect(Dictionary(uniqueKeysWithValues: plan.skipped.map { ($0.ref.description, $0.reason) }) == testCase.skipped)
        let listed = Dictionary(uniqueKeysWithValues: testCase.objects.flatMap { kind, items in
            items.map { (ObjectRef(groupKind: kind.groupKind, name: $0[path: ["metadata", "name"]]?.string ?? "").description, $0) }
        })
        for change in plan.changes {
            let original = try #require(listed[change.ref.description])
            let slept = try change.patch.applied(to: original)
            let target = try #require(testCase.spec.target(forGroupKind: change.ref.groupKind))
            // Asleep as the wake will judge it, and woken exactly by the restore patch.
            let budgets = testCase.context.budgets
            #expect(SleepPlanner.isAsleep(slept, under: target, spec: testCase.spec, restore: change.restorePatch, budgets: budgets))
            #expect(!SleepPlanner.isAsleep(original, under: target, spec: testCase.spec, restore: nil, budgets: budgets))
            if testCase.existing.isEmpty {
                // (Over an earlier sleep's data, the table says what the restore must give back.)
                #expect(MergePatch.apply(try JSONValue(parsing: change.restorePatch), to: slept) == original)
            }
            if let expected = testCase.slept, expected.ref == change.ref.description {
                #expect(slept[path: expected.path] == expected.value)
            }
        }
    }

    /// What a person does to a sleeping object of each kind makes it no longer asleep: the wake
    /// leaves it as it is.
    @Test func aPersonsChangeWhileAsleepIsSeen() throws {
        let spec = Self.native
        let changes: [(JSONValue, ResourceKind, [String], JSONValue?)] = [
            (object(rollout, "web", ["spec": ["replicas": 4]]), rollout, ["spec", "replicas"], 2),
            (scaled("s", target: "api"), scaledObject, ["metadata", "annotations", "autoscaling.keda.sh/paused-replicas"], nil),
            (object(daemonSet, "agent", ["spec": ["template": ["spec": [:]]]]), daemonSet, ["spec", "template", "spec", "nodeSelector"], ["disk": "ssd"]),
            (object(job, "backfill", ["spec": ["suspend": false]]), job, ["spec", "suspend"], false),
        ]
        for (original, kind, path, personsValue) in changes {
            // (A hub schedule pauses a ScaledObject only with its workload, planned here alone.)
            let plan = SleepPlanner.plan(spec: kind == scaledObject ? SleepSpec(patches: [SleepSpec.Target(group: "keda.sh", kind: "ScaledObject", patch: SleepSpec.pauseAutoscaling)]) : spec, objects: [(kind, [original])], existing: RestoreData())
            let change = try #require(plan.changes.first, "\(kind.kind)")
            var slept = try change.patch.applied(to: original)
            let target = try #require(spec.target(forGroupKind: kind.groupKind))
            #expect(SleepPlanner.isAsleep(slept, under: target, spec: spec, restore: change.restorePatch))
            slept[path: path] = personsValue
            #expect(!SleepPlanner.isAsleep(slept, under: target, spec: spec, restore: change.restorePatch), "\(kind.kind)")
        }
        // A partial sleep: a person scaling the workload to another count.
        let partial = Self.partial("1")
        let plan = SleepPlanner.plan(spec: partial, objects: [(.deployment, [deployment("api", replicas: 3)])], existing: RestoreData())
        var slept = try plan.changes[0].patch.applied(to: deployment("api", replicas: 3))
        let target = try #require(partial.target(forGroupKind: "Deployment.apps"))
        #expect(SleepPlanner.isAsleep(slept, under: target, spec: partial, restore: plan.changes[0].restorePatch))
        slept[path: ["spec", "replicas"]] = 2
        #expect(!SleepPlanner.isAsleep(slept, under: target, spec: partial, restore: plan.changes[0].restorePatch))
        // Fewer than the sleep kept is a person's change too; zero (a full sleep before) is asleep.
        let half = Self.partial("50%")
        let big = SleepPlanner.plan(spec: half, objects: [(.deployment, [deployment("api", replicas: 10)])], existing: RestoreData())
        var kept = try big.changes[0].patch.applied(to: deployment("api", replicas: 10))
        #expect(kept[path: ["spec", "replicas"]] == 5)
        kept[path: ["spec", "replicas"]] = 2
        #expect(!SleepPlanner.isAsleep(kept, under: target, spec: half, restore: big.changes[0].restorePatch))
        kept[path: ["spec", "replicas"]] = 0
        #expect(SleepPlanner.isAsleep(kept, under: target, spec: half, restore: big.changes[0].restorePatch))
    }

    /// Seeded: a partial sleep never scales up, keeps at least what was asked and every budget's
    /// floor, is judged asleep by the wake, is woken exactly, and planning it again changes nothing.
    @Test func partialSleepInvariants() throws {
        var random = SeededGenerator()
        for _ in 0..<500 {
            let had = Int.random(in: 0...20, using: &random)
            let downtime: DowntimeReplicas = Bool.random(using: &random) ? .count(Int.random(in: 0...25, using: &random)) : .percent(Int.random(in: 0...100, using: &random))
            let rules: [JSONValue] = [["minAvailable": .int(Int64.random(in: 0...25, using: &random))], ["minAvailable": .string("\(Int.random(in: 0...100, using: &random))%")],
                                      ["maxUnavailable": .int(Int64.random(in: 0...25, using: &random))], ["maxUnavailable": .string("\(Int.random(in: 0...100, using: &random))%")]]
            let budgets = Bool.random(using: &random) ? [budget("pdb", app: "api", rules.randomElement(using: &random)!)] : []
            var spec = SleepSpec()
            spec.downtimeReplicas = downtime
            let context = PlanContext(budgets: DisruptionBudgets(budgets))
            let original = workload("api", replicas: Int64(had))
            let plan = SleepPlanner.plan(spec: spec, objects: [(.deployment, [original])], existing: RestoreData(), context: context)
            let seed = "seed \(random.seed): \(had) replicas, downtime \(downtime), budgets \(budgets)"
            let floor = DisruptionBudgets(budgets).floor(for: original, replicas: had)?.replicas ?? 0
            guard let change = plan.changes.first else {
                #expect(max(downtime.replicas(of: had), floor) >= had, "\(seed)")
                continue
            }
            let slept = try change.patch.applied(to: original)
            let kept = Int(slept[path: ["spec", "replicas"]]?.int ?? -1)
            #expect(kept < had && kept >= downtime.replicas(of: had) && kept >= floor, "\(seed): kept \(kept)")
            #expect(kept == max(downtime.replicas(of: had), floor), "\(seed): kept \(kept)")
            let target = spec.targets[0]
            #expect(SleepPlanner.isAsleep(slept, under: target, spec: spec, restore: change.restorePatch, budgets: context.budgets), "\(seed)")
            #expect(MergePatch.apply(try JSONValue(parsing: change.restorePatch), to: slept) == original, "\(seed)")
            let again = SleepPlanner.plan(spec: spec, objects: [(.deployment, [slept])], existing: plan.restore, context: context)
            #expect(again.changes.isEmpty && again.restore == plan.restore, "\(seed)")
        }
    }

    @Test(arguments: [("1", DowntimeReplicas.count(1)), ("0", .count(0)), ("50%", .percent(50)), (" 100% ", .percent(100))])
    func downtimeReplicasParse(_ text: String, _ expected: DowntimeReplicas) {
        #expect(DowntimeReplicas(text) == expected)
    }

    @Test(arguments: ["-1", "101%", "half", "", "1.5", "%"])
    func badDowntimeReplicasAreRefused(_ text: String) {
        #expect(DowntimeReplicas(text) == nil)
    }

    /// The replicas a partial sleep kept travel in the Secret under Sandman's own key.
    @Test func theSecretSaysWhatAPartialSleepKept() throws {
        let secret = RestoreSecret.make(
            name: "sleepinfo-nights", namespace: "shop", owner: nil, scheduledAt: Self.now, operation: .sleep,
            restore: Self.restore(["Deployment.apps/api": #"{"spec":{"replicas":4}}"#]), downtimeReplicas: .percent(50)
        )
        #expect(secret.data[RestoreSecret.downtimeReplicasKey] == Data("50%".utf8))
        #expect(try RestoreSecret.read(secret).downtimeReplicas == .percent(50))
        let full = RestoreSecret.make(name: "s", namespace: "shop", owner: nil, scheduledAt: Self.now, operation: .sleep, restore: nil)
        #expect(try RestoreSecret.read(full).downtimeReplicas == nil)
        let awake = RestoreSecret.make(name: "s", namespace: "shop", owner: nil, scheduledAt: Self.now, operation: .wakeUp, restore: nil, downtimeReplicas: .count(1))
        #expect(awake.data[RestoreSecret.downtimeReplicasKey] == nil)
        var broken = secret
        broken.data[RestoreSecret.downtimeReplicasKey] = Data("lots".utf8)
        #expect(throws: RestoreSecretError.self) { try RestoreSecret.read(broken) }
    }

    /// A wake whose restore data says 0 for a workload an HPA scales: the HPA would never move it.
    @Test func aWakeToZeroUnderAnAutoscalerGoesToItsFloor() throws {
        var restore = RestoreData()
        restore.set(#"{"spec":{"replicas":0}}"#, groupKind: "Deployment.apps", name: "api")
        restore.set(#"{"spec":{"replicas":0}}"#, groupKind: "Deployment.apps", name: "free")
        restore.set(#"{"spec":{"replicas":3}}"#, groupKind: "Deployment.apps", name: "web")
        let objects = Dictionary(uniqueKeysWithValues: ["api", "free", "web"].map { (ObjectRef(groupKind: "Deployment.apps", name: $0), deployment($0, replicas: 0)) })
        func hpa(_ name: String, target: String, minReplicas: Int64?) -> JSONValue {
            var spec: JSONValue = ["scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": .string(target)], "maxReplicas": 10]
            if let minReplicas { spec["minReplicas"] = .int(minReplicas) }
            return object(.horizontalPodAutoscaler, name, ["spec": spec])
        }
        let floors = AutoscalerCheck.floors(restore: restore, objects: objects, autoscalers: [hpa("api-hpa", target: "api", minReplicas: 2), hpa("web-hpa", target: "web", minReplicas: nil)])
        #expect(floors.keys.map(\.name) == ["api"])
        let floor = try #require(floors[ObjectRef(groupKind: "Deployment.apps", name: "api")])
        #expect(floor.patch == #"{"spec":{"replicas":2}}"#)
        #expect(floor.note.contains("api-hpa"))
        let defaulted = AutoscalerCheck.floors(restore: restore, objects: objects, autoscalers: [hpa("h", target: "api", minReplicas: nil)])
        #expect(defaulted.values.map(\.patch) == [#"{"spec":{"replicas":1}}"#])
    }
}
