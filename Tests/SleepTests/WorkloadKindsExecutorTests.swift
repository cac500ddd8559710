import Foundation
import JSON
import Kube
import KubeSim
import Logging
import Sleep
import Store
import Synchronization
import TestSupport
import Testing

/// A namespace with every kind Sandman sleeps beyond kube-green's, on a KubeSim serving KEDA's
/// and Argo Rollouts' CRDs (Tests/Fixtures/crds).
struct WorkloadKindsFixture {
    let sim: KubeSim
    let client: KubeClient
    let store: Store
    let directory: TemporaryDirectory

    static let manifests = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: ops}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, namespace: ops}
        spec: {replicas: 3, selector: {matchLabels: {app: api}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: api, image: api}]}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: keep, namespace: ops}
        spec: {replicas: 2, selector: {matchLabels: {app: keep}}, template: {metadata: {labels: {app: keep}}, spec: {containers: [{name: keep, image: keep}]}}}
        ---
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: api-scaler, namespace: ops}
        spec: {scaleTargetRef: {name: api}, minReplicaCount: 1, triggers: [{type: cron, metadata: {timezone: Europe/Rome, start: "0 8 * * *", end: "0 20 * * *", desiredReplicas: "3"}}]}
        ---
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: keep-scaler, namespace: ops}
        spec: {scaleTargetRef: {name: keep}, triggers: [{type: cpu, metadata: {value: "60"}}]}
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Rollout
        metadata: {name: web, namespace: ops}
        spec:
          replicas: 4
          selector: {matchLabels: {app: web}}
          template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: web}]}}
          strategy: {canary: {steps: [{setWeight: 20}, {pause: {}}]}}
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent, namespace: ops}
        spec:
          selector: {matchLabels: {app: agent}}
          template: {metadata: {labels: {app: agent}}, spec: {nodeSelector: {disk: ssd}, containers: [{name: agent, image: agent}]}}
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: logs, namespace: ops}
        spec:
          selector: {matchLabels: {app: logs}}
          template: {metadata: {labels: {app: logs}}, spec: {containers: [{name: logs, image: logs}]}}
        ---
        apiVersion: batch/v1
        kind: Job
        metadata: {name: backfill, namespace: ops}
        spec: {suspend: false, template: {spec: {restartPolicy: Never, containers: [{name: backfill, image: backfill}]}}}
        ---
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata: {name: api-pdb, namespace: ops}
        spec: {minAvailable: 2, selector: {matchLabels: {app: api}}}
        ---
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: keep-hpa, namespace: ops}
        spec:
          scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: keep}
          minReplicas: 2
          maxReplicas: 6
          metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}}]
        """

    static let kinds: [(apiVersion: String, kind: String)] = [
        ("apps/v1", "Deployment"), ("keda.sh/v1alpha1", "ScaledObject"), ("argoproj.io/v1alpha1", "Rollout"), ("apps/v1", "DaemonSet"),
        ("batch/v1", "Job"),
    ]

    static func start() async throws -> WorkloadKindsFixture {
        let sim = try await KubeSim.start()
        for file in ["keda.sh.yaml", "argoproj.io.yaml"] {
            try await sim.load(manifests: try String(contentsOfFile: repositoryFile("Tests/Fixtures/crds/" + file), encoding: .utf8))
        }
        try await sim.load(manifests: manifests)
        let directory = try TemporaryDirectory("kinds")
        return WorkloadKindsFixture(sim: sim, client: try SleepFixture.client(for: sim), store: try Store(path: directory.path + "/hub.sqlite"), directory: directory)
    }

    func stop() async {
        await sim.shutdown()
        directory.remove()
    }

    func executor(store: Store? = nil, checkpoint: (@Sendable (SleepExecutor.Checkpoint) async -> Void)? = nil) -> SleepExecutor {
        SleepExecutor(cluster: "staging", client: client, store: store ?? self.store, concurrency: 4, checkpoint: checkpoint, logger: Logger(label: "test"))
    }

    func operation(_ action: String) async throws -> OperationRecord {
        try await runningOperation(action, namespace: "ops", in: store)
    }

    func snapshot() async -> [String: JSONValue] {
        await specsAndAnnotations(in: sim, namespace: "ops", kinds: Self.kinds)
    }

    func value(_ apiVersion: String, _ kind: String, _ name: String, _ path: [String]) async -> JSONValue? {
        await sim.object(apiVersion: apiVersion, kind: kind, namespace: "ops", name: name)?[path: path]
    }

    /// A person's change, through the API server as kubectl would make it.
    func personPatches(_ kind: ResourceKind, _ name: String, _ patch: JSONValue) async throws {
        _ = try await client.patch(kind, namespace: "ops", name: name, .merge(patch), fieldManager: "kubectl-edit")
    }
}

private let rollout = ResourceKind(group: "argoproj.io", version: "v1alpha1", kind: "Rollout")
private let scaledObject = ResourceKind(group: "keda.sh", version: "v1alpha1", kind: "ScaledObject")
private let daemonSet = ResourceKind(group: "apps", version: "v1", kind: "DaemonSet")
private let job = ResourceKind(group: "batch", version: "v1", kind: "Job")
private let paused = ["metadata", "annotations", "autoscaling.keda.sh/paused-replicas"]
private let nodeSelector = ["spec", "template", "spec", "nodeSelector"]

@Suite("Sleep and wake of every workload kind against KubeSim", .awaitingCleanup)
struct WorkloadKindsExecutorTests {
    static let native: SleepSpec = SleepSpec(native: SleepSpec.NativeKind.allCases, exclude: [.name("keep", kind: "Deployment", apiVersion: "apps/v1")])
    static let at = instant("2026-12-07T20:00:00Z")

    @Test func everyKindSleepsAndWakesExactly() async throws {
        let fixture = try await WorkloadKindsFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "ops", name: "nights", spec: Self.native)
        let executor = fixture.executor()

        let scheduled = { await fixture.value("apps/v1", "DaemonSet", "logs", ["status", "desiredNumberScheduled"]) }
        #expect(await eventually { await scheduled() == 1 })
        let slept = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)
        // No node has the label: the DaemonSet controller runs no pod.
        #expect(await eventually { await scheduled() == 0 })
        #expect(slept.failed.isEmpty, "\(slept.failed)")
        #expect(Set(slept.done.map(\.description)) == [
            "Deployment.apps/api", "ScaledObject.keda.sh/api-scaler", "Rollout.argoproj.io/web", "DaemonSet.apps/agent", "DaemonSet.apps/logs",
            "Job.batch/backfill",
        ])
        #expect(Dictionary(uniqueKeysWithValues: slept.skipped.map { ($0.ref.description, $0.reason) }) == [
            "Deployment.apps/keep": .excluded, "ScaledObject.keda.sh/keep-scaler": .workloadAwake(ObjectRef(groupKind: "Deployment.apps", name: "keep")),
        ])
        #expect(await fixture.value("apps/v1", "Deployment", "api", ["spec", "replicas"]) == 0)
        #expect(await fixture.value("keda.sh/v1alpha1", "ScaledObject", "api-scaler", paused) == "0")
        #expect(await fixture.value("keda.sh/v1alpha1", "ScaledObject", "keep-scaler", paused) == nil)
        #expect(await fixture.value("argoproj.io/v1alpha1", "Rollout", "web", ["spec", "replicas"]) == 0)
        #expect(await fixture.value("apps/v1", "DaemonSet", "agent", nodeSelector) == ["disk": "ssd", "sandman.dev/asleep": "true"])
        #expect(await fixture.value("apps/v1", "DaemonSet", "logs", nodeSelector) == ["sandman.dev/asleep": "true"])
        #expect(await fixture.value("batch/v1", "Job", "backfill", ["spec", "suspend"]) == true)

        // In kube-green's format: every kind under its `Kind.group` key.
        let secret = try await fixture.client.get(Secret.self, namespace: "ops", name: target.secretName)
        let restore = try RestoreSecret.read(secret).restore
        #expect(Set(restore.refs.map(\.groupKind)) == ["Deployment.apps", "ScaledObject.keda.sh", "Rollout.argoproj.io", "DaemonSet.apps", "Job.batch"])

        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Self.at.addingTimeInterval(3600))
        #expect(woken.failed.isEmpty && woken.done.count == 6, "\(woken.failed) \(woken.skipped)")
        #expect(await fixture.snapshot() == original)
        #expect(await eventually { await scheduled() == 1 })
    }

    /// What a person changed while asleep, for each kind, is kept and reported; the rest wakes.
    @Test func aPersonsChangeWhileAsleepIsKeptForEachKind() async throws {
        let fixture = try await WorkloadKindsFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "ops", name: "nights", spec: Self.native)
        let executor = fixture.executor()
        _ = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)

        try await fixture.personPatches(rollout, "web", ["spec": ["replicas": 1]])
        try await fixture.personPatches(scaledObject, "api-scaler", ["metadata": ["annotations": ["autoscaling.keda.sh/paused-replicas": "1"]]])
        try await fixture.personPatches(daemonSet, "agent", ["spec": ["template": ["spec": ["nodeSelector": ["sandman.dev/asleep": .null, "zone": "a"]]]]])
        // Still suspended: woken, with the person's deadline kept.
        try await fixture.personPatches(job, "backfill", ["spec": ["activeDeadlineSeconds": 600]])
        let changed = await fixture.snapshot()

        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Self.at.addingTimeInterval(3600))
        #expect(woken.failed.isEmpty)
        #expect(Set(woken.skipped.filter { $0.reason == .modifiedDuringSleep }.map(\.ref.description)) == [
            "Rollout.argoproj.io/web", "ScaledObject.keda.sh/api-scaler",
        ])
        // Its node selector as the person wrote it holds nothing of the sleep's: awake already.
        #expect(woken.skipped.filter { $0.reason == .alreadyAwake }.map(\.ref.description) == ["DaemonSet.apps/agent"])
        #expect(Set(woken.done.map(\.description)) == ["Deployment.apps/api", "DaemonSet.apps/logs", "Job.batch/backfill"])
        let now = await fixture.snapshot()
        for key in ["Rollout/web", "ScaledObject/api-scaler", "DaemonSet/agent"] {
            #expect(now[key] == changed[key], "\(key) kept as the person left it")
        }
        for key in ["Deployment/api", "DaemonSet/logs", "Deployment/keep", "ScaledObject/keep-scaler"] {
            #expect(now[key] == original[key], "\(key) back as it was")
        }
        #expect(await fixture.value("batch/v1", "Job", "backfill", ["spec", "suspend"]) == false)
        #expect(await fixture.value("batch/v1", "Job", "backfill", ["spec", "activeDeadlineSeconds"]) == 600)
        let warnings = await fixture.sim.objects(apiVersion: "v1", kind: "Event", namespace: "ops").filter { $0["reason"] == "ModifiedDuringSleep" }
        #expect(warnings.count == 1 && warnings[0]["message"]?.string?.contains("Rollout.argoproj.io/web") == true)
    }

    /// A staging namespace kept at one replica at night: the disruption budget sets the floor of
    /// the workload it protects, and the wake gives back exactly what there was.
    @Test func aPartialSleepKeepsReplicasAndHonoursDisruptionBudgets() async throws {
        let fixture = try await WorkloadKindsFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        var spec = Self.native
        spec.downtimeReplicas = .count(1)
        let target = SleepExecutor.Target(namespace: "ops", name: "nights", spec: spec)
        let executor = fixture.executor()

        let slept = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)
        #expect(slept.failed.isEmpty)
        #expect(await fixture.value("apps/v1", "Deployment", "api", ["spec", "replicas"]) == 2)
        #expect(await fixture.value("argoproj.io/v1alpha1", "Rollout", "web", ["spec", "replicas"]) == 1)
        #expect(slept.notes.map(\.ref.description) == ["Deployment.apps/api"])
        #expect(slept.notes.first?.note.contains("PodDisruptionBudget api-pdb") == true)
        #expect(slept.summary["notes"]?.array?.count == 1)
        let adjusted = await fixture.sim.objects(apiVersion: "v1", kind: "Event", namespace: "ops").filter { $0["reason"] == "SleepAdjusted" }
        #expect(adjusted.first?["message"]?.string?.contains("Deployment.apps/api: kept at 2 of 3 replicas by PodDisruptionBudget api-pdb") == true)

        // Asleep by the same rule a second time: nothing to do, nothing overwritten.
        let again = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)
        #expect(again.done.isEmpty && again.failed.isEmpty)

        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Self.at.addingTimeInterval(3600))
        #expect(woken.failed.isEmpty && woken.skipped.isEmpty, "\(woken.skipped)")
        #expect(await fixture.snapshot() == original)
    }

    /// Killed between a patch and its journal mark, then run again by a new hub on the same
    /// database: every kind ends asleep with its restore data, and the wake is exact.
    @Test(arguments: ["DaemonSet.apps/agent", "ScaledObject.keda.sh/api-scaler", "Rollout.argoproj.io/web", "Job.batch/backfill"])
    func aKillBetweenPatchAndJournalMarkLosesNothing(_ killedAt: String) async throws {
        let fixture = try await WorkloadKindsFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "ops", name: "nights", spec: Self.native)
        let hit = Mutex(false)
        let first = fixture.executor { point in
            guard case .patched(let ref, .sleep) = point, ref.description == killedAt else { return }
            hit.withLock { $0 = true }
            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }  // never resumes: the process is gone
        }
        let operation = try await fixture.operation("sleep")
        let killed = Task { try await first.sleep(target, operation: operation, scheduledAt: Self.at) }
        #expect(await eventually { hit.withLock { $0 } })
        _ = killed  // abandoned, as a killed process's work is

        let second = fixture.executor()
        let resumed = try await second.sleep(target, operation: operation, scheduledAt: Self.at)
        #expect(resumed.failed.isEmpty)
        let restore = try RestoreSecret.read(try await fixture.client.get(Secret.self, namespace: "ops", name: target.secretName)).restore
        #expect(restore.refs.count == 6, "\(restore.refs)")
        #expect(await fixture.value("apps/v1", "DaemonSet", "agent", nodeSelector)?["sandman.dev/asleep"] == "true")
        let woken = try await second.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Self.at.addingTimeInterval(3600))
        #expect(woken.failed.isEmpty && woken.done.count == 6, "\(woken.skipped)")
        #expect(await fixture.snapshot() == original)
    }

    /// kube-green-format restore data alone (another hub's database, or kube-green's Secret)
    /// wakes every kind; restore data saying 0 for a workload an HPA scales wakes it to the
    /// HPA's floor instead of leaving it where the HPA never moves it.
    @Test func theRestoreSecretAloneWakesEveryKind() async throws {
        let fixture = try await WorkloadKindsFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "ops", name: "nights", spec: SleepSpec(native: SleepSpec.NativeKind.allCases))
        _ = try await fixture.executor().sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)
        try await Self.restoreKeepAtZero(fixture, target)

        let elsewhere = try Store(path: fixture.directory.path + "/other.sqlite")
        let operation = OperationRecord(cluster: "staging", namespaces: ["ops"], action: "wake", source: "test", actor: "test", createdAt: Date())
        try await elsewhere.save(operation)
        let woken = try await fixture.executor(store: elsewhere).wake(target, operation: operation, scheduledAt: Self.at.addingTimeInterval(3600))
        #expect(woken.failed.isEmpty && woken.done.count == 8, "\(woken.failed) \(woken.skipped)")
        #expect(await fixture.value("apps/v1", "Deployment", "keep", ["spec", "replicas"]) == 2)
        #expect(woken.notes.map(\.ref.description) == ["Deployment.apps/keep"])
        #expect(woken.notes.first?.note.contains("HorizontalPodAutoscaler keep-hpa") == true)
        #expect(await fixture.snapshot() == original)
    }

    /// Rewrites the restore data of `keep` to say 0, as a tool that found it at zero might have written.
    static func restoreKeepAtZero(_ fixture: WorkloadKindsFixture, _ target: SleepExecutor.Target) async throws {
        var secret = try await fixture.client.get(Secret.self, namespace: "ops", name: target.secretName)
        var contents = try RestoreSecret.read(secret)
        contents.restore.set(#"{"spec":{"replicas":0}}"#, groupKind: "Deployment.apps", name: "keep")
        let rewritten = RestoreSecret.make(
            name: target.secretName, namespace: "ops", owner: nil, scheduledAt: Self.at, operation: .sleep, restore: contents.restore
        )
        secret.object["data"] = rewritten.object["data"]
        _ = try await fixture.client.update(secret)
    }

    /// The HPA check is a safeguard: autoscalers the hub may not read leave the restore data as it is.
    @Test func autoscalersThatCannotBeReadLeaveTheRestoreDataAsItIs() async throws {
        let fixture = try await WorkloadKindsFixture.start()
        defer { afterTest { await fixture.stop() } }
        let target = SleepExecutor.Target(namespace: "ops", name: "nights", spec: SleepSpec(native: SleepSpec.NativeKind.allCases))
        _ = try await fixture.executor().sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)
        try await Self.restoreKeepAtZero(fixture, target)
        fixture.sim.setFaults(.init(errorRate: 1, errorVerbs: ["list"], errorStatus: 403, errorResources: ["horizontalpodautoscalers.autoscaling"]))
        let woken = try await fixture.executor().wake(target, operation: try await fixture.operation("wake"), scheduledAt: Self.at.addingTimeInterval(3600))
        #expect(woken.failed.isEmpty, "\(woken.failed)")
        #expect(woken.notes.isEmpty)
        #expect(await fixture.value("apps/v1", "Deployment", "keep", ["spec", "replicas"]) == 0)
        #expect(await fixture.value("apps/v1", "Deployment", "api", ["spec", "replicas"]) == 3)
    }

    /// A kind Sandman sleeps of its own accord that the role does not let it list is left out, and
    /// the rest sleeps; a kind the spec asks for (kube-green's own) still fails the sleep.
    @Test func aNativeKindTheRoleDoesNotCoverIsLeftOutAndTheRestSleeps() async throws {
        let fixture = try await WorkloadKindsFixture.start()
        defer { afterTest { await fixture.stop() } }
        let target = SleepExecutor.Target(namespace: "ops", name: "nights", spec: SleepSpec(native: SleepSpec.NativeKind.allCases))
        fixture.sim.setFaults(.init(errorRate: 1, errorVerbs: ["list"], errorStatus: 403, errorResources: ["jobs.batch"]))
        let slept = try await fixture.executor().sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)
        #expect(slept.failed.isEmpty, "\(slept.failed)")
        #expect(slept.done.contains { $0.description == "Deployment.apps/api" })
        #expect(!slept.planned.contains { $0.groupKind == "Job.batch" })
        #expect(await fixture.value("batch/v1", "Job", "backfill", ["spec", "suspend"]) == false)

        fixture.sim.setFaults(.init(errorRate: 1, errorVerbs: ["list"], errorStatus: 403, errorResources: ["deployments.apps"]))
        await #expect(throws: KubeError.self) {
            _ = try await fixture.executor().sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Self.at)
        }
    }
}
