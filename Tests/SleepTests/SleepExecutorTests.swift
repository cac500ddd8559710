import Foundation
import JSON
import Kube
import KubeSim
import Logging
import Sleep
import Store
import TestSupport
import Testing

/// A sleep or wake of `namespace` saved as running, for the journal to refer to.
func runningOperation(_ action: String, namespace: String, in store: Store) async throws -> OperationRecord {
    let record = OperationRecord(cluster: "staging", namespaces: [namespace], action: action, source: "test", actor: "test", state: .running, createdAt: Date())
    try await store.save(record)
    return record
}

/// Each object's spec and annotations, by `Kind/name`: what a wake must give back exactly.
func specsAndAnnotations(in sim: KubeSim, namespace: String, kinds: [(apiVersion: String, kind: String)]) async -> [String: JSONValue] {
    var result: [String: JSONValue] = [:]
    for (apiVersion, kind) in kinds {
        for object in await sim.objects(apiVersion: apiVersion, kind: kind, namespace: namespace) {
            let name = object[path: ["metadata", "name"]]?.string ?? "?"
            result["\(kind)/\(name)"] = ["spec": object["spec"] ?? .null, "annotations": object[path: ["metadata", "annotations"]] ?? .null]
        }
    }
    return result
}

/// A simulated cluster with a realistic namespace, a client and a store.
struct SleepFixture {
    let sim: KubeSim
    let client: KubeClient
    let store: Store
    let directory: TemporaryDirectory

    static let kedaCRD = Manifests.kedaScaledObjectCRD()

    static func shop(deployments: Int = 5) -> String {
        var documents = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}"]
        for index in 0..<deployments {
            documents.append("""
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: app-\(index), namespace: shop, labels: {tier: web}}
                spec:
                  replicas: \(index % 3 + 1)
                  selector: {matchLabels: {app: app-\(index)}}
                  template:
                    metadata: {labels: {app: app-\(index)}}
                    spec: {containers: [{name: app, image: "shop/app:\(index)", resources: {requests: {cpu: 200m, memory: 256Mi}}}]}
                """)
        }
        documents += [
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db-proxy, namespace: shop}\nspec: {replicas: 2, selector: {matchLabels: {app: db-proxy}}, template: {metadata: {labels: {app: db-proxy}}, spec: {containers: [{name: db-proxy, image: db-proxy}]}}}",
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\nspec: {replicas: 3, serviceName: db, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: db}]}}}",
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: cache, namespace: shop}\nspec: {replicas: 1, serviceName: cache, selector: {matchLabels: {app: cache}}, template: {metadata: {labels: {app: cache}}, spec: {containers: [{name: cache, image: cache}]}}}",
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report, namespace: shop}\nspec: {schedule: '0 6 * * *', suspend: false, jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: report, image: report}]}}}}}",
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cleanup, namespace: shop}\nspec: {schedule: '*/30 * * * *', jobTemplate: {spec: {template: {spec: {restartPolicy: OnFailure, containers: [{name: cleanup, image: cleanup}]}}}}}",
            "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: worker, namespace: shop}\nspec: {minReplicaCount: 1, scaleTargetRef: {name: app-0}}",
        ]
        return documents.joined(separator: "\n---\n")
    }

    static func start(deployments: Int = 5) async throws -> SleepFixture {
        let sim = try await KubeSim.start()
        try await sim.load(manifests: kedaCRD)
        try await sim.load(manifests: shop(deployments: deployments))
        let directory = try TemporaryDirectory("sleep")
        return SleepFixture(sim: sim, client: try client(for: sim), store: try Store(path: directory.path + "/hub.sqlite"), directory: directory)
    }

    static func client(for sim: KubeSim) throws -> KubeClient {
        let identity = try sim.certificateAuthority.issueClientCertificate(user: "sandman")
        let access = ClusterAccess(
            contextName: "test",
            cluster: .init(server: sim.url, certificateAuthority: .data(Data(sim.certificateAuthority.certificatePEM.utf8))),
            user: .init(clientCertificate: .data(Data(identity.certificatePEM.utf8)), clientKey: .data(Data(identity.privateKeyPEM.utf8)))
        )
        var configuration = KubeClient.Configuration()
        configuration.retry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(10), maxDelay: .milliseconds(20))
        // The default 50 requests per second would make the 1,200-object test last 24 s.
        configuration.qps = 2000
        configuration.burst = 2000
        return try KubeClient(name: "staging", access: access, configuration: configuration)
    }

    func stop() async {
        await sim.shutdown()
        directory.remove()
    }

    func executor() -> SleepExecutor {
        SleepExecutor(cluster: "staging", client: client, store: store, concurrency: 4, logger: Logger(label: "test"))
    }

    static let spec = SleepSpec(
        suspendCronJobs: true,
        // kube-green's KEDA patch (jsonpatch_test.go): into annotations that may not exist yet.
        patches: [.init(group: "keda.sh", kind: "ScaledObject", patch: try! JSONPatch(JSONValue(yaml: """
            - op: add
              path: /metadata/annotations/autoscaling.keda.sh~1paused-replicas
              value: "0"
            """)))],
        exclude: [.name("db-proxy", kind: "Deployment", apiVersion: "apps/v1")]
    )

    func operation(_ action: String) async throws -> OperationRecord {
        try await runningOperation(action, namespace: "shop", in: store)
    }

    /// Every object's spec and annotations, by kind/name: what must come back exactly.
    func snapshot() async -> [String: JSONValue] {
        await specsAndAnnotations(in: sim, namespace: "shop", kinds: [
            ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "ReplicaSet"), ("batch/v1", "CronJob"), ("keda.sh/v1alpha1", "ScaledObject"),
        ])
    }
}

