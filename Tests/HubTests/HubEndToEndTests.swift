import Config
import Foundation
import Hub
import JSON
import Kube
import KubeSim
import TestSupport
import Testing

/// The hub started like `sandman serve` (same factory), driven only through HTTP and the CLI binary.
@Suite("Hub end to end", .serialized, .awaitingCleanup)
struct HubEndToEndTests {
    // Monday 2027-01-04 12:00 UTC: a weekday noon, after every object's creation time.
    static let monday = instant("2027-01-04T12:00:00Z")
    static let officeHours = """
        schedules:
          - name: office-hours
            namespaces: ["shop", "payments-*", "search-*"]
            weekdays: "1-5"
            sleepAt: "20:00"
            wakeUpAt: "08:00"
        teams:
          - name: payments
            namespaces: ["payments-*", "shop"]
          - name: search
            namespaces: ["search-*"]
        """

    static let sleepInfo = """
        apiVersion: kube-green.com/v1alpha1
        kind: SleepInfo
        metadata: {name: nights, namespace: shop}
        spec: {weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00"}
        """

    /// A hub (not started) over staging, whose namespace shop has 3 Deployments and `sleepInfo`;
    /// the Deployments' replicas as they were.
    static func shopUnderSleepInfo(_ sleepInfo: String = sleepInfo) async throws -> (HubFixture, [String: Int64]) {
        let fixture = try await HubFixture.make(clusters: ["staging": ("staging", "")], start: monday)
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 3) + "\n---\n" + sleepInfo)
        return (fixture, await fixture.replicas("staging", "shop"))
    }

    @Test func statusOfThreeClustersWithOneUnreachable() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours), "production": ("production", "")], unreachable: ["edge"], start: Self.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 3))
        try await fixture.startHub()

        #expect(await eventually {
            let status = try? await fixture.api("GET", "/api/v1/clusters")
            let clusters = status?.body["clusters"]?.array ?? []
            // Two ready, and edge's first probe has failed.
            return clusters.filter { $0["ready"] == true }.count == 2 && clusters.contains { $0["lastError"]?.string != nil }
        })
        let json = try await fixture.cli(["status", "-o", "json"])
        #expect(json.status == 3, "\(json.stderr)")
        let clusters = try JSONValue(parsing: json.stdout)["clusters"]?.array ?? []
        #expect(clusters.compactMap { $0["name"]?.string } == ["edge", "production", "staging"])
        let edge = try #require(clusters.first { $0["name"] == "edge" })
        #expect(edge["ready"] == false)
        #expect(edge["reachable"] == false)
        #expect((edge["lastError"]?.string ?? "").hasPrefix("unreachable"))
        let staging = try #require(clusters.first { $0["name"] == "staging" })
        #expect(staging["version"] == .string(KubeSim.Configuration().gitVersion))
        #expect(staging[path: ["namespaces", "managed"]] == 1)
        #expect(staging[path: ["nextTransition", "action"]] == "sleep")
        #expect(staging[path: ["nextTransition", "at"]] == "2027-01-04T20:00:00Z")

        let table = try await fixture.cli(["status"])
        #expect(table.status == 3)
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.first == ["CLUSTER", "TIER", "STATUS", "VERSION", "ASLEEP", "NEXT", "SAVED", "(7D)"])
        #expect(lines.contains { $0.first == "edge" && $0.contains("Unreachable") }, "\(table.stdout)")
        #expect(lines.contains { $0.first == "staging" && $0.contains("Ready") && $0.contains("0/1") && $0.contains("(in") })

        let yaml = try await fixture.cli(["status", "-o", "yaml"])
        #expect(yaml.stdout.contains("name: staging"))

        // Watched into a file (as into a pipe): each view arrives when drawn, without escapes.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let watch = try SignalledProcess(
            arguments: ["status", "--watch", "--hub", fixture.url, "--token", fixture.tokens["admin"]!], log: directory.path + "/watch.log"
        )
        #expect(await eventually { watch.logText.components(separatedBy: "CLUSTER").count > 2 }, "\(watch.logText)")
        _ = try await watch.stop(with: SIGTERM)
        #expect(!watch.logText.contains("\u{1B}["), "\(watch.logText)")
    }

    @Test func aWholeClusterWakeCoversEveryNamespaceInOneOperation() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours)], start: instant("2027-01-04T21:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        // More namespaces than the agent works on at once.
        let namespaces = ["shop", "payments-a", "payments-b", "payments-c", "search-a", "search-b", "search-c"]
        try await fixture.simulators["staging"]!.load(manifests: namespaces.map { HubFixture.shop($0, deployments: 2) }.joined(separator: "\n---\n"))
        var original: [String: [String: Int64]] = [:]
        for namespace in namespaces { original[namespace] = await fixture.replicas("staging", namespace) }
        try await fixture.startHub()
        for namespace in namespaces {
            #expect(await eventually { await fixture.isAsleep("staging", namespace) }, "\(namespace)")
        }

        let woken = try await fixture.cli(["wake", "staging", "--all", "--for", "1h"])
        #expect(woken.status == 0, "\(woken.stderr)")
        #expect(woken.stdout.contains("14 object(s) done, 0 skipped, 0 failed"), "\(woken.stdout)")
        for namespace in namespaces { #expect(woken.stdout.contains("  \(namespace): 2 object(s) done, 0 skipped, 0 failed")) }
        for namespace in namespaces {
            #expect(await fixture.replicas("staging", namespace) == original[namespace], "\(namespace)")
        }
        let operations = try await fixture.api("GET", "/api/v1/operations")
        let operation = try #require(operations.body["operations"]?.array?.first { $0["source"] == "api" || $0["source"] == "cli" }, "\(operations.body)")
        #expect(operation["state"] == "succeeded")
        #expect(operation[path: ["summary", "done"]]?.array?.count == 14)
        #expect(operation[path: ["summary", "planned"]]?.array?.count == 14)
        #expect(operation[path: ["summary", "namespaces"]]?.object?.keys.sorted() == namespaces.sorted())
        #expect(operation[path: ["summary", "done"]]?.array?.contains("search-c/Deployment.apps/app-1") == true)
        // Each namespace's objects have their own journal entries, though they share names.
        let journal = try await fixture.server!.hub.store.journalEntries(operationId: try #require(operation["id"]?.string))
        #expect(journal.count == 14)
        #expect(Set(journal.map(\.namespace)) == Set(namespaces))
    }

    @Test func aClusterThatNeverAnswersDoesNotDelayTheOthers() async throws {
        // Accepts connections and never answers: every request to it waits for its timeout.
        let hanging = try await TestHTTPServer.start { _ in
            try? await Task.sleep(for: .seconds(3600))
            return .text(200, "")
        }
        defer { afterTest { await hanging.shutdown() } }
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours)], start: instant("2027-01-04T19:59:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try fixture.directory.write("kube/edge.yaml", """
            apiVersion: v1
            kind: Config
            clusters: [{name: edge, cluster: {server: "\(hanging.baseURL)"}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: edge, context: {cluster: edge, user: u}}]
            current-context: edge
            """)
        try fixture.directory.write("clusters/edge.yaml", "tier: staging\nkubeconfig: ../kube/edge.yaml\nschedules:\n  - {name: all, namespaces: [\"*\"], weekdays: \"*\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\n")
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 1 })

        // Requests to edge wait 30 s for their timeout; staging's sleep does not wait for them.
        fixture.clock.set(instant("2027-01-04T20:00:30Z"))
        #expect(await eventually(timeout: .seconds(25)) { await fixture.isAsleep("staging", "shop") })
        let clusters = try await fixture.api("GET", "/api/v1/clusters")
        #expect(clusters.body["clusters"]?.array?.first { $0["name"] == "edge" }?["ready"] == false)
        #expect(hanging.connectionCount >= 1, "the hub did try the hanging cluster")
    }

    @Test func savingsAreWhatTheSleepsStoppedTimesHowLongTheySlept() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours)], start: instant("2027-01-04T19:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        // Two Deployments of 1 and 2 replicas asking 500m and 1 GiB each: 1.5 CPU and 3 GiB,
        // at the default prices (0.0316 per CPU-hour, 0.0042 per GiB-hour) 0.06 an hour.
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        try await fixture.startHub()
        let hub = try #require(fixture.server?.hub)
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 1 })

        fixture.clock.set(instant("2027-01-04T20:00:30Z"))
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        fixture.clock.set(instant("2027-01-05T08:00:30Z"))
        #expect(await eventually { await fixture.isAwake("staging", "shop") })
        #expect(abs(await hub.savings(cluster: "staging") - 0.72) < 1e-9, "12 hours at 0.06")

        // A whole-cluster sleep counts too, until now while it lasts.
        fixture.clock.set(instant("2027-01-05T10:00:30Z"))
        let sleep = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"all": true}"#)
        #expect(sleep.status == 202, "\(sleep.body)")
        let id = try #require(sleep.body[path: ["operation", "id"]]?.string)
        // Asked to wait, the hub answers once the operation has finished.
        var waited = try await fixture.api("GET", "/api/v1/operations/\(id)?wait=10s")
        // At most 10 s a request; a loaded machine may take longer to sleep the cluster.
        while waited.body[path: ["operation", "finishedAt"]] == .null, waited.status == 200 {
            waited = try await fixture.api("GET", "/api/v1/operations/\(id)?wait=10s")
        }
        #expect(waited.body[path: ["operation", "state"]] == "succeeded", "\(waited.body)")
        #expect(waited.body[path: ["operation", "finishedAt"]]?.string != nil)
        fixture.clock.set(instant("2027-01-05T12:00:30Z"))
        #expect(await eventually { abs(await hub.savings(cluster: "staging") - 0.84) < 1e-9 }, "plus 2 hours at 0.06")
        // Only the last 7 days count.
        fixture.clock.set(instant("2027-01-12T12:00:30Z"))
        #expect(await eventually { abs(await hub.savings(cluster: "staging") - 0.06 * 24 * 7) < 1e-6 }, "the whole-cluster sleep has lasted all week")
    }

    @Test func wakeForADurationThenBackToSleepAtExpiry() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours)], start: instant("2027-01-04T21:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 4))
        let original = await fixture.replicas("staging", "shop")
        try await fixture.startHub()

        // 21:00 on a Monday: the hub schedule says asleep, and the hub catches up at once.
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })

        let woken = try await fixture.cli(["wake", "staging", "shop", "--for", "2h", "--reason", "late release"])
        #expect(woken.status == 0, "\(woken.stderr)")
        #expect(woken.stdout.contains("wake staging/shop succeeded"), "\(woken.stdout)")
        #expect(woken.stdout.contains("4 object(s) done"))
        #expect(await fixture.replicas("staging", "shop") == original)

        let overrides = try await fixture.api("GET", "/api/v1/overrides")
        #expect(overrides.body["overrides"]?.array?.first?["until"] == "2027-01-04T23:00:00Z")

        // Nothing happens before the override ends...
        #expect(await fixture.settle(at: instant("2027-01-04T22:00:00Z")))
        #expect(await fixture.replicas("staging", "shop") == original)
        // ...and at its end the schedule takes over again.
        fixture.clock.advance(by: 3601)
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })

        let audit = try await fixture.cli(["audit", "-o", "json", "--since", "2000-01-01T00:00:00Z"])
        let entries = try JSONValue(parsing: audit.stdout)["entries"]?.array ?? []
        // A time with an offset keeps its "+" on the way to the hub.
        let offset = try await fixture.cli(["audit", "-o", "json", "--since", "2000-01-01T01:00:00+01:00", "--actor", "admin"])
        #expect(offset.status == 0, "\(offset.stderr)")
        let byAdmin = try JSONValue(parsing: offset.stdout)["entries"]?.array ?? []
        #expect(!byAdmin.isEmpty && byAdmin.allSatisfy { $0["actor"] == "admin" })
        #expect(entries.contains { $0["actor"] == "admin" && $0["source"] == "cli" && $0["action"] == "wake" && $0["result"] == "accepted" })
        #expect(entries.contains { $0["actor"] == "admin" && $0["source"] == "cli" && $0["action"] == "wake" && $0["result"] == "succeeded" })
        #expect(entries.filter { $0["source"] == "schedule" && $0["action"] == "sleep" && $0["result"] == "succeeded" }.count == 2)

        let namespaces = try await fixture.cli(["get", "namespaces", "--cluster", "staging"])
        #expect(namespaces.stdout.contains("shop"))
        #expect(namespaces.stdout.contains("asleep"))

        // An override is cleared by the short id `overrides list` shows.
        _ = try await fixture.cli(["wake", "staging", "shop", "--for", "1h"])
        let listed = try await fixture.cli(["overrides", "list"])
        let short = try #require(listed.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ").first, "\(listed.stdout)")
        #expect(short.count == 8)
        let unknown = try await fixture.cli(["overrides", "delete", "zzzz"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("override zzzz not found or already cleared"), "\(unknown.stderr)")
        let cleared = try await fixture.cli(["overrides", "delete", String(short)])
        #expect(cleared.status == 0, "\(cleared.stderr)")
        #expect(try await fixture.api("GET", "/api/v1/overrides").body["overrides"]?.array?.isEmpty == true)
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })

        // An override without an operation: kept awake until cleared, the hub wakes it.
        let kept = try await fixture.cli(["overrides", "create", "staging", "shop", "--kind", "wake", "--reason", "load test"])
        #expect(kept.status == 0, "\(kept.stderr)")
        let row = kept.stdout.split(separator: "\n").dropFirst().first.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(row?.dropFirst().prefix(4) == ["staging", "shop", "wake", "until"], "\(kept.stdout)")
        #expect(await eventually { await fixture.replicas("staging", "shop") == original })
        let skipFor = try await fixture.cli(["overrides", "create", "staging", "shop", "--kind", "skip", "--for", "1h"])
        #expect(skipFor.status == 1)
        #expect(skipFor.stderr.contains("(duration): a skip override ends with the next transition"), "\(skipFor.stderr)")
    }

    /// Who may do what: role x tier x team x cluster scope, and what a refusal leaves (nothing but
    /// its audit entry).
    struct Request: Sendable, CustomTestStringConvertible {
        var token: String?
        var action: String
        var cluster: String
        var body: String
        var status: Int
        var message: String? = nil
        var testDescription: String { "\(token ?? "no token") \(action) \(cluster) \(body) -> \(status)" }
    }

    static let requests: [Request] = [
        Request(token: "viewer", action: "wake", cluster: "staging", body: #"{"namespaces":["shop"]}"#, status: 403, message: "the viewer role may only read"),
        Request(token: "payments-operator", action: "sleep", cluster: "staging", body: #"{"namespaces":["search-api"]}"#, status: 403,
                message: "namespace search-api does not belong to teams payments"),
        Request(token: "payments-operator", action: "sleep", cluster: "staging", body: #"{"all": true}"#, status: 403),
        Request(token: "payments-operator", action: "sleep", cluster: "production", body: #"{"namespaces":["shop"]}"#, status: 403,
                message: "production needs the admin role"),
        Request(token: "staging-operator", action: "wake", cluster: "production", body: #"{"namespaces":["shop"]}"#, status: 403,
                message: "staging-operator may not act on cluster production"),
        Request(token: "staging-admin", action: "sleep", cluster: "production", body: #"{"namespaces":["shop"]}"#, status: 403,
                message: "staging-admin may not act on cluster production"),
        Request(token: nil, action: "sleep", cluster: "staging", body: #"{"namespaces":["shop"]}"#, status: 401),
        Request(token: "not-a-token", action: "sleep", cluster: "staging", body: #"{"namespaces":["shop"]}"#, status: 401),
        Request(token: "payments-operator", action: "sleep", cluster: "staging", body: #"{"namespaces":["shop"],"duration":"1h"}"#, status: 202),
        Request(token: "staging-operator", action: "sleep", cluster: "staging", body: #"{"namespaces":["search-api"]}"#, status: 202),
        Request(token: "admin", action: "sleep", cluster: "staging", body: #"{"all": true}"#, status: 202),
    ]

    /// A hub with staging (teams payments: shop, search: search-api) and production (shop), and
    /// tokens for every role, team and cluster scope of `requests`.
    func rolesFixture() async throws -> HubFixture {
        var fixture = try await HubFixture.make(
            clusters: ["staging": ("staging", Self.officeHours), "production": ("production", "teams:\n  - {name: payments, namespaces: [shop]}\n")],
            start: Self.monday
        )
        for name in ["shop", "search-api"] {
            try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop(name, deployments: 1))
        }
        try await fixture.simulators["production"]!.load(manifests: HubFixture.shop("shop", deployments: 1))
        try await fixture.startHub()
        let store = try #require(fixture.server?.hub.store)
        for (name, role) in [("staging-operator", Role.operator), ("staging-admin", .admin)] {
            fixture.tokens[name] = try await APITokens.create(name: name, role: role, teams: [], clusters: ["staging"], in: store, now: Date()).secret
        }
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 2 })
        return fixture
    }

    @Test func eachRequestIsAllowedOnlyWithinTheTokensRights() async throws {
        let fixture = try await rolesFixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        for request in Self.requests {
            let before = (staging: await fixture.replicas("staging", "shop"), production: await fixture.replicas("production", "shop"))
            let operations = try await fixture.api("GET", "/api/v1/operations?limit=500").body["operations"]?.array?.count ?? 0
            let answer = try await fixture.api("POST", "/api/v1/clusters/\(request.cluster)/\(request.action)", body: request.body, as: request.token)
            #expect(answer.status == request.status, "\(request): \(answer.body)")
            if let message = request.message { #expect(answer.body[path: ["error", "message"]]?.string == message, "\(request)") }
            guard request.status == 202 else {
                // Nothing happened: no operation, no workload touched.
                let operationsAfter = try await fixture.api("GET", "/api/v1/operations?limit=500").body["operations"]?.array?.count ?? 0
                #expect(operationsAfter == operations, "\(request)")
                let after = (staging: await fixture.replicas("staging", "shop"), production: await fixture.replicas("production", "shop"))
                #expect(after.staging == before.staging && after.production == before.production, "\(request)")
                continue
            }
            #expect(answer.body[path: ["operation", "actor"]]?.string == request.token, "\(request)")
            let id = try #require(answer.body[path: ["operation", "id"]]?.string)
            #expect(await eventually { (try? await fixture.api("GET", "/api/v1/operations/\(id)"))?.body[path: ["operation", "state"]] == "succeeded" })
        }
        for (cluster, namespace) in [("staging", "shop"), ("staging", "search-api")] {
            #expect(await fixture.isAsleep(cluster, namespace), "\(cluster)/\(namespace)")
        }
        // Each refusal by a known token is audited as denied.
        let audit = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z").body["entries"]?.array ?? []
        #expect(audit.filter { $0["result"] == "denied" }.count == Self.requests.filter { $0.status == 403 }.count, "\(audit)")

        #expect(try await fixture.api("GET", "/api/v1/clusters", as: "viewer").status == 200)
        let cliDenied = try await fixture.cli(["wake", "staging", "search-api"], as: "viewer")
        #expect(cliDenied.status == 1)
        #expect(cliDenied.stderr.contains("403 forbidden"))
        for name in ["staging-operator", "staging-admin"] {
            let visible = try await fixture.api("GET", "/api/v1/clusters", as: name)
            #expect(visible.body["clusters"]?.array?.compactMap { $0["name"]?.string } == ["staging"], "\(name)")
        }
    }

    @Test func auditIsFilteredAndScopedAndReloadsAreAudited() async throws {
        let fixture = try await rolesFixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        for request in Self.requests where request.token == "payments-operator" || request.cluster == "production" {
            let answer = try await fixture.api("POST", "/api/v1/clusters/\(request.cluster)/\(request.action)", body: request.body, as: request.token)
            #expect(answer.status == request.status, "\(request)")
        }
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        let stagingAudit = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z", as: "staging-admin")
        let stagingEntries = stagingAudit.body["entries"]?.array ?? []
        #expect(!stagingEntries.isEmpty && stagingEntries.allSatisfy { $0["cluster"] == "staging" || $0["cluster"] == .null })

        // Audit filters.
        // Three denials, the accepted request, and the sleep it ran (audited once it has finished).
        var actorEntries: [JSONValue] = []
        #expect(await eventually {
            let byActor = try? await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z&actor=payments-operator")
            actorEntries = byActor?.body["entries"]?.array ?? []
            return actorEntries.count == 5
        }, "\(actorEntries)")
        #expect(actorEntries.allSatisfy { $0["actor"] == "payments-operator" })
        let byCluster = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z&cluster=production")
        let clusterEntries = byCluster.body["entries"]?.array ?? []
        // Three denials.
        #expect(clusterEntries.count == 3, "\(clusterEntries)")
        #expect(clusterEntries.allSatisfy { $0["cluster"] == "production" })
        let future = try await fixture.api("GET", "/api/v1/audit?since=2999-01-01T00:00:00Z")
        #expect(future.body["entries"]?.array?.isEmpty == true)

        // Reloading plugins is a change too.
        #expect(try await fixture.api("POST", "/api/v1/plugins/reload", as: "viewer").status == 403)
        #expect(try await fixture.api("POST", "/api/v1/plugins/reload").status == 200)
        let reloads = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z")
        #expect((reloads.body["entries"]?.array ?? []).filter { $0["action"] == "plugins-reload" }.compactMap { $0["result"]?.string }.sorted() == ["denied", "ok"])
    }

    @Test func malformedRequestsGetPreciseErrors() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours)], start: Self.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 1))
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count == 1 })

        let cases: [(String, String, String?, Int, String, String?)] = [
            ("POST", "/api/v1/clusters/staging/wake", "{\"namespaces\": [", 400, "malformed JSON body", nil),
            ("POST", "/api/v1/clusters/staging/wake", "[1,2]", 400, "the body must be a JSON object", nil),
            ("POST", "/api/v1/clusters/staging/wake", #"{"duration":"forever"}"#, 400, "invalid duration \"forever\"", "duration"),
            ("POST", "/api/v1/clusters/staging/wake", #"{"duration":"-5m"}"#, 400, "invalid duration", "duration"),
            ("POST", "/api/v1/clusters/staging/wake", #"{"namespaces":"shop"}"#, 400, "namespaces must be a list of strings", "namespaces"),
            ("POST", "/api/v1/clusters/staging/wake", #"{"namespaces":["nope"]}"#, 404, "cluster staging has no managed namespace nope; managed: shop", "namespaces"),
            ("POST", "/api/v1/clusters/mars/wake", "{}", 404, "cluster \"mars\" is not managed by this hub; clusters: staging", "cluster"),
            ("GET", "/api/v1/clusters/mars", nil, 404, "cluster \"mars\" is not managed by this hub", "cluster"),
            ("GET", "/api/v1/operations/nope", nil, 404, "operation nope not found", "id"),
            ("GET", "/api/v1/operations?limit=0", nil, 400, "limit must be a number from 1 to 1000", "limit"),
            ("GET", "/api/v1/operations/nope?wait=1h", nil, 400, "wait must be a duration of at most 10s", "wait"),
            ("GET", "/api/v1/operations/nope?wait=soon", nil, 400, "wait must be a duration of at most 10s", "wait"),
            ("POST", "/api/v1/overrides", #"{"cluster":"staging","kind":"nap"}"#, 400, "kind must be one of wake, sleep, skip", "kind"),
            ("POST", "/api/v1/overrides", #"{"cluster":"staging","kind":"wake","until":"yesterday"}"#, 400, "until must be an RFC 3339 time", "until"),
            ("DELETE", "/api/v1/overrides/nope", nil, 404, "override nope not found", "id"),
            ("POST", "/api/v1/overrides", #"{"cluster":"staging","kind":"wake","until":1800000000}"#, 400, "until must be a string", "until"),
            ("POST", "/api/v1/overrides", #"{"cluster":"staging","kind":"wake","duration":3600}"#, 400, "duration must be a string", "duration"),
            ("POST", "/api/v1/overrides", #"{"cluster":"staging","kind":"wake","duration":"1h","until":"2027-01-04T23:00:00Z"}"#, 400, "give until or duration, not both", "duration"),
            ("GET", "/api/v1/audit?limit=-1", nil, 400, "limit must be a number from 1 to 1000", "limit"),
            ("GET", "/api/v1/audit?since=last-week", nil, 400, "since must be an RFC 3339 time or a duration", "since"),
            ("GET", "/api/v1/nothing-here", nil, 404, "", nil),
        ]
        for (method, path, body, status, message, field) in cases {
            let answer = try await fixture.api(method, path, body: body)
            #expect(answer.status == status, "\(method) \(path): \(answer.body)")
            #expect((answer.body[path: ["error", "message"]]?.string ?? "").contains(message), "\(method) \(path): \(answer.body)")
            #expect(answer.body[path: ["error", "field"]]?.string == field, "\(method) \(path): \(answer.body)")
        }
        let document = try await URLRequestLike(method: "GET", url: fixture.url + "/api/v1/openapi.yaml").send()
        #expect(document.status == 200)
        #expect(String(describing: document.body).contains("openapi: 3.0.3"))
    }

    @Test func metricsAreExposedInPrometheusFormat() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours)], start: instant("2027-01-04T21:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        // One plugin that never loads, one whose decisions fail: the schedule still acts.
        try fixture.directory.write("plugins/policy/broken.lua", "function decide(ctx")
        try fixture.directory.write("plugins/policy/oops.lua", "function decide(ctx) error('boom') end")
        try await fixture.startHub()
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        _ = try await fixture.api("GET", "/api/v1/clusters")
        #expect(await eventually {
            let text = (try? await URLRequestLike(method: "GET", url: fixture.url + "/metrics").send())?.body.string ?? ""
            // Served at 0 from the start: wait for the first failed call.
            return text.contains("kube_green_sleep_operations_total{") && !text.contains(#"sandman_plugin_failures_total{plugin="policy/oops.lua",kind="call"} 0"#)
                && text.contains(#"sandman_plugin_failures_total{plugin="policy/oops.lua",kind="call"}"#)
        })

        let response = try await URLRequestLike(method: "GET", url: fixture.url + "/metrics").send()
        #expect(response.status == 200)
        let text = response.body.string ?? ""
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Double(parts[1]) { samples[String(parts[0])] = value }
        }
        #expect(samples[#"kube_green_sleep_operations_total{environment="staging",operation="sleep",status="success"}"#] == 1)
        #expect(samples[#"kube_green_resources_scaled_total{environment="staging",resource_type="Deployment.apps",namespace="shop"}"#] == 2)
        #expect(samples[#"sandman_cluster_ready{cluster="staging",environment="staging"}"#] == 1)
        #expect(samples.keys.contains { $0.hasPrefix("sandman_operation_duration_seconds_count{") })
        #expect(samples.keys.contains { $0.hasPrefix("sandman_evaluation_duration_seconds_count{cluster=\"staging\"") })
        #expect(samples.keys.contains { $0.hasPrefix("sandman_http_requests_total{") && $0.contains(#"status="200""#) })
        #expect(text.contains("# TYPE kube_green_sleep_operations_total counter"))
        #expect(samples[#"sandman_plugin_failures_total{plugin="policy/broken.lua",kind="load"}"#] == 1)
        #expect((samples[#"sandman_plugin_failures_total{plugin="policy/oops.lua",kind="call"}"#] ?? 0) >= 1)
        #expect(samples[#"sandman_plugin_serving{plugin="policy/broken.lua"}"#] == 0)
        #expect(samples[#"sandman_plugin_serving{plugin="policy/oops.lua"}"#] == 1)

        // What the running hub serves, as `sandman plugins list --running` shows it.
        let listed = try await fixture.cli(["plugins", "list", "--running"])
        #expect(listed.status == 1, "broken.lua does not load: \(listed.stderr)")
        let rows = listed.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.first == ["FILE", "KIND", "STATE", "VERSION", "FAILURES", "ABANDONED", "ERROR"])
        #expect(rows.contains { $0.starts(with: ["policy/broken.lua", "policy", "failed", "-", "0"]) }, "\(listed.stdout)")
        let oops = try #require(rows.first { $0.first == "policy/oops.lua" })
        #expect(oops[2] == "loaded")
        #expect((Int(oops[4]) ?? 0) >= 1)
        #expect(oops.joined(separator: " ").contains("boom"))
    }

    @Test func missedTransitionIsCaughtUpAtStartOnce() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", "")], start: Self.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2) + "\n---\n" + Self.sleepInfo)
        let original = await fixture.replicas("staging", "shop")
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.first?["state"] == "awake" })
        await fixture.stopHub()

        // The hub is down at 20:00; it starts again at 22:00 and sleeps the namespace at once.
        fixture.clock.set(instant("2027-01-04T22:00:00Z"))
        try await fixture.startHub()
        #expect(await eventually {
            let operations = try? await fixture.api("GET", "/api/v1/operations?cluster=staging")
            return operations?.body["operations"]?.array?.first { $0["action"] == "sleep" }?["state"] == "succeeded"
        })
        #expect(await fixture.isAsleep("staging", "shop"))
        let sleeps = try await fixture.api("GET", "/api/v1/operations?cluster=staging")
        #expect(sleeps.body["operations"]?.array?.filter { $0["action"] == "sleep" }.count == 1)

        // A person wakes it by hand (not through Sandman); a restart does not sleep it again.
        await fixture.stopHub()
        for (name, replicas) in original {
            try await fixture.simulators["staging"]!.load(manifests: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: \(name), namespace: shop}\nspec: {replicas: \(replicas), selector: {matchLabels: {app: \(name)}}, template: {metadata: {labels: {app: \(name)}}, spec: {containers: [{name: app, image: app}]}}}")
        }
        fixture.clock.set(instant("2027-01-04T22:30:00Z"))
        try await fixture.startHub()
        #expect(await fixture.settle())
        #expect(await fixture.replicas("staging", "shop") == original)
        let after = try await fixture.api("GET", "/api/v1/operations?cluster=staging")
        #expect(after.body["operations"]?.array?.filter { $0["action"] == "sleep" }.count == 1)
    }

    /// kube-green's SleepInfo without `wakeUpAt`: put to sleep at every `sleepAt`. What a person scaled up
    /// the day after goes back to sleep that evening, and a wake brings it back as the person left it.
    @Test func aSleepOnlySleepInfoPutsToSleepAgainAtEverySleepAt() async throws {
        let sleepOnly = Self.sleepInfo.replacingOccurrences(of: #", wakeUpAt: "08:00""#, with: "")
        var (fixture, original) = try await Self.shopUnderSleepInfo(sleepOnly)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(await fixture.settle(at: instant("2027-01-04T20:00:30Z")))
        #expect(await fixture.isAsleep("staging", "shop"))

        let client = try KubeClient(name: "staging", access: Kubeconfig(path: fixture.directory.path + "/kube/staging.yaml").access())
        _ = try await client.patch(.deployment, namespace: "shop", name: "app-0", .merge(["spec": ["replicas": 7]]))
        #expect(await fixture.settle(at: instant("2027-01-05T12:00:00Z")))
        #expect(await fixture.replicas("staging", "shop")["app-0"] == 7, "left alone until the next sleepAt")
        #expect(await fixture.settle(at: instant("2027-01-05T20:00:30Z")))
        #expect(await fixture.isAsleep("staging", "shop"), "asleep again at the next sleepAt")
        // A sleepAt that finds nothing awake runs no operation (and tells nobody).
        let operations = try await fixture.api("GET", "/api/v1/operations?limit=100").body["operations"]?.array?.count
        #expect(await fixture.settle(at: instant("2027-01-06T20:00:30Z")))
        #expect(try await fixture.api("GET", "/api/v1/operations?limit=100").body["operations"]?.array?.count == operations)

        let wake = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"]}"#)
        #expect(wake.status == 202, "\(wake.body)")
        #expect(await eventually { await fixture.isAwake("staging", "shop") })
        var expected = original
        expected["app-0"] = 7
        #expect(await fixture.replicas("staging", "shop") == expected)
    }

    /// A SleepInfo edited into one the hub cannot read while its namespace sleeps, then deleted. With
    /// only its schedule bad, the namespace is woken from its restore Secret and the SleepInfo goes;
    /// with patches that cannot be read, which objects are asleep cannot be told: it is kept (with its
    /// restore Secret), and its status says how to go on.
    @Test(arguments: [
        (["spec", "sleepAt"], "25:99", true),
        (["spec", "patches"], [["target": ["group": "apps", "kind": "Deployment"], "patch": "[{op: nonsense}]"]], false),
    ] as [([String], JSONValue, Bool)])
    func deletingAnInvalidSleepInfoWhileAsleep(field: [String], value: JSONValue, woken: Bool) async throws {
        var (fixture, original) = try await Self.shopUnderSleepInfo()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        try await fixture.startHub()
        #expect(await fixture.settle(at: instant("2027-01-04T20:00:30Z")))
        #expect(await fixture.isAsleep("staging", "shop"))

        let client = try KubeClient(name: "staging", access: Kubeconfig(path: fixture.directory.path + "/kube/staging.yaml").access())
        var edited = try await client.get(.sleepInfo, namespace: "shop", name: "nights")
        edited[path: field] = value
        _ = try await client.update(edited)
        #expect(await fixture.settle())
        #expect(await fixture.isAsleep("staging", "shop"), "an invalid SleepInfo is reported and left alone")
        try await client.delete(.sleepInfo, namespace: "shop", name: "nights")
        func sleepInfo() async -> JSONValue? {
            await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights")
        }
        if woken {
            #expect(await eventually(timeout: .seconds(30)) { await fixture.replicas("staging", "shop") == original })
            #expect(await eventually { await sleepInfo() == nil })
        } else {
            #expect(await eventually(timeout: .seconds(30)) {
                let namespaces = try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces")
                return (namespaces?.body["namespaces"]?.array?.first?["problem"]?.string ?? "").contains("sandman.dev/wake-on-delete")
            })
            #expect(await sleepInfo() != nil)
            #expect(await sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "sleepinfo-nights") != nil)
            #expect(await fixture.isAsleep("staging", "shop"))
        }
    }

    @Test func deletingASleepInfoWhileAsleepWakesTheNamespace() async throws {
        var (fixture, original) = try await Self.shopUnderSleepInfo()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        try await fixture.startHub()
        #expect(await eventually {
            await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights")?[path: ["metadata", "finalizers"]] == ["sandman.dev/wake-on-delete"]
        })
        fixture.clock.set(instant("2027-01-04T20:00:30Z"))
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        #expect(await eventually {
            await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights")?[path: ["status", "operation"]] == "SLEEP"
        })
        let status = await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights")
        #expect(status?[path: ["status", "lastScheduleTime"]] == "2027-01-04T20:00:30Z")
        // Patched as the field manager `sandman`, so GitOps tools see who changed what.
        let deployment = await sim.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop").first
        #expect(deployment?[path: ["metadata", "managedFields"]]?.array?.contains { $0["manager"] == "sandman" } == true, "\(String(describing: deployment?[path: ["metadata", "managedFields"]]))")
        // kube-green's restore Secret, owned by the SleepInfo.
        let secret = try #require(await sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "sleepinfo-nights"))
        #expect(secret["type"] == "Opaque")
        #expect(secret[path: ["metadata", "labels", "app.kubernetes.io/managed-by"]] == "kube-green")
        #expect(secret[path: ["metadata", "ownerReferences"]]?.array?.first?["kind"] == "SleepInfo")
        #expect(secret[path: ["metadata", "ownerReferences"]]?.array?.first?["uid"] == status?[path: ["metadata", "uid"]])
        #expect(secret[path: ["data", "operation-type"]] == .string(Data("SLEEP".utf8).base64EncodedString()))
        func events(_ reason: String) async -> [JSONValue] {
            await sim.objects(apiVersion: "v1", kind: "Event", namespace: "shop").filter {
                $0[path: ["involvedObject", "kind"]] == "SleepInfo" && $0[path: ["involvedObject", "name"]] == "nights" && $0["reason"] == .string(reason)
            }
        }
        // A sleep that went as asked needs nobody's look: no Event.
        #expect(await sim.objects(apiVersion: "v1", kind: "Event", namespace: "shop").isEmpty)

        // kubectl delete sleepinfo nights: held by the finalizer until the namespace is awake.
        // While waking fails, the SleepInfo (and so the restore Secret it owns) is kept.
        await sim.setFaults(.init(errorRate: 1, errorVerbs: ["patch"]))
        let client = try KubeClient(name: "staging", access: Kubeconfig(path: fixture.directory.path + "/kube/staging.yaml").access())
        try await client.delete(.sleepInfo, namespace: "shop", name: "nights")
        #expect(await eventually(timeout: .seconds(30)) {
            let namespaces = try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces")
            return (namespaces?.body["namespaces"]?.array?.first?["problem"]?.string ?? "").contains("could not be woken yet")
        })
        #expect(await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights") != nil)
        #expect(await sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "sleepinfo-nights") != nil)
        #expect(await fixture.isAsleep("staging", "shop"))
        // The failed wake is a Warning on the SleepInfo naming the objects.
        let failed = await events("WakeUpFailed")
        #expect(failed.first?["type"] == "Warning", "\(failed)")
        #expect(failed.first?["message"]?.string?.contains("Deployment.apps/") == true, "\(failed)")
        await sim.setFaults(.init())
        #expect(await eventually(timeout: .seconds(20)) { await fixture.replicas("staging", "shop") == original })
        #expect(await eventually { await sim.object(apiVersion: "kube-green.com/v1alpha1", kind: "SleepInfo", namespace: "shop", name: "nights") == nil })
    }
}
