import Foundation
import Hub
import JSON
import TestSupport
import Testing

/// The override model of docs/operations.md end to end: a hub on a manual clock against a
/// simulated cluster, driven through the API, the CLI and kubectl. Each test is one of the
/// observations of issue 12 that once went wrong.
@Suite("Override model end to end", .serialized, .awaitingCleanup)
struct OverrideModelHubTests {
    static let cluster = """
        schedules:
          - {name: office-hours, namespaces: [payments, search-a, empty], weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00"}
        teams:
          - {name: payments, namespaces: [payments, shop]}
          - {name: search, namespaces: [search-a]}
        """

    static let nights = """
        apiVersion: kube-green.com/v1alpha1
        kind: SleepInfo
        metadata: {name: nights, namespace: shop}
        spec: {weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00"}
        """

    /// A hub started at `start` with payments, shop (under a SleepInfo), search-a and an empty namespace.
    func started(at start: String, extra: String = "") async throws -> HubFixture {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.cluster + extra)], start: instant(start))
        let manifests = ["payments", "shop", "search-a"].map { HubFixture.shop($0, deployments: 2) }
            + ["apiVersion: v1\nkind: Namespace\nmetadata: {name: empty}", Self.nights]
        try await fixture.simulators["staging"]!.load(manifests: manifests.joined(separator: "\n---\n"))
        try await fixture.startHub()
        #expect(await fixture.settle(), "the hub did not settle after starting")
        return fixture
    }

    func overrides(_ fixture: HubFixture, namespace: String? = nil) async throws -> [JSONValue] {
        let all = try await fixture.api("GET", "/api/v1/overrides").body["overrides"]?.array ?? []
        return all.filter { namespace == nil || $0["namespace"]?.string == namespace }
    }

    func namespace(_ fixture: HubFixture, _ name: String) async throws -> JSONValue {
        let all = try await fixture.api("GET", "/api/v1/clusters/staging/namespaces").body["namespaces"]?.array ?? []
        return all.first { $0["namespace"]?.string == name } ?? .null
    }

    func operations(_ fixture: HubFixture, namespace: String) async throws -> [JSONValue] {
        let all = try await fixture.api("GET", "/api/v1/operations?limit=1000").body["operations"]?.array ?? []
        return all.filter { ($0["namespaces"]?.array ?? []).contains(.string(namespace)) }
    }

    /// Observation 1: a wake after a sleep replaces it; when the wake ends the namespace follows
    /// its schedule (awake at noon), and the old sleep never comes back.
    @Test func aNewerWakeReplacesAnOlderSleepForGood() async throws {
        let fixture = try await started(at: "2027-01-04T10:00:00Z")
        defer { afterTest { await fixture.stop() } }
        #expect(try await namespace(fixture, "payments")["state"] == "awake")
        let sleep = try await fixture.cli(["sleep", "staging", "payments"])
        #expect(sleep.status == 0, "\(sleep.stderr)")
        await fixture.settle()
        #expect(try await namespace(fixture, "payments")["state"] == "asleep")
        #expect(try await overrides(fixture, namespace: "payments").map { $0["until"] } == ["2027-01-05T08:00:00Z"])

        fixture.clock.set(instant("2027-01-04T11:00:00Z"))
        let wake = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["payments"],"duration":"1h"}"#)
        #expect(wake.status == 202, "\(wake.body)")
        await fixture.settle()
        let open = try await overrides(fixture, namespace: "payments")
        #expect(open.count == 1)
        #expect(open.first?["kind"] == "wake")
        let status = try await namespace(fixture, "payments")
        #expect(status["state"] == "awake")
        #expect(status[path: ["override", "kind"]] == "wake")
        #expect(status[path: ["nextTransition", "action"]] == "sleep")
        #expect(status[path: ["nextTransition", "at"]] == "2027-01-04T20:00:00Z", "the wake's end changes nothing: the schedule says awake")
        let audit = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z").body["entries"]?.array ?? []
        #expect(audit.contains { $0["action"] == "override-superseded" && $0["namespace"] == "payments" })

        await fixture.settle(at: instant("2027-01-04T12:00:00Z"))
        #expect(try await namespace(fixture, "payments")["state"] == "awake")
        #expect(try await overrides(fixture, namespace: "payments").isEmpty)
        await fixture.settle(at: instant("2027-01-04T15:00:00Z"))
        #expect(try await operations(fixture, namespace: "payments").map { $0["action"] } == ["wake", "sleep"], "nothing but the two requests")
        await fixture.settle(at: instant("2027-01-04T20:00:00Z"))
        #expect(try await namespace(fixture, "payments")["state"] == "asleep")
    }

    /// Observation 2: a cluster skip made while a namespace sleep override runs to 08:00 swallows
    /// the 08:00 wake, not the evening sleep.
    @Test func aSkipSwallowsTheTransitionAtTheInstantAnOverrideEnds() async throws {
        let fixture = try await started(at: "2027-01-04T21:00:00Z")
        defer { afterTest { await fixture.stop() } }
        #expect(try await namespace(fixture, "payments")["state"] == "asleep", "caught up the 20:00 sleep")
        fixture.clock.set(instant("2027-01-04T22:00:00Z"))
        let sleep = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["payments"],"duration":"10h"}"#)
        #expect(sleep.status == 202, "\(sleep.body)")
        await fixture.settle()
        fixture.clock.set(instant("2027-01-04T23:00:00Z"))
        let skip = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","all":true,"kind":"skip","reason":"holiday"}"#)
        #expect(skip.status == 201, "\(skip.body)")
        await fixture.settle()
        #expect(try await namespace(fixture, "payments")[path: ["nextTransition", "at"]] == "2027-01-06T08:00:00Z")

        await fixture.settle(at: instant("2027-01-05T08:00:00Z"))
        for name in ["payments", "search-a", "shop"] {
            #expect(try await namespace(fixture, name)["state"] == "asleep", "\(name): its 08:00 wake is skipped")
        }
        #expect(try await overrides(fixture).isEmpty, "the skip is used up, the sleep override over")
        let before = try await operations(fixture, namespace: "payments").count
        await fixture.settle(at: instant("2027-01-05T20:00:00Z"))
        #expect(try await operations(fixture, namespace: "payments").count == before, "the evening sleep changes nothing")
        await fixture.settle(at: instant("2027-01-06T08:00:00Z"))
        #expect(try await namespace(fixture, "payments")["state"] == "awake")
    }

    /// Observation 3: overrides never stack, and a hand-written annotation newer than the stored
    /// override is taken in rather than overwritten.
    @Test func overridesDoNotStackAndAHandWrittenAnnotationWins() async throws {
        let fixture = try await started(at: "2027-01-04T10:00:00Z")
        defer { afterTest { await fixture.stop() } }
        _ = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","all":true,"kind":"wake","until":"2027-01-04T23:00:00Z"}"#)
        for until in ["2027-01-04T21:00:00Z", "2027-01-10T06:25:00Z", "2027-01-04T22:00:00Z"] {
            let answer = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"shop","kind":"wake","until":"\#(until)"}"#)
            #expect(answer.status == 201, "\(answer.body)")
        }
        let open = try await overrides(fixture)
        #expect(open.count == 2, "one of the cluster's, one of shop's: \(open)")
        #expect(open.first { $0["scope"] == "namespace" }?["until"] == "2027-01-04T22:00:00Z")
        await fixture.settle()
        let kubectl = try Kubectl(kubeconfig: fixture.directory.path + "/kube/staging.yaml", cacheDirectory: fixture.directory.path + "/kubectl-cache")
        func annotation() async throws -> String {
            try await kubectl.run(["-n", "shop", "get", "sleepinfo", "nights", "-o", #"jsonpath={.metadata.annotations.sandman\.dev/override}"#]).stdout
        }
        #expect(try await annotation().contains(#""until":"2027-01-04T22:00:00Z""#))

        let written = try await kubectl.run(["-n", "shop", "annotate", "--overwrite", "sleepinfo", "nights",
                                             #"sandman.dev/override={"kind":"sleep","until":"2027-01-04T18:00:00Z","reason":"by hand"}"#])
        #expect(written.status == 0, "\(written.stderr)")
        #expect(await eventually { (try? await overrides(fixture, namespace: "shop").first?["reason"]) == "by hand" })
        await fixture.settle()
        #expect(try await overrides(fixture, namespace: "shop").map { $0["kind"] } == ["sleep"])
        #expect(try await annotation().contains(#""reason":"by hand""#), "the hand-written override stays, with its id")
        #expect(try await namespace(fixture, "shop")["state"] == "asleep")
        let audit = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z").body["entries"]?.array ?? []
        #expect(audit.contains { $0["source"] == "annotation" && $0["action"] == "override-sleep" })
    }

    /// Observation 4: every source is checked the same way, all or nothing.
    @Test func overridesForWhatDoesNotExistOrIsNotAllowedAreRefusedWhole() async throws {
        let fixture = try await started(at: "2027-01-04T10:00:00Z")
        defer { afterTest { await fixture.stop() } }
        let unknown = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"nope","kind":"wake","duration":"1h"}"#)
        #expect(unknown.status == 404)
        #expect((unknown.body[path: ["error", "message"]]?.string ?? "").contains("managed: empty, payments, search-a, shop"))
        let mixed = #"{"cluster":"staging","namespaces":["payments","search-a"],"kind":"sleep","duration":"1h"}"#
        #expect(try await fixture.api("POST", "/api/v1/overrides", body: mixed, as: "payments-operator").status == 403)
        let mixedWake = #"{"namespaces":["payments","search-a"],"duration":"1h"}"#
        #expect(try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: mixedWake, as: "payments-operator").status == 403)
        #expect(try await overrides(fixture).isEmpty)
        #expect(try await fixture.api("GET", "/api/v1/operations").body["operations"]?.array?.isEmpty == true)
        await fixture.settle()
        #expect(await fixture.isAwake("staging", "payments"))
    }

    /// Observation 5: an empty namespace is asleep after a sleep, counted, and not slept again.
    @Test func anEmptyNamespaceIsAsleepAfterASleepAndActedOnOnce() async throws {
        let fixture = try await started(at: "2027-01-04T21:00:00Z")
        defer { afterTest { await fixture.stop() } }
        #expect(try await namespace(fixture, "empty")["state"] == "asleep")
        let cluster = try await fixture.api("GET", "/api/v1/clusters").body["clusters"]?.array?.first ?? .null
        #expect(cluster[path: ["namespaces", "asleep"]] == 4)
        let sleep = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["empty"]}"#)
        #expect(sleep.status == 202)
        await fixture.settle()
        let count = try await operations(fixture, namespace: "empty").count
        #expect(count == 2, "the 20:00 catch-up and the request")
        for minutes in [5, 10, 15] {
            await fixture.settle(at: instant("2027-01-04T21:00:00Z").addingTimeInterval(Double(minutes) * 60))
        }
        #expect(try await operations(fixture, namespace: "empty").count == count, "no operation at resync")
        await fixture.settle(at: instant("2027-01-05T08:00:00Z"))
        #expect(try await namespace(fixture, "empty")["state"] == "awake")
    }

    /// Observation 6: NEXT is the next real change.
    @Test func nextIsTheNextRealChange() async throws {
        let fixture = try await started(at: "2027-01-04T10:00:00Z")
        defer { afterTest { await fixture.stop() } }
        _ = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["payments"],"duration":"3h"}"#)
        _ = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"search-a","kind":"wake","until":"2027-01-04T22:00:00Z"}"#)
        _ = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"shop","kind":"skip"}"#)
        await fixture.settle()
        let payments = try await namespace(fixture, "payments")
        #expect(payments[path: ["nextTransition", "action"]] == "wake")
        #expect(payments[path: ["nextTransition", "at"]] == "2027-01-04T13:00:00Z")
        #expect(payments[path: ["nextTransition", "cause"]] == "override ends")
        let search = try await namespace(fixture, "search-a")
        #expect(search[path: ["nextTransition", "at"]] == "2027-01-04T22:00:00Z", "the 20:00 sleep is absorbed")
        let shop = try await namespace(fixture, "shop")
        #expect(shop[path: ["nextTransition", "action"]] == "sleep")
        #expect(shop[path: ["nextTransition", "at"]] == "2027-01-05T20:00:00Z", "tonight's sleep is skipped")
        let table = try await fixture.cli(["get", "namespaces"])
        #expect(table.stdout.contains("(in 3h, override ends)"), "\(table.stdout)")
        #expect(table.stdout.contains("skip next transition"), "\(table.stdout)")
    }

    /// Observation 6, Slack side: pre-sleep warnings only for sleeps that will happen.
    @Test func preSleepWarningsOnlyForSleepsThatWillHappen() async throws {
        let received = Recorder<String>()
        let slack = try await acceptingSlackAPI(recording: received)
        defer { afterTest { await slack.shutdown() } }
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.cluster)], start: instant("2027-01-04T19:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: ["payments", "search-a", "shop"].map { HubFixture.shop($0, deployments: 1) }.joined(separator: "\n---\n") + "\n---\n" + Self.nights)
        try fixture.directory.write("plugins/notify/warnings.lua", """
            function format(event)
              if event.type == "pre_sleep_warning" then return {text = "warning " .. event.namespace} end
              return nil
            end
            """)
        try fixture.directory.write("sandman.yaml", """
            listen: 127.0.0.1:0
            database: hub.sqlite
            plugins: {directory: plugins}
            slack: {botToken: xoxb-test, apiURL: "\(slack.baseURL)/api", defaultChannel: "#ops"}
            """)
        try await fixture.startHub()
        await fixture.settle()
        _ = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"payments","kind":"wake","until":"2027-01-04T22:00:00Z"}"#)
        _ = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"search-a","kind":"skip"}"#)
        await fixture.settle()
        await fixture.settle(at: instant("2027-01-04T19:52:00Z"))
        // The notifier looks every 30 s of hub time: the next look warns of shop's sleep.
        fixture.clock.advance(by: 31)
        #expect(await eventually { received.values.contains { $0.contains("warning shop") } })
        let store = try #require(fixture.server?.hub.store)
        #expect(await eventually { (try? await store.dueMessages(at: fixture.clock.now).isEmpty) == true })
        #expect(!received.values.contains { $0.contains("warning payments") }, "payments is kept awake until 22:00")
        #expect(!received.values.contains { $0.contains("warning search-a") }, "search-a skips tonight's sleep")
    }

    /// Observation 7: a request that fails leaves no override behind.
    @Test func aRefusedRequestLeavesNoOverride() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", "")], start: instant("2027-01-04T10:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        try await fixture.startHub()
        await fixture.settle()
        let refused = try await fixture.cli(["sleep", "staging", "--all"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("manages no namespace"), "\(refused.stderr)")
        #expect(try await overrides(fixture).isEmpty)
        // Once a SleepInfo makes shop managed, nothing puts it to sleep in office hours.
        try await fixture.simulators["staging"]!.load(manifests: Self.nights)
        #expect(await eventually { (try? await namespace(fixture, "shop"))?["state"] == "awake" })
        await fixture.settle()
        #expect(await fixture.isAwake("staging", "shop"))
        #expect(try await fixture.api("GET", "/api/v1/operations").body["operations"]?.array?.isEmpty == true)
    }
}
