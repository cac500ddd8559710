import Foundation
import Hub
import JSON
import Kube
import KubeSim
import Sleep
import TestSupport
import Testing

/// A running hub taking over work someone else left half done: a namespace kube-green put to
/// sleep (either Secret format, no journal of Sandman's), and an object a person changes between
/// the hub's plan and its guarded patch.
@Suite("Hub taking over mid-sleep", .awaitingCleanup)
struct HandoverHubTests {
    enum SecretFormat: String, CaseIterable, Sendable {
        /// kube-green 0.6 and later: `original-resource-info`.
        case current
        /// kube-green before 0.6: `deployment-replicas`.
        case beforeV06
    }

    static let nights = "schedules:\n  - {name: nights, namespaces: [shop], weekdays: \"*\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\n"

    /// A second namespace under a hub schedule: with more than one unit, the hub reads the state
    /// Secrets in one list by kube-green's label (which kube-green before 0.6 did not write).
    static let blogNights = "schedules:\n  - {name: nights, namespaces: [blog], weekdays: \"*\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\n"

    /// `missedWake`: the hub starts at 08:30, after the wake-up time, and catches it up at once.
    @Test(arguments: SecretFormat.allCases, [false, true])
    func aNamespaceKubeGreenPutToSleepIsWokenByTheHubAtItsWakeUpTime(_ format: SecretFormat, missedWake: Bool) async throws {
        let start = instant(missedWake ? "2027-01-05T08:30:00Z" : "2027-01-05T07:50:00Z")
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.blogNights)], start: start)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 3) + "\n---\n" + HubEndToEndTests.sleepInfo)
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("blog", deployments: 1))
        let original = await fixture.replicas("staging", "shop")
        let client = try ClusterClients.client(for: try #require(try fixture.configuration.cluster(named: "staging")))
        let sleepInfo = try await client.get(.sleepInfo, namespace: "shop", name: "nights")
        switch format {
        case .current:
            try await KubeGreen(client: client).sleep(namespace: "shop", sleepInfo: sleepInfo, now: instant("2027-01-04T20:00:00Z"))
        case .beforeV06:
            for name in original.keys {
                _ = try await client.patch(.deployment, namespace: "shop", name: name, .merge(["spec": ["replicas": 0]]))
            }
            // No labels: kube-green only labelled its Secret from 0.6 on.
            var secret = Secret(name: "sleepinfo-nights", namespace: "shop")
            secret.metadata.ownerReferences = [OwnerReference(
                apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", name: "nights", uid: sleepInfo[path: ["metadata", "uid"]]?.string ?? ""
            )]
            let replicas = original.sorted { $0.key < $1.key }.map { #"{"name":"\#($0.key)","replicas":\#($0.value)}"# }
            secret.data = [
                "scheduled-at": "2027-01-04T20:00:00Z", "operation-type": "SLEEP", "deployment-replicas": "[\(replicas.joined(separator: ","))]",
            ].mapValues { Data($0.utf8) }
            _ = try await client.create(secret)
            var slept = sleepInfo
            slept["status"] = ["lastScheduleTime": "2027-01-04T20:00:00Z", "operation": "SLEEP"]
            _ = try await client.updateStatus(slept)
        }
        #expect(await fixture.isAsleep("staging", "shop"))

        try await fixture.startHub()
        if missedWake {
            #expect(await fixture.settle())
        } else {
            // Before 08:00 the hub leaves it asleep, and leaves kube-green's restore data alone...
            #expect(await fixture.settle())
            #expect(await fixture.isAsleep("staging", "shop"))
            let before = try await client.get(Secret.self, namespace: "shop", name: "sleepinfo-nights")
            #expect(before.string("operation-type") == "SLEEP")
            // ...and at 08:00 wakes it exactly, writing the Secret as kube-green would after a wake-up.
            #expect(await fixture.settle(at: instant("2027-01-05T08:00:30Z")))
        }
        #expect(await fixture.replicas("staging", "shop") == original)
        let after = try await client.get(Secret.self, namespace: "shop", name: "sleepinfo-nights")
        #expect(after.string("operation-type") == "WAKE_UP")
        #expect(after.data["original-resource-info"] == nil && after.data["deployment-replicas"] == nil)
    }

    /// A person scales app-0 after the hub planned the sleep and saved the restore data, before
    /// its patch: the guarded patch fails, the change is reported and kept, app-0 is not woken
    /// back to the value saved for it, and the rest wakes exactly.
    @Test func anObjectChangedBetweenThePlanAndItsPatchKeepsThePersonsValue() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.nights)], start: instant("2027-01-04T19:59:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 3))
        let original = await fixture.replicas("staging", "shop")
        let client = try ClusterClients.client(for: try #require(try fixture.configuration.cluster(named: "staging")))
        let changed = Recorder<String>()
        try await fixture.startHub(checkpoint: { point in
            guard case .restoreDataWritten("shop") = point, changed.values.isEmpty else { return }
            changed.append("app-0")
            _ = try? await client.patch(.deployment, namespace: "shop", name: "app-0", .merge(["spec": ["replicas": 5]]))
        })
        #expect(await fixture.settle())
        #expect(await fixture.isAwake("staging", "shop"))

        #expect(await fixture.settle(at: instant("2027-01-04T20:00:30Z")))
        #expect(changed.values == ["app-0"])
        var slept = await fixture.replicas("staging", "shop")
        #expect(slept.removeValue(forKey: "app-0") == 5, "the person's value")
        #expect(allAsleep(slept), "\(slept)")
        let operations = try await fixture.api("GET", "/api/v1/operations?cluster=staging").body["operations"]?.array ?? []
        let sleep = try #require(operations.first { $0["action"] == "sleep" })
        let skipped = sleep[path: ["summary", "skipped"]]?.array ?? []
        #expect(skipped.contains { $0["object"]?.string?.hasSuffix("Deployment.apps/app-0") == true }, "\(sleep)")

        #expect(await fixture.settle(at: instant("2027-01-05T08:00:30Z")))
        var woken = await fixture.replicas("staging", "shop")
        #expect(woken.removeValue(forKey: "app-0") == 5, "not woken back to \(original["app-0"] ?? -1)")
        var expected = original
        expected["app-0"] = nil
        #expect(woken == expected)
    }
}
