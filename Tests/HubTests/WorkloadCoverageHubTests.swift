import Foundation
import JSON
import KubeSim
import TestSupport
import Testing

/// Issue 24 through the hub: a hub schedule with a grace period and the kinds beyond
/// kube-green's, and SleepInfo annotations for partial sleep, as a user configures them.
@Suite("Workload coverage through the hub", .serialized, .awaitingCleanup)
struct WorkloadCoverageHubTests {
    // Monday 19:00 UTC; the schedule sleeps at 20:00 and wakes at 08:00.
    static let start = instant("2027-01-04T19:00:00Z")
    static let cluster = """
        schedules:
          - name: nights
            namespaces: [ops]
            weekdays: "*"
            sleepAt: "20:00"
            wakeUpAt: "08:00"
            gracePeriod: 15m
            suspendJobs: true
            suspendDaemonSets: true
        client: {qps: 500, burst: 500}
        """

    static func deployment(_ name: String, replicas: Int, namespace: String = "ops") -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: \(name), namespace: \(namespace)}
        spec: {replicas: \(replicas), selector: {matchLabels: {app: \(name)}}, template: {metadata: {labels: {app: \(name)}}, spec: {containers: [{name: app, image: app}]}}}
        """
    }

    /// Someone deploys `fresh` at 19:55: the 20:00 sleep leaves it running until 20:10, says so,
    /// and puts it to sleep then; the DaemonSet and the Job sleep at 20:00 with the rest.
    @Test func aWorkloadDeployedJustBeforeTheSleepGetsItsGracePeriod() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.cluster)], start: Self.start)
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        try await sim.load(manifests: """
            apiVersion: v1
            kind: Namespace
            metadata: {name: ops}
            ---
            \(Self.deployment("api", replicas: 3))
            ---
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent, namespace: ops}
            spec: {selector: {matchLabels: {app: agent}}, template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: agent, image: agent}]}}}
            ---
            apiVersion: batch/v1
            kind: Job
            metadata: {name: backfill, namespace: ops}
            spec: {template: {spec: {restartPolicy: Never, containers: [{name: backfill, image: backfill}]}}}
            """, createdAt: instant("2027-01-04T10:00:00Z"))
        try await sim.load(manifests: Self.deployment("fresh", replicas: 2), createdAt: instant("2027-01-04T19:55:00Z"))
        try await fixture.startHub()
        #expect(await fixture.settle())

        #expect(await fixture.settle(at: instant("2027-01-04T20:00:30Z")))
        #expect(await fixture.replicas("staging", "ops") == ["api": 0, "fresh": 2])
        #expect(await sim.object(apiVersion: "apps/v1", kind: "DaemonSet", namespace: "ops", name: "agent")?[
            path: ["spec", "template", "spec", "nodeSelector", "sandman.dev/asleep"]
        ] == "true")
        #expect(await sim.object(apiVersion: "batch/v1", kind: "Job", namespace: "ops", name: "backfill")?[path: ["spec", "suspend"]] == true)
        let status = try await fixture.api("GET", "/api/v1/clusters/staging/namespaces").body
        let ops = status["namespaces"]?.array?.first { $0["namespace"] == "ops" }
        #expect(ops?["state"] == "asleep")
        #expect(ops?["graceUntil"] == "2027-01-04T20:10:00Z", "\(ops ?? .null)")
        let table = try await fixture.cli(["get", "namespaces", "--cluster", "staging"])
        #expect(table.stdout.contains("held: grace until") && table.stdout.contains("20:10"), "\(table.stdout)")

        #expect(await fixture.settle(at: instant("2027-01-04T20:10:30Z")))
        #expect(await fixture.replicas("staging", "ops") == ["api": 0, "fresh": 0])
        let after = try await fixture.api("GET", "/api/v1/clusters/staging/namespaces").body
        #expect(after["namespaces"]?.array?.first { $0["namespace"] == "ops" }?["graceUntil"] == .null)

        // Someone deploys at 22:00 while the namespace sleeps: it runs until 22:15, then sleeps.
        try await sim.load(manifests: Self.deployment("late", replicas: 4), createdAt: instant("2027-01-04T22:00:00Z"))
        #expect(await fixture.settle(at: instant("2027-01-04T22:01:00Z")))
        #expect(await fixture.replicas("staging", "ops") == ["api": 0, "fresh": 0, "late": 4])
        let night = try await fixture.api("GET", "/api/v1/clusters/staging/namespaces").body
        #expect(night["namespaces"]?.array?.first { $0["namespace"] == "ops" }?["graceUntil"] == "2027-01-04T22:15:00Z")
        #expect(await fixture.settle(at: instant("2027-01-04T22:15:30Z")))
        #expect(await fixture.replicas("staging", "ops") == ["api": 0, "fresh": 0, "late": 0])
        let operations = try await fixture.api("GET", "/api/v1/operations?cluster=staging").body["operations"]?.array ?? []
        #expect(operations.first?["reason"]?.string?.hasPrefix("grace period over") == true, "\(operations.first ?? .null)")
        // Quiet nights write nothing: one operation at 20:00, one at 20:10, one at 22:15.
        #expect(operations.count == 3, "\(operations.map { $0["reason"] ?? .null })")

        #expect(await fixture.settle(at: instant("2027-01-05T08:00:30Z")))
        #expect(await fixture.replicas("staging", "ops") == ["api": 3, "fresh": 2, "late": 4])
        #expect(await sim.object(apiVersion: "apps/v1", kind: "DaemonSet", namespace: "ops", name: "agent")?[
            path: ["spec", "template", "spec", "nodeSelector"]
        ] == nil)
        #expect(await sim.object(apiVersion: "batch/v1", kind: "Job", namespace: "ops", name: "backfill")?[path: ["spec", "suspend"]] == false)
    }

    /// A SleepInfo keeps one replica of each workload through `sandman.dev/downtime-replicas`;
    /// a malformed annotation makes the SleepInfo invalid, naming the annotation.
    @Test func aSleepInfoAsksForAPartialSleepByAnnotation() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", "client: {qps: 500, burst: 500}")], start: Self.start)
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        func sleepInfo(_ namespace: String, downtime: String) -> String {
            """
            apiVersion: v1
            kind: Namespace
            metadata: {name: \(namespace)}
            ---
            \(Self.deployment("api", replicas: 4, namespace: namespace))
            ---
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: nights, namespace: \(namespace), annotations: {sandman.dev/downtime-replicas: "\(downtime)"}}
            spec: {weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: UTC}
            """
        }
        try await sim.load(manifests: sleepInfo("kept", downtime: "1") + "\n---\n" + sleepInfo("broken", downtime: "half"))
        try await fixture.startHub()
        #expect(await fixture.settle(at: instant("2027-01-04T20:00:30Z")))
        #expect(await fixture.replicas("staging", "kept") == ["api": 1])
        #expect(await fixture.replicas("staging", "broken") == ["api": 4])
        let status = try await fixture.api("GET", "/api/v1/clusters/staging/namespaces").body
        let broken = status["namespaces"]?.array?.first { $0["namespace"] == "broken" }
        #expect(broken?["problem"]?.string?.contains("metadata.annotations[sandman.dev/downtime-replicas]") == true, "\(broken ?? .null)")

        #expect(await fixture.settle(at: instant("2027-01-05T08:00:30Z")))
        #expect(await fixture.replicas("staging", "kept") == ["api": 4])
    }

    /// A team's plugin keeps one replica of each staging workload at night; the wake, judging the
    /// workloads by what that sleep did (the Secret says so), gives back exactly what there was.
    @Test func aPluginDecidesAPartialSleep() async throws {
        let schedule = """
            schedules:
              - {name: nights, namespaces: [shop], weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00"}
            client: {qps: 500, burst: 500}
            """
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", schedule)], start: Self.start)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 4))
        try fixture.directory.write("plugins/policy/keep-one.lua", """
            function decide(ctx)
              if ctx.action == "sleep" and ctx.tier == "staging" then
                return {action = "sleep", reason = "staging keeps one replica at night", downtimeReplicas = 1}
              end
            end
            """)
        let original = await fixture.replicas("staging", "shop")
        try await fixture.startHub()
        #expect(await fixture.settle())
        #expect(await fixture.settle(at: instant("2027-01-04T20:00:30Z")))
        #expect(await fixture.replicas("staging", "shop") == original.mapValues { min($0, 1) })
        let operations = try await fixture.api("GET", "/api/v1/operations?cluster=staging").body["operations"]?.array ?? []
        #expect(operations.first?["reason"]?.string?.contains("keeping 1 replicas") == true, "\(operations.first ?? .null)")

        #expect(await fixture.settle(at: instant("2027-01-05T08:00:30Z")))
        #expect(await fixture.replicas("staging", "shop") == original)
    }
}
