import Foundation
import JSON
import Kube
import KubeSim
import Sleep
import TestSupport
import Testing

/// What an evaluation reads once and hands to the operations it runs: the state Secret as read,
/// and objects listed across namespaces.
@Suite("Reads shared by an evaluation", .awaitingCleanup)
struct SharedReadsTests {
    @Test func aStateSecretBelievedAbsentIsReadAgainAndItsRestoreDataKept() async throws {
        let fixture = try await SleepFixture.start()
        defer { afterTest { await fixture.stop() } }
        let target = SleepExecutor.Target(namespace: "shop", name: "nights", spec: SleepSpec())
        let executor = fixture.executor()
        func replicas() async -> [String: Int64] {
            var found: [String: Int64] = [:]
            for object in await fixture.sim.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop") {
                found[object[path: ["metadata", "name"]]?.string ?? ""] = object[path: ["spec", "replicas"]]?.int
            }
            return found
        }
        let original = await replicas()
        _ = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date())
        let asleep = await replicas()
        #expect(allAsleep(asleep), "\(asleep)")

        // A caller that found no state Secret (its kube-green label removed, say) sleeps the
        // namespace again: everything is at 0 already, and writing a Secret planned from that
        // would lose the original replicas. The write finds the Secret and the sleep starts over.
        let again = try await executor.sleep(target, operation: try await fixture.operation("sleep"), scheduledAt: Date(), state: try StateSecret(nil))
        #expect(again.failed.isEmpty)
        #expect(try await executor.state(of: target)?.restore.patch(groupKind: "Deployment.apps", name: "app-1") == #"{"spec":{"replicas":2}}"#)
        let woken = try await executor.wake(target, operation: try await fixture.operation("wake"), scheduledAt: Date())
        #expect(woken.failed.isEmpty)
        #expect(await replicas() == original)
    }

    /// A namespace `other` with one Deployment `api` beside the fixture's `shop`; returns the Deployment kind.
    static func addOtherNamespace(to fixture: SleepFixture) async throws -> ResourceKind {
        try await fixture.sim.load(manifests: """
            apiVersion: v1
            kind: Namespace
            metadata: {name: other}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: api, namespace: other}
            spec: {replicas: 2, selector: {matchLabels: {app: api}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: api, image: api}]}}}
            """)
        return try await fixture.client.resource(group: "apps", kind: "Deployment").kind
    }

    @Test func aKindIsListedAcrossNamespacesOnceASecondOneAsksAndEachShareServedOnce() async throws {
        let fixture = try await SleepFixture.start(deployments: 3)
        defer { afterTest { await fixture.stop() } }
        let kind = try await Self.addOtherNamespace(to: fixture)
        let objects = ClusterObjects(client: fixture.client)
        fixture.sim.resetRequests()
        let names = { (items: [JSONValue]) in items.compactMap { $0[path: ["metadata", "name"]]?.string }.sorted() }

        #expect(names(try await objects.items(of: kind, in: "shop")) == ["app-0", "app-1", "app-2", "db-proxy"])
        #expect(names(try await objects.items(of: kind, in: "other")) == ["api"])
        #expect(try await objects.items(of: kind, in: "empty").isEmpty)
        #expect(fixture.sim.requests.map(\.path) == ["/apis/apps/v1/namespaces/shop/deployments?limit=500", "/apis/apps/v1/deployments?limit=500"])

        // An operation changed `other`: asking again lists it afresh, not from the earlier list.
        _ = try await fixture.client.setScale(.deployment, namespace: "other", name: "api", replicas: 0)
        let fresh = try await objects.items(of: kind, in: "other")
        #expect(fresh.first?[path: ["spec", "replicas"]] == 0)
        #expect(fixture.sim.requests.last?.path == "/apis/apps/v1/namespaces/other/deployments?limit=500")
    }

    @Test func whenSeveralNamespacesAreKnownToActTheFirstOneListsAcrossAllOfThem() async throws {
        let fixture = try await SleepFixture.start(deployments: 3)
        defer { afterTest { await fixture.stop() } }
        let kind = try await Self.addOtherNamespace(to: fixture)
        let objects = ClusterObjects(client: fixture.client, expectingMany: true)
        fixture.sim.resetRequests()
        let names = { (items: [JSONValue]) in items.compactMap { $0[path: ["metadata", "name"]]?.string }.sorted() }
        // Both namespaces at once, as a whole-cluster sleep asks: one list between them.
        async let shop = objects.items(of: kind, in: "shop")
        async let other = objects.items(of: kind, in: "other")
        #expect(names(try await shop) == ["app-0", "app-1", "app-2", "db-proxy"])
        #expect(names(try await other) == ["api"])
        #expect(fixture.sim.requests.map(\.path) == ["/apis/apps/v1/deployments?limit=500"])
    }
}
