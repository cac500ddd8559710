import Foundation
import Hub
import JSON
import KubeSim
import TestSupport
import Testing

/// Overrides mirrored on SleepInfos as `sandman.dev/override`, and taken in from there.
@Suite("Override annotations", .serialized, .awaitingCleanup)
struct OverrideAnnotationTests {
    static let sleepInfo = """
        apiVersion: kube-green.com/v1alpha1
        kind: SleepInfo
        metadata: {name: nights, namespace: shop}
        spec: {weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00"}
        """

    func annotation(_ sim: KubeSim) async -> JSONValue? {
        let object = await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights")
        return object?[path: ["metadata", "annotations", "sandman.dev/override"]]?.string.flatMap { try? JSONValue(parsing: Data($0.utf8)) }
    }

    func asleepFixture() async throws -> HubFixture {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", "")], start: instant("2027-01-04T19:00:00Z"))
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2) + "\n---\n" + Self.sleepInfo)
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 1 })
        fixture.clock.set(instant("2027-01-04T20:00:30Z"))
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        return fixture
    }

    @Test func anOverrideMadeThroughTheAPIIsShownOnTheSleepInfoUntilCleared() async throws {
        let fixture = try await asleepFixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        let created = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"shop","kind":"wake","duration":"2h","reason":"demo"}"#)
        #expect(created.status == 201, "\(created.body)")
        let id = try #require(created.body[path: ["override", "id"]]?.string)
        #expect(await eventually { await annotation(sim)?["id"]?.string == id })
        let shown = await annotation(sim)
        #expect(shown?["kind"] == "wake")
        #expect(shown?["until"] == "2027-01-04T22:00:30Z")
        #expect(shown?["actor"] == "admin")
        #expect(shown?["reason"] == "demo")

        #expect(try await fixture.api("DELETE", "/api/v1/overrides/\(id)").status == 204)
        #expect(await eventually { await annotation(sim) == nil })
    }

    /// A wake with no duration lasts until the schedule next says sleep; a whole-cluster one is
    /// shown as such on every SleepInfo.
    @Test func aWholeClusterWakeWithoutDurationLastsUntilTheNextScheduledSleep() async throws {
        let fixture = try await asleepFixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        let woken = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"all": true}"#)
        #expect(woken.status == 202, "\(woken.body)")
        #expect(await eventually { await fixture.isAwake("staging", "shop") })
        let overrides = try await fixture.api("GET", "/api/v1/overrides").body["overrides"]?.array ?? []
        #expect(overrides.count == 1)
        #expect(overrides.first?["scope"] == "cluster")
        #expect(overrides.first?["until"] == "2027-01-05T20:00:00Z", "\(overrides)")
        #expect(await eventually { await annotation(sim)?["scope"] == "cluster" })
        #expect(await annotation(sim)?["until"] == "2027-01-05T20:00:00Z")
        // Awake through the night and the next day, asleep again at the scheduled sleep.
        #expect(await fixture.settle(at: instant("2027-01-05T19:59:00Z")))
        #expect(await fixture.isAwake("staging", "shop"))
        fixture.clock.set(instant("2027-01-05T20:00:30Z"))
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        #expect(await eventually { await annotation(sim) == nil })
    }

    @Test func anOverrideWrittenWithKubectlIsTakenIn() async throws {
        let fixture = try await asleepFixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        let kubectl = try Kubectl(kubeconfig: fixture.directory.path + "/kube/staging.yaml", cacheDirectory: fixture.directory.path + "/kubectl-cache")
        let annotated = try await kubectl.run(["annotate", "sleepinfo", "nights", "-n", "shop", #"sandman.dev/override={"kind":"wake","until":"2027-01-04T23:00:00Z","reason":"late demo"}"#])
        #expect(annotated.status == 0, "\(annotated.stderr)")

        #expect(await eventually { await fixture.isAwake("staging", "shop") })
        let overrides = try await fixture.api("GET", "/api/v1/overrides")
        let adopted = try #require(overrides.body["overrides"]?.array?.first, "\(overrides.body)")
        #expect(adopted["actor"] == "kubectl")
        #expect(adopted["until"] == "2027-01-04T23:00:00Z")
        #expect(adopted["reason"] == "late demo")
        // Written back with its id, and taken in once only.
        #expect(await eventually { await annotation(sim)?["id"] == adopted["id"] })
        #expect(await fixture.settle())
        #expect(try await fixture.api("GET", "/api/v1/overrides").body["overrides"]?.array?.count == 1)

        // At its end the schedule takes over again, and the annotation goes.
        fixture.clock.set(instant("2027-01-04T23:00:30Z"))
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        #expect(await eventually { await annotation(sim) == nil })
    }

    @Test func aMalformedAnnotationIsReportedAndLeftAlone() async throws {
        let fixture = try await asleepFixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        let kubectl = try Kubectl(kubeconfig: fixture.directory.path + "/kube/staging.yaml", cacheDirectory: fixture.directory.path + "/kubectl-cache")
        let annotated = try await kubectl.run(["annotate", "sleepinfo", "nights", "-n", "shop", #"sandman.dev/override={"kind":"nap"}"#])
        #expect(annotated.status == 0, "\(annotated.stderr)")
        #expect(await eventually {
            await sim.objects(apiVersion: "v1", kind: "Event", namespace: "shop").contains {
                ($0["message"]?.string ?? "").contains("annotation sandman.dev/override: kind must be one of wake, sleep, skip")
            }
        })
        #expect(await fixture.isAsleep("staging", "shop"))
        #expect(try await fixture.api("GET", "/api/v1/overrides").body["overrides"]?.array?.isEmpty == true)
        let object = await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights")
        #expect(object?[path: ["metadata", "annotations", "sandman.dev/override"]] == #"{"kind":"nap"}"#)
    }
}