@Suite("Sleep and wake against KubeSim", .awaitingCleanup)
struct SleepExecutorTests {
    @Test func namespaceSleepsAndWakesBackToExactlyItsOriginalSpec() async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        // A ReplicaSet owned by app-0, as a Deployment's would be.
        let owner = try #require(await fixture.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "app-0"))
        try await fixture.sim.load(manifests: "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: app-0-abc, namespace: shop, ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: app-0, uid: \(owner[path: ["metadata", "uid"]]!.string!), controller: true}]}\nspec: {replicas: 2, selector: {matchLabels: {app: app-0}}, template: {metadata: {labels: {app: app-0}}, spec: {containers: [{name: app-0, image: app-0}]}}}")
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepFixture.spec)
        let executor = fixture.executor()

        let slept = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: instant("2026-12-07T20:00:00Z"))
        #expect(slept.failed.isEmpty)
        #expect(slept.done.count == 10)
        #expect(Set(slept.skipped.map(\.ref.description)) == ["Deployment.apps/db-proxy"])
        for index in 0..<5 {
            #expect(await fixture.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "app-\(index)")?[path: ["spec", "replicas"]] == 0)
        }
        #expect(await fixture.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "db-proxy")?[path: ["spec", "replicas"]] == 2)
        #expect(await fixture.sim.object(apiVersion: "apps/v1", kind: "ReplicaSet", namespace: "shop", name: "app-0-abc")?[path: ["spec", "replicas"]] == 2)
        #expect(await fixture.sim.object(apiVersion: "batch/v1", kind: "CronJob", namespace: "shop", name: "cleanup")?[path: ["spec", "suspend"]] == true)
        #expect(await fixture.sim.object(apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", namespace: "shop", name: "worker")?[path: ["metadata", "annotations", "autoscaling.keda.sh/paused-replicas"]] == "0")

        // The state Secret is kube-green's: a kube-green controller could wake this namespace.
        let secret = try await fixture.client.get(Secret.self, namespace: "shop", name: "sleepinfo-nights")
        #expect(Set(secret.data.keys) == ["scheduled-at", "operation-type", "original-resource-info"])
        #expect(secret.string("operation-type") == "SLEEP")
        let info = try JSONValue(parsing: try #require(secret.string("original-resource-info")))
        #expect(Set(info.object?.keys.map { $0 } ?? []) == ["Deployment.apps", "StatefulSet.apps", "CronJob.batch", "ScaledObject.keda.sh"])
        #expect(info[path: ["Deployment.apps", "app-1"]] == #"{"spec":{"replicas":2}}"#)
        #expect(info[path: ["StatefulSet.apps", "db"]] == #"{"spec":{"replicas":3}}"#)
        #expect(info[path: ["CronJob.batch", "report"]] == #"{"spec":{"suspend":false}}"#)
        #expect(info[path: ["ScaledObject.keda.sh", "worker"]] == #"{"metadata":{"annotations":null}}"#)
        // Mirrored in the journal.
        #expect(try await fixture.store.latestSleepEntries(cluster: "staging", namespace: "shop", sleepInfo: "nights").count == 10)

        // Sleeping again changes nothing and keeps the saved originals.
        let again = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: instant("2026-12-08T20:00:00Z"))
        #expect(again.done.isEmpty)
        #expect(try await executor.state(of: target)?.restore.patch(groupKind: "Deployment.apps", name: "app-1") == #"{"spec":{"replicas":2}}"#)

        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: instant("2026-12-08T08:00:00Z"))
        #expect(woken.failed.isEmpty)
        #expect(woken.done.count == 10)
        #expect(await fixture.snapshot() == original)
        let after = try await executor.state(of: target)
        #expect(after?.operation == .wakeUp)
        #expect(after?.restore.isEmpty == true)
        // A sleep and a wake that went as asked need nobody's look: no Event.
        #expect(try await fixture.client.list(.event, namespace: "shop").items.isEmpty)
    }

    @Test func aPersonsChangeDuringSleepIsRespected() async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepSpec())
        let executor = fixture.executor()
        _ = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        // Someone needs app-2 at night and scales it by hand; app-3 is deleted.
        _ = try await fixture.client.setScale(.deployment, namespace: "shop", name: "app-2", replicas: 1)
        try await fixture.client.delete(.deployment, namespace: "shop", name: "app-3")
        // A Deployment created while the namespace sleeps is nobody's business at wake-up.
        try await fixture.sim.load(manifests: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: hotfix, namespace: shop}\nspec: {replicas: 4, selector: {matchLabels: {app: hotfix}}, template: {metadata: {labels: {app: hotfix}}, spec: {containers: [{name: hotfix, image: hotfix}]}}}")
        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Date())
        #expect(woken.skipped.map { "\($0.ref) \($0.reason)" }.sorted() == [
            "Deployment.apps/app-2 changed by someone while asleep: left as it is",
            "Deployment.apps/app-3 no longer exists",
        ])
        #expect(await fixture.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "app-2")?[path: ["spec", "replicas"]] == 1)
        #expect(await fixture.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "app-1")?[path: ["spec", "replicas"]] == 2)
        let events = try await fixture.client.list(.event, namespace: "shop").items
        #expect(events.contains { $0["reason"] == "ModifiedDuringSleep" && ($0["message"]?.string ?? "").contains("Deployment.apps/app-2") })
        #expect(woken.done.count == 6)
        #expect(await fixture.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "hotfix")?[path: ["spec", "replicas"]] == 4)
    }

    @Test func pagingCoversTwelveHundredDeployments() async throws {
        let fixture = try await SleepFixture.start(deployments: 1200)
        defer { afterTest { await fixture.stop() } }
        let target = SleepExecutor.Target(namespace: "shop", name: "bulk", spec: SleepSpec())
        let slept = try await fixture.executor().sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        #expect(slept.done.count == 1203)
        let replicas = await fixture.sim.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop").map { $0[path: ["spec", "replicas"]] }
        #expect(replicas.allSatisfy { $0 == 0 })
        #expect(try await fixture.executor().state(of: target)?.restore.count == 1203)
    }

    /// What kube-apiserver answers a patch of an existing object with when it refuses it (RBAC,
    /// a conflict, a webhook or validation, an outage). A 404 says the object is gone: skipped.
    /// A 422 to a sleep is its failed `test` guard: the object changed since it was read, so it
    /// is left to the person who changed it.
    static let refusals = [403, 409, 422, 500, 503]

    @Test(arguments: refusals)
    func failuresAfterTheSecretIsWrittenLoseNothing(status: Int) async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepFixture.spec)
        let executor = fixture.executor()
        // The Secret is written, then every patch is refused (the API breaks between the two).
        fixture.sim.setFaults(.init(errorRate: 1, errorVerbs: ["patch"], errorStatus: status))
        let broken = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        fixture.sim.setFaults(.init())
        if status == 422 {
            #expect(broken.failed.isEmpty)
            #expect(broken.skipped.filter { $0.reason == .modifiedDuringSleep }.count == 10, "\(broken.skipped)")
        } else {
            #expect(broken.failed.count == 10)
            #expect(broken.state == .failed)
            let events = try await fixture.client.list(.event, namespace: "shop").items
            #expect(events.contains { $0["reason"] == "SleepFailed" && $0["type"] == "Warning" && ($0["message"]?.string ?? "").hasPrefix("0 done, 1 skipped, 10 failed: ") }, "\(events)")
        }
        #expect(await fixture.snapshot() == original, "a refused patch changes nothing")
        #expect(try await executor.state(of: target)?.restore.count == 10)
        // The next run finishes the sleep from the saved state, then everything wakes as it was.
        let retried = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        #expect(retried.failed.isEmpty)
        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Date())
        #expect(woken.failed.isEmpty)
        #expect(await fixture.snapshot() == original)
    }

    @Test(arguments: refusals)
    func aRefusedWakeKeepsTheRestoreDataForTheNextOne(status: Int) async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepFixture.spec)
        let executor = fixture.executor()
        let slept = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        #expect(slept.failed.isEmpty)
        let asleep = await fixture.snapshot()
        fixture.sim.setFaults(.init(errorRate: 1, errorVerbs: ["patch"], errorStatus: status))
        let refused = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Date())
        fixture.sim.setFaults(.init())
        #expect(refused.failed.count == 10, "\(refused.failed)")
        #expect(await fixture.snapshot() == asleep)
        #expect(try await executor.state(of: target)?.restore.count == 10)
        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Date())
        #expect(woken.failed.isEmpty)
        #expect(await fixture.snapshot() == original)
    }

    @Test func wakeFallsBackToTheJournalWhenTheSecretIsGone() async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepSpec())
        let executor = fixture.executor()
        _ = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        try await fixture.client.delete(.secret, namespace: "shop", name: "sleepinfo-nights")
        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Date())
        #expect(woken.done.count == 8)
        #expect(await fixture.snapshot() == original)
    }

    /// An operation cut short after its patches and run again (the hub resumes it after a
    /// crash) reports the objects it had put to sleep as done, though it finds them asleep;
    /// another operation finds them asleep and did nothing.
    @Test func aResumedSleepCountsWhatItPutToSleepBeforeItWasCutShort() async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepSpec())
        let executor = fixture.executor()
        let operation = try await fixture.operation("sleep")
        let first = try await executor.sleep(target, operation: operation, scheduledAt: Date())
        #expect(!first.done.isEmpty)
        let resumed = try await executor.sleep(target, operation: operation, scheduledAt: Date())
        #expect(Set(resumed.done) == Set(first.done))
        #expect(resumed.failed.isEmpty)
        let another = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        #expect(another.done.isEmpty)
    }

    /// A partial sleep (a plugin's decision, which the unit's own spec does not say) woken from
    /// the journal once its Secret is gone: the workloads it kept at one replica are asleep by
    /// its terms, not changed by someone, and wake.
    @Test func aPartialSleepWakesFromTheJournalWhenTheSecretIsGone() async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        let original = await fixture.snapshot()
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepSpec())
        var partial = target
        partial.spec.downtimeReplicas = .count(1)
        let executor = fixture.executor()
        let slept = try await executor.sleep(partial, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        #expect(slept.failed.isEmpty)
        #expect(await fixture.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "app-1")?[path: ["spec", "replicas"]] == 1)
        try await fixture.client.delete(.secret, namespace: "shop", name: "sleepinfo-nights")
        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Date())
        #expect(woken.skipped.filter { $0.reason == .modifiedDuringSleep }.isEmpty, "\(woken.skipped)")
        #expect(await fixture.snapshot() == original)
    }
}
