import Foundation
import JSON
import Kube
import KubeSim
import Logging
import Sleep
import Store
import TestSupport
import Testing

/// A KubeSim cluster where namespaces move between kube-green (``KubeGreen``) and Sandman in
/// the middle of a sleep, in both directions.
struct RoundTripFixture {
    let sim: KubeSim
    let client: KubeClient
    let store: Store
    let directory: TemporaryDirectory

    /// One object of each kind kube-green's own tests put to sleep.
    static func namespace(_ name: String) -> String {
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: \(name)}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, namespace: \(name), labels: {tier: web}, annotations: {keep-warm: "true", team: shop}}
        spec: {replicas: 3, selector: {matchLabels: {app: api}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: \(name), labels: {tier: web}}
        spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: keep-me, namespace: \(name)}
        spec: {replicas: 1, selector: {matchLabels: {app: keep-me}}, template: {metadata: {labels: {app: keep-me}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: keep-awake, namespace: \(name), labels: {keep-awake: "true"}}
        spec: {replicas: 1, selector: {matchLabels: {app: keep-awake}}, template: {metadata: {labels: {app: keep-awake}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: infra-tool, namespace: \(name), labels: {team: infra}}
        spec: {replicas: 2, selector: {matchLabels: {app: infra-tool}}, template: {metadata: {labels: {app: infra-tool}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db, namespace: \(name)}
        spec: {replicas: 3, serviceName: db, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: cache, namespace: \(name), labels: {tier: web}}
        spec: {replicas: 1, serviceName: cache, selector: {matchLabels: {app: cache}}, template: {metadata: {labels: {app: cache}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: report, namespace: \(name)}
        spec: {schedule: "0 6 * * *", jobTemplate: {spec: {template: {spec: {containers: [{name: job, image: job}], restartPolicy: OnFailure}}}}, suspend: false}
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: cleanup, namespace: \(name)}
        spec: {schedule: "*/30 * * * *", jobTemplate: {spec: {template: {spec: {containers: [{name: job, image: job}], restartPolicy: OnFailure}}}}}
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: paused, namespace: \(name)}
        spec: {schedule: "0 0 * * 0", jobTemplate: {spec: {template: {spec: {containers: [{name: job, image: job}], restartPolicy: OnFailure}}}}, suspend: true}
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata: {name: legacy, namespace: \(name)}
        spec: {replicas: 2, selector: {matchLabels: {app: legacy}}, template: {metadata: {labels: {app: legacy}}, spec: {containers: [{name: app, image: app}]}}}
        ---
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: worker-scaler, namespace: \(name)}
        spec: {minReplicaCount: 1, scaleTargetRef: {name: web}}
        ---
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: api-scaler, namespace: \(name), annotations: {some: field}}
        spec: {minReplicaCount: 1, scaleTargetRef: {name: api}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: flags, namespace: \(name)}
        data: {mode: awake, warm: "yes"}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings, namespace: \(name)}
        data: {x: "1"}
        """
    }

    /// SleepInfo specs, by name.
    static let sleepInfos: [String: String] = [
        // Every kind, custom patches that add into missing parents and remove, exclusions by
        // name and by labels (any one pair excludes).
        "everything": """
            weekdays: "*"
            sleepAt: "20:00"
            wakeUpAt: "08:00"
            suspendCronJobs: true
            excludeRef:
            - {apiVersion: apps/v1, kind: Deployment, name: keep-me}
            - matchLabels: {keep-awake: "true", team: infra}
            patches:
            - target: {group: apps, kind: Deployment}
              patch: |
                - op: add
                  path: /spec/replicas
                  value: 0
                - op: remove
                  path: /metadata/annotations/keep-warm
            - target: {group: apps, kind: ReplicaSet}
              patch: |
                - op: add
                  path: /spec/replicas
                  value: 0
            - target: {group: keda.sh, kind: ScaledObject}
              patch: |
                - op: add
                  path: /metadata/annotations/autoscaling.keda.sh~1paused-replicas
                  value: "0"
            - target: {group: "", kind: ConfigMap}
              patch: |
                - op: add
                  path: /data/mode
                  value: asleep
                - op: remove
                  path: /data/warm
            """,
        // Names restrict only their own kinds: every Deployment sleeps.
        "include-by-name": """
            weekdays: "1-5"
            sleepAt: "20:00"
            wakeUpAt: "08:00"
            suspendCronJobs: true
            includeRef:
            - {apiVersion: apps/v1, kind: StatefulSet, name: db}
            - {apiVersion: batch/v1, kind: CronJob, name: report}
            """,
        "include-by-labels": """
            weekdays: "*"
            sleepAt: "20:00"
            wakeUpAt: "08:00"
            includeRef:
            - matchLabels: {tier: web}
            excludeRef:
            - {apiVersion: apps/v1, kind: Deployment, name: web}
            """,
    ]

    static let kinds = [
        ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "ReplicaSet"), ("batch/v1", "CronJob"),
        ("keda.sh/v1alpha1", "ScaledObject"), ("v1", "ConfigMap"),
    ]

    static func start() async throws -> RoundTripFixture {
        let sim = try await KubeSim.start()
        try await sim.load(manifests: SleepFixture.kedaCRD)
        try await sim.load(manifests: try String(contentsOfFile: repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml"), encoding: .utf8))
        let directory = try TemporaryDirectory("round-trip")
        return RoundTripFixture(
            sim: sim, client: try SleepFixture.client(for: sim), store: try Store(path: directory.path + "/hub.sqlite"), directory: directory
        )
    }

    func stop() async {
        await sim.shutdown()
        directory.remove()
    }

    /// Loads a namespace and its SleepInfo `nights` with the spec of `scenario`; returns the SleepInfo as stored.
    @discardableResult
    func load(_ namespace: String, scenario: String) async throws -> JSONValue {
        try await sim.load(manifests: Self.namespace(namespace))
        try await setSleepInfo(namespace, spec: try #require(Self.sleepInfos[scenario]))
        return try await sleepInfo(namespace)
    }

    func setSleepInfo(_ namespace: String, spec: String) async throws {
        let indented = spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        try await sim.load(manifests: "apiVersion: kube-green.com/v1alpha1\nkind: SleepInfo\nmetadata: {name: nights, namespace: \(namespace)}\nspec:\n\(indented)")
    }

    func sleepInfo(_ namespace: String) async throws -> JSONValue {
        try await client.get(.sleepInfo, namespace: namespace, name: "nights")
    }

    /// What must come back exactly: each object's spec, data, labels and annotations.
    func snapshot(_ namespace: String) async -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for (apiVersion, kind) in Self.kinds {
            for object in await sim.objects(apiVersion: apiVersion, kind: kind, namespace: namespace) {
                result["\(kind)/\(object[path: ["metadata", "name"]]?.string ?? "?")"] = [
                    "spec": object["spec"] ?? .null, "data": object["data"] ?? .null,
                    "labels": object[path: ["metadata", "labels"]] ?? .null, "annotations": object[path: ["metadata", "annotations"]] ?? .null,
                ]
            }
        }
        return result
    }

    func executor() -> SleepExecutor {
        SleepExecutor(cluster: "staging", client: client, store: store, concurrency: 4, logger: Logger(label: "test"))
    }

    /// Sandman's target for a namespace's SleepInfo, read as the hub reads it.
    func target(_ namespace: String) async throws -> SleepExecutor.Target {
        let sleepInfo = try await sleepInfo(namespace)
        return SleepExecutor.Target(namespace: namespace, name: "nights", spec: try SleepSpec(sleepInfo: SleepInfo(object: sleepInfo)), sleepInfo: sleepInfo)
    }

    func operation(_ action: String, namespace: String) async throws -> OperationRecord {
        let record = OperationRecord(cluster: "staging", namespaces: [namespace], action: action, source: "test", actor: "test", state: .running, createdAt: Date())
        try await store.save(record)
        return record
    }

    func secret(_ namespace: String) async throws -> Secret {
        try await client.get(Secret.self, namespace: namespace, name: "sleepinfo-nights")
    }
}

@Suite("Moving between kube-green and Sandman mid-sleep", .awaitingCleanup)
struct KubeGreenRoundTripTests {
    static let night = instant("2026-12-07T20:00:00Z")
    static let morning = instant("2026-12-08T08:00:00Z")

    /// Sandman sleeps a namespace exactly as kube-green sleeps its twin, and each wakes what the
    /// other put to sleep back to the original.
    @Test(arguments: ["everything", "include-by-name", "include-by-labels"])
    func bothDirections(scenario: String) async throws {
        let fixture = try await RoundTripFixture.start()
        defer { afterTest { await fixture.stop() } }
        let kubeGreen = KubeGreen(client: fixture.client)
        for namespace in ["by-sandman", "by-kube-green"] {
            try await fixture.load(namespace, scenario: scenario)
        }
        let original = await fixture.snapshot("by-sandman")
        #expect(await fixture.snapshot("by-kube-green") == original)

        let slept = try await fixture.executor().sleep(
            try await fixture.target("by-sandman"), operation: try await fixture.operation("sleep", namespace: "by-sandman"), scheduledAt: Self.night
        )
        #expect(slept.failed.isEmpty)
        try await kubeGreen.sleep(namespace: "by-kube-green", sleepInfo: try await fixture.sleepInfo("by-kube-green"), now: Self.night)
        let asleep = await fixture.snapshot("by-sandman")
        #expect(asleep != original)
        #expect(await fixture.snapshot("by-kube-green") == asleep)
        // The same restore data, byte for byte.
        #expect(try await fixture.secret("by-sandman").string("original-resource-info") == (try await fixture.secret("by-kube-green").string("original-resource-info")))

        // Sandman wakes what kube-green put to sleep; kube-green wakes what Sandman put to sleep.
        let woken = try await fixture.executor().wake(
            try await fixture.target("by-kube-green"), operation: try await fixture.operation("wake", namespace: "by-kube-green"), scheduledAt: Self.morning
        )
        #expect(woken.failed.isEmpty && woken.skipped.isEmpty, "\(woken.summary)")
        #expect(woken.done.count == slept.done.count)
        try await kubeGreen.wakeUp(namespace: "by-sandman", sleepInfo: try await fixture.sleepInfo("by-sandman"), now: Self.morning)
        #expect(await fixture.snapshot("by-kube-green") == original)
        #expect(await fixture.snapshot("by-sandman") == original)
        for namespace in ["by-sandman", "by-kube-green"] {
            #expect(try await fixture.secret(namespace).string("operation-type") == "WAKE_UP")
        }
    }

    @Test func theEverythingScenarioSleepsWhatKubeGreenSleeps() async throws {
        let fixture = try await RoundTripFixture.start()
        defer { afterTest { await fixture.stop() } }
        try await fixture.load("shop", scenario: "everything")
        let slept = try await fixture.executor().sleep(try await fixture.target("shop"), operation: try await fixture.operation("sleep", namespace: "shop"), scheduledAt: Self.night)
        #expect(slept.done.map(\.description) == [
            "ConfigMap./flags", "ConfigMap./settings", "CronJob.batch/cleanup", "CronJob.batch/report", "Deployment.apps/api", "Deployment.apps/web",
            "ReplicaSet.apps/legacy", "ScaledObject.keda.sh/api-scaler", "ScaledObject.keda.sh/worker-scaler", "StatefulSet.apps/cache", "StatefulSet.apps/db",
        ])
        #expect(slept.skipped.map { "\($0.ref) \($0.reason)" } == [
            "CronJob.batch/paused already in its sleep state",
            "Deployment.apps/infra-tool excluded by excludeRef", "Deployment.apps/keep-awake excluded by excludeRef", "Deployment.apps/keep-me excluded by excludeRef",
        ])
        let asleep = await fixture.snapshot("shop")
        // The sleep patch removed keep-warm; the controller's revision annotation stays.
        #expect(asleep["Deployment/api"]?["annotations"] == ["team": "shop", "deployment.kubernetes.io/revision": "1"])
        #expect(asleep["ScaledObject/worker-scaler"]?["annotations"] == ["autoscaling.keda.sh/paused-replicas": "0"])
        #expect(asleep["ConfigMap/flags"]?["data"] == ["mode": "asleep"])
        let info = try JSONValue(parsing: try #require(try await fixture.secret("shop").string("original-resource-info")))
        #expect(info[path: ["Deployment.apps", "api"]] == #"{"metadata":{"annotations":{"keep-warm":"true"}},"spec":{"replicas":3}}"#)
        #expect(info[path: ["ConfigMap.", "flags"]] == #"{"data":{"mode":"awake","warm":"yes"}}"#)
        #expect(info[path: ["ConfigMap.", "settings"]] == #"{"data":{"mode":null}}"#)
        #expect(info["ConfigMap"] == nil)
    }

    struct HandBuilt: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var scenario: String
        /// The objects as kube-green left them, by `Kind/name`: a JSON merge patch on the original.
        var slept: [String: JSONValue]
        var secretData: [String: String]
    }

    /// Secrets as kube-green writes them (secrets.go `upsertSecret`, Go's json.Marshal of
    /// `map[string]RestorePatches`), and as kube-green before 0.6 wrote them.
    static let handBuilt: [HandBuilt] = [
        HandBuilt(
            testDescription: "kube-green 0.6+ original-resource-info, core kinds keyed ConfigMap.", scenario: "everything",
            slept: [
                "Deployment/api": ["metadata": ["annotations": ["keep-warm": .null]], "spec": ["replicas": 0]], "Deployment/web": ["spec": ["replicas": 0]],
                "StatefulSet/db": ["spec": ["replicas": 0]], "StatefulSet/cache": ["spec": ["replicas": 0]], "ReplicaSet/legacy": ["spec": ["replicas": 0]],
                "CronJob/report": ["spec": ["suspend": true]], "CronJob/cleanup": ["spec": ["suspend": true]],
                "ScaledObject/worker-scaler": ["metadata": ["annotations": ["autoscaling.keda.sh/paused-replicas": "0"]]],
                "ScaledObject/api-scaler": ["metadata": ["annotations": ["autoscaling.keda.sh/paused-replicas": "0"]]],
                "ConfigMap/flags": ["data": ["mode": "asleep", "warm": .null]], "ConfigMap/settings": ["data": ["mode": "asleep"]],
            ],
            secretData: [
                "scheduled-at": "2026-12-07T20:00:00Z", "operation-type": "SLEEP",
                "original-resource-info": #"{"ConfigMap.":{"flags":"{\"data\":{\"mode\":\"awake\",\"warm\":\"yes\"}}","settings":"{\"data\":{\"mode\":null}}"},"CronJob.batch":{"cleanup":"{\"spec\":{\"suspend\":null}}","report":"{\"spec\":{\"suspend\":false}}"},"Deployment.apps":{"api":"{\"metadata\":{\"annotations\":{\"keep-warm\":\"true\"}},\"spec\":{\"replicas\":3}}","web":"{\"spec\":{\"replicas\":2}}"},"ReplicaSet.apps":{"legacy":"{\"spec\":{\"replicas\":2}}"},"ScaledObject.keda.sh":{"api-scaler":"{\"metadata\":{\"annotations\":{\"autoscaling.keda.sh/paused-replicas\":null}}}","worker-scaler":"{\"metadata\":{\"annotations\":null}}"},"StatefulSet.apps":{"cache":"{\"spec\":{\"replicas\":1}}","db":"{\"spec\":{\"replicas\":3}}"}}"#,
            ]
        ),
        HandBuilt(
            testDescription: "kube-green before 0.6: deployment-replicas and cronjobs-info", scenario: "include-by-name",
            slept: [
                "Deployment/api": ["spec": ["replicas": 0]], "Deployment/web": ["spec": ["replicas": 0]], "Deployment/keep-me": ["spec": ["replicas": 0]],
                "Deployment/keep-awake": ["spec": ["replicas": 0]], "Deployment/infra-tool": ["spec": ["replicas": 0]], "CronJob/report": ["spec": ["suspend": true]],
            ],
            secretData: [
                "scheduled-at": "2024-05-10T18:00:00Z", "operation-type": "SLEEP",
                "deployment-replicas": #"[{"name":"api","replicas":3},{"name":"web","replicas":2},{"name":"keep-me","replicas":1},{"name":"keep-awake","replicas":1},{"name":"infra-tool","replicas":2}]"#,
                "cronjobs-info": #"[{"name":"report","suspend":false}]"#,
            ]
        ),
    ]

    /// A namespace put to sleep by kube-green, Secret and all, is woken exactly by Sandman.
    @Test(arguments: handBuilt)
    func sandmanWakesWhatKubeGreenLeft(_ testCase: HandBuilt) async throws {
        let fixture = try await RoundTripFixture.start()
        defer { afterTest { await fixture.stop() } }
        let sleepInfo = try await fixture.load("shop", scenario: testCase.scenario)
        let original = await fixture.snapshot("shop")
        for (key, patch) in testCase.slept {
            let (kind, name) = (String(key.prefix { $0 != "/" }), String(key.drop { $0 != "/" }.dropFirst()))
            let (apiVersion, _) = try #require(RoundTripFixture.kinds.first { $0.1 == kind })
            let resource = try await fixture.client.resource(group: apiVersion.contains("/") ? String(apiVersion.prefix { $0 != "/" }) : "", kind: kind)
            _ = try await fixture.client.patch(resource.kind, namespace: "shop", name: name, .merge(patch))
        }
        #expect(await fixture.snapshot("shop") != original)
        var secret = Secret(name: "sleepinfo-nights", namespace: "shop")
        secret.metadata.labels = ["app.kubernetes.io/managed-by": "kube-green"]
        secret.metadata.ownerReferences = [OwnerReference(
            apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", name: "nights", uid: sleepInfo[path: ["metadata", "uid"]]?.string ?? ""
        )]
        secret.data = testCase.secretData.mapValues { Data($0.utf8) }
        _ = try await fixture.client.create(secret)

        let woken = try await fixture.executor().wake(try await fixture.target("shop"), operation: try await fixture.operation("wake", namespace: "shop"), scheduledAt: Self.morning)
        #expect(woken.failed.isEmpty && woken.skipped.isEmpty, "\(woken.summary)")
        #expect(woken.done.count == testCase.slept.count)
        #expect(await fixture.snapshot("shop") == original)
        let after = try await fixture.secret("shop")
        #expect(after.string("operation-type") == "WAKE_UP")
        #expect(after.data["original-resource-info"] == nil && after.data["deployment-replicas"] == nil)
    }

    /// Issue 14 item 1: a sleep patch that removes a field wakes, and its restore data is used.
    @Test func aSleepPatchThatRemovesAFieldWakesBack() async throws {
        let fixture = try await RoundTripFixture.start()
        defer { afterTest { await fixture.stop() } }
        try await fixture.load("shop", scenario: "everything")
        let original = await fixture.snapshot("shop")
        let executor = fixture.executor()
        _ = try await executor.sleep(try await fixture.target("shop"), operation: try await fixture.operation("sleep", namespace: "shop"), scheduledAt: Self.night)
        // Sleeping again finds everything asleep: re-applying a remove of a missing path is a no-op.
        let again = try await executor.sleep(try await fixture.target("shop"), operation: try await fixture.operation("sleep", namespace: "shop"), scheduledAt: Self.night)
        #expect(again.done.isEmpty)
        let woken = try await executor.wake(try await fixture.target("shop"), operation: try await fixture.operation("wake", namespace: "shop"), scheduledAt: Self.morning)
        #expect(!woken.skipped.contains { $0.reason == .modifiedDuringSleep }, "\(woken.summary)")
        #expect(await fixture.snapshot("shop") == original)
    }

    /// Issue 14 item 6: restore entries of a kind the SleepInfo no longer patches are ignored at
    /// wake, as kube-green ignores them, and reported in the operation and as an event.
    @Test func entriesOfKindsNoLongerPatchedAreIgnoredAndReported() async throws {
        let fixture = try await RoundTripFixture.start()
        defer { afterTest { await fixture.stop() } }
        for namespace in ["sandman", "kube-green"] {
            try await fixture.load(namespace, scenario: "everything")
            _ = try await fixture.executor().sleep(try await fixture.target(namespace), operation: try await fixture.operation("sleep", namespace: namespace), scheduledAt: Self.night)
            // The ConfigMap and ReplicaSet patches are dropped from the SleepInfo while asleep.
            let spec = try #require(RoundTripFixture.sleepInfos["everything"])
            try await fixture.setSleepInfo(namespace, spec: String(spec[..<(try #require(spec.range(of: "- target: {group: apps, kind: ReplicaSet}")).lowerBound)]))
        }
        let woken = try await fixture.executor().wake(try await fixture.target("sandman"), operation: try await fixture.operation("wake", namespace: "sandman"), scheduledAt: Self.morning)
        try await KubeGreen(client: fixture.client).wakeUp(namespace: "kube-green", sleepInfo: try await fixture.sleepInfo("kube-green"), now: Self.morning)
        #expect(woken.skipped.map { "\($0.ref) \($0.reason)" } == [
            "ConfigMap./flags its kind is no longer patched by the SleepInfo: restore data ignored",
            "ConfigMap./settings its kind is no longer patched by the SleepInfo: restore data ignored",
            "ReplicaSet.apps/legacy its kind is no longer patched by the SleepInfo: restore data ignored",
            "ScaledObject.keda.sh/api-scaler its kind is no longer patched by the SleepInfo: restore data ignored",
            "ScaledObject.keda.sh/worker-scaler its kind is no longer patched by the SleepInfo: restore data ignored",
        ])
        #expect(woken.summary["skipped"]?.array?.count == 5)
        let after = await fixture.snapshot("sandman")
        #expect(after["ConfigMap/flags"]?["data"] == ["mode": "asleep"])
        #expect(after["Deployment/api"]?["spec"]?["replicas"] == 3)
        #expect(after == (await fixture.snapshot("kube-green")))
        let events = try await fixture.client.list(.event, namespace: "sandman").items
        #expect(events.contains { $0["reason"] == "RestoreIgnored" && ($0["message"]?.string ?? "").contains("ConfigMap./flags") })
        #expect(try await fixture.secret("sandman").data["original-resource-info"] == nil)
    }
}
