import Foundation
import Hub
import JSON
import Kube
import TestSupport
import Testing

/// `sandman release`: a cluster goes back to kube-green in the middle of a sleep.
@Suite("sandman release", .awaitingCleanup)
struct ReleaseTests {
    static let schedules = """
        schedules:
          - {name: nightly, namespaces: [batch], weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00"}
        """

    @Test func kubeGreenTakesOverWhatSandmanPutToSleep() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.schedules)], start: instant("2027-01-04T12:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = try #require(fixture.simulators["staging"])
        try await sim.load(manifests: HubFixture.shop("shop", deployments: 3))
        try await sim.load(manifests: HubFixture.shop("batch", deployments: 2))
        try await sim.load(manifests: """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: nights, namespace: shop}
            spec: {weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00"}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: tools}
            ---
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: picky, namespace: tools}
            spec:
              weekdays: "*"
              sleepAt: "20:00"
              includeRef:
                - {apiVersion: apps/v1, kind: Deployment, name: a}
                - {apiVersion: apps/v1, kind: Deployment, name: b}
            """)
        let original = await fixture.replicas("staging", "shop")
        let client = try ClusterClients.client(for: try #require(try fixture.configuration.cluster(named: "staging")))
        func sleepInfo() async throws -> SleepInfo { try await client.get(SleepInfo.self, namespace: "shop", name: "nights") }

        // The hub puts both namespaces to sleep by hand: the SleepInfo gets the finalizer and the override.
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 3 })
        let sleep = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop","batch"]}"#)
        #expect(sleep.status == 202, "\(sleep.body)")
        #expect(await eventually {
            let marked = try? await sleepInfo().metadata
            return marked?.finalizers.contains("sandman.dev/wake-on-delete") == true && marked?.annotations["sandman.dev/override"] != nil
        })
        #expect(await eventually {
            let (shop, batch) = (await fixture.replicas("staging", "shop"), await fixture.replicas("staging", "batch"))
            return (Array(shop.values) + Array(batch.values)).allSatisfy { $0 == 0 }
        })
        await fixture.stopHub()

        // batch sleeps under a hub schedule kube-green knows nothing of: a problem, exit 1.
        let config = fixture.directory.path + "/sandman.yaml"
        let everything = try await ProcessOutput.run(HubFixture.binary, arguments: ["release", "--config", config, "staging"], environment: ["NO_COLOR": "1"], timeout: .seconds(60))
        #expect(everything.status == 1)
        #expect(everything.stdout.contains("released SleepInfo shop/nights"), "\(everything.stdout)")
        #expect(everything.stderr.contains("problem: batch/sleepinfo-hub-nightly: 2 objects asleep with no SleepInfo hub-nightly"), "\(everything.stderr)")
        #expect(everything.stdout.contains("warning: tools/picky: includeRef names several objects of apps/v1/Deployment; kube-green ANDs them"))
        let released = try await sleepInfo().metadata
        #expect(!released.finalizers.contains("sandman.dev/wake-on-delete"))
        #expect(released.annotations["sandman.dev/override"] == nil)
        // Nothing left to do in shop alone.
        let again = try await ProcessOutput.run(HubFixture.binary, arguments: ["release", "--config", config, "staging", "shop"], environment: ["NO_COLOR": "1"], timeout: .seconds(60))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("0 SleepInfo(s) released, 0 problem(s)"))

        // kube-green wakes the namespace from Sandman's Secret, and deleting the SleepInfo no longer hangs.
        try await KubeGreen(client: client).wakeUp(namespace: "shop", sleepInfo: try await sleepInfo().object, now: instant("2027-01-05T08:00:00Z"))
        #expect(await fixture.replicas("staging", "shop") == original)
        try await client.delete(.sleepInfo, namespace: "shop", name: "nights")
        #expect(await eventually { (try? await client.get(.secret, namespace: "shop", name: "sleepinfo-nights")) == nil })
        #expect((try? await sleepInfo()) == nil)
    }

    @Test func aRunningHubIsNotReleasedUnderIt() async throws {
        let election = """
            leaderElection: {enabled: true, homeCluster: staging, namespace: kube-system, identity: hub-a}
            """
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", "")], start: Date())
        defer { afterTest { [fixture] in await fixture.stop() } }
        let config = try fixture.directory.write("sandman.yaml", "listen: 127.0.0.1:0\ndatabase: hub.sqlite\nplugins:\n  directory: plugins\n\(election)\n")
        try await fixture.simulators["staging"]!.load(manifests: "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}")
        try await fixture.startHub()
        let client = try ClusterClients.client(for: try #require(try fixture.configuration.cluster(named: "staging")))
        #expect(await eventually { (try? await client.get(Lease.self, namespace: "kube-system", name: "sandman-staging"))?.holderIdentity == "hub-a" })
        let refused = try await ProcessOutput.run(HubFixture.binary, arguments: ["release", "--config", config, "staging"], environment: ["NO_COLOR": "1"], timeout: .seconds(60))
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("hub replica hub-a acts on staging (Lease sandman-staging): stop it first, or pass --force"), "\(refused.stderr)")
        let forced = try await ProcessOutput.run(HubFixture.binary, arguments: ["release", "--config", config, "staging", "--force"], environment: ["NO_COLOR": "1"], timeout: .seconds(60))
        #expect(forced.status == 0, "\(forced.stderr)")
    }
}
