import Foundation
import Config
import Hub
import JSON
import Logging
import TestSupport
import Testing

@Suite("Hub replicas with leader election", .serialized, .awaitingCleanup)
struct LeaderElectionHubTests {
    /// Starts hub-a, waits until it owns staging, then starts hub-b; each with the database
    /// `database(replica)` (by default a SQLite file of its own), an admin token, the lease
    /// `timings` and the cluster files of `clusterDirectory(replica)`.
    static func startReplicas(
        _ fixture: HubFixture, logLevel: Logger.Level, timings: String, database: (String) -> String = { "\($0).sqlite" },
        clusterDirectory: (String) -> String = { _ in "clusters" }, agentSettings: ClusterAgent.Settings = HubFixture.agentSettings
    ) async throws -> (servers: [String: HubServer], tokens: [String: String]) {
        var logger = Logger(label: "ha-test")
        logger.logLevel = logLevel
        var servers: [String: HubServer] = [:]
        var tokens: [String: String] = [:]
        for replica in ["hub-a", "hub-b"] {
            let path = try fixture.directory.write("\(replica).yaml", """
                listen: 127.0.0.1:0
                database: \(database(replica))
                clusters: \(clusterDirectory(replica))
                leaderElection: {enabled: true, homeCluster: staging, namespace: default, identity: \(replica), \(timings)}
                """)
            let server = try await HubRuntime.start(
                configuration: try ConfigLoader.load(path: path, environment: [:]), clock: fixture.clock, handleSignals: false, logger: logger,
                agentSettings: agentSettings
            )
            servers[replica] = server
            tokens[replica] = try await APITokens.create(name: "admin", role: .admin, teams: [], clusters: [], in: server.hub.store, now: Date()).secret
            if replica == "hub-a" {
                #expect(await eventually { await server.hub.agents["staging"]!.status().ownedHere })
            }
        }
        return (servers, tokens)
    }

    @Test func oneReplicaOwnsEachClusterAndAnotherTakesOver() async throws {
        let fixture = try await HubFixture.make(clusters: ["staging": ("staging", HubEndToEndTests.officeHours)], start: HubEndToEndTests.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        let (servers, tokens) = try await Self.startReplicas(fixture, logLevel: .warning, timings: "leaseDuration: 30s, renewDeadline: 20s, retryPeriod: 200ms")
        func cluster(_ replica: String) async throws -> JSONValue {
            var request = URLRequestLike(method: "GET", url: servers[replica]!.url + "/api/v1/clusters/staging")
            request.headers["Authorization"] = "Bearer \(tokens[replica]!)"
            return try await request.send().body
        }
        #expect(await eventually { (try? await cluster("hub-b"))?["owner"] == "hub-a" })
        #expect(try await cluster("hub-a")["ownedHere"] == true)
        #expect(try await cluster("hub-b")["ownedHere"] == false)

        // The replica that does not own the cluster refuses to act on it, naming the owner.
        var request = URLRequestLike(method: "POST", url: servers["hub-b"]!.url + "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop"]}"#)
        request.headers["Authorization"] = "Bearer \(tokens["hub-b"]!)"
        let refused = try await request.send()
        #expect(refused.status == 409)
        #expect(refused.body[path: ["error", "message"]] == """
            cluster staging is managed by hub replica hub-a, and each replica has its own SQLite database: send the request there, \
            or let the replicas share a PostgreSQL store
            """)

        // hub-a shuts down, releasing its Lease: hub-b owns the cluster and acts on it, well
        // before the 30 s lease would have expired had it not been released.
        await servers["hub-a"]!.stop()
        #expect(await eventually(timeout: .seconds(15)) { (try? await cluster("hub-b"))?["ownedHere"] == true })
        let accepted = try await request.send()
        #expect(accepted.status == 202)
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        await servers["hub-b"]!.stop()
    }

    /// Only hub-a's Lease calls fail (the API server refuses them, as it would a replica cut off
    /// or throttled): hub-a stops acting once its renew deadline has passed, and hub-b does not
    /// act before the lease hub-a last renewed has expired, then takes over.
    @Test func aReplicaThatCannotRenewStepsDownAndTheOtherWaitsForTheLeaseToExpire() async throws {
        let fixture = try await HubFixture.make(clusters: ["staging": ("staging", HubEndToEndTests.officeHours)], start: HubEndToEndTests.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        let sim = fixture.simulators["staging"]!
        try await sim.load(manifests: HubFixture.shop("shop", deployments: 2))
        // hub-b reaches the cluster as another user, so that faults can single out hub-a.
        try fixture.directory.write("kube/staging-b.yaml", sim.kubeconfig(user: "sandman-b", contextName: "staging"))
        try fixture.directory.write("clusters-b/staging.yaml", "tier: staging\nkubeconfig: ../kube/staging-b.yaml\ncontext: staging\n\(HubEndToEndTests.officeHours)")
        let leaseDuration: TimeInterval = 10
        let (servers, tokens) = try await Self.startReplicas(
            fixture, logLevel: .critical, timings: "leaseDuration: 10s, renewDeadline: 4s, retryPeriod: 200ms",
            clusterDirectory: { $0 == "hub-a" ? "clusters" : "clusters-b" }
        )
        defer { afterTest { [servers] in for server in servers.values { await server.stop() } } }
        func ownedHere(_ replica: String) async -> Bool {
            await servers[replica]!.hub.agents["staging"]!.status().ownedHere
        }
        func sleep(on replica: String) async throws -> Int {
            var request = URLRequestLike(method: "POST", url: servers[replica]!.url + "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop"]}"#)
            request.headers["Authorization"] = "Bearer \(tokens[replica]!)"
            return try await request.send().status
        }
        #expect(await ownedHere("hub-a"))
        #expect(await !ownedHere("hub-b"))

        sim.setFaults(.init(errorRate: 1, errorStatus: 503, errorResources: ["leases.coordination.k8s.io"], errorUsers: ["sandman"]))
        let failing = Date()
        // Watch both until hub-b owns the cluster, noting the last renewal hub-a got through.
        var lastRenewal: Date?
        var (aSteppedDown, bTookOver): (Date?, Date?) = (nil, nil)
        while bTookOver == nil, Date().timeIntervalSince(failing) < 30 {
            let lease = await sim.object(apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "default", name: "sandman-staging")
            if lease?[path: ["spec", "holderIdentity"]] == "hub-a", let renewed = lease?[path: ["spec", "renewTime"]]?.string {
                lastRenewal = try Date(renewed, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true))
            }
            if aSteppedDown == nil, await !ownedHere("hub-a") { aSteppedDown = Date() }
            if await ownedHere("hub-b") { bTookOver = Date() }
            try await Task.sleep(for: .milliseconds(50))
        }
        let took = try #require(bTookOver, "hub-b never took over")
        let renewed = try #require(lastRenewal)
        let stepped = try #require(aSteppedDown, "hub-a still acting when hub-b took over, \(took.timeIntervalSince(failing)) s after the faults began")
        // By the renew deadline, give or take a loaded machine; before the lease can expire in any case.
        #expect(stepped.timeIntervalSince(failing) < leaseDuration, "hub-a acted \(stepped.timeIntervalSince(failing)) s without renewing")
        #expect(took.timeIntervalSince(renewed) >= leaseDuration - 0.1, "hub-b took over \(took.timeIntervalSince(renewed)) s after the last renewal")
        #expect(stepped <= took, "never two replicas acting at once")
        #expect(try await sleep(on: "hub-a") == 409)
        #expect(try await sleep(on: "hub-b") == 202)
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
    }

    /// Replicas sharing one PostgreSQL store: either answers every request. A token made on one
    /// works on the other, a sleep asked of the replica that does not own the cluster is run by
    /// the one that does, told at once (NOTIFY: its own look at the store is an hour away here),
    /// and both show the same operation and overrides.
    @Test func replicasSharingAPostgresStoreEachAnswerEveryRequest() async throws {
        let postgres = try await PostgresServer.shared()
        let url = postgres.url(database: try await postgres.createDatabase())
        let fixture = try await HubFixture.make(clusters: ["staging": ("staging", HubEndToEndTests.officeHours)], start: HubEndToEndTests.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        var settings = HubFixture.agentSettings
        settings.sharedStorePollInterval = .seconds(3600)
        let (servers, tokens) = try await Self.startReplicas(
            fixture, logLevel: .warning, timings: "leaseDuration: 30s, renewDeadline: 20s, retryPeriod: 200ms", database: { _ in url },
            agentSettings: settings
        )
        defer { afterTest { [servers] in for server in servers.values { await server.stop() } } }
        func api(_ replica: String, _ method: String, _ path: String, body: String? = nil, token: String) async throws -> (status: Int, body: JSONValue) {
            var request = URLRequestLike(method: method, url: servers[replica]!.url + path, body: body)
            request.headers["Authorization"] = "Bearer \(token)"
            return try await request.send()
        }
        #expect(await !servers["hub-b"]!.hub.agents["staging"]!.status().ownedHere)
        // hub-a's token, at hub-b, which does not own the cluster (asked again while hub-b answers
        // 503, before its first look at the cluster).
        var accepted: (status: Int, body: JSONValue) = (0, .null)
        _ = try await eventually {
            accepted = try await api("hub-b", "POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop"],"duration":"2h"}"#, token: tokens["hub-a"]!)
            return accepted.status != 503
        }
        #expect(accepted.status == 202, "\(accepted.body)")
        let id = try #require(accepted.body[path: ["operation", "id"]]?.string)
        #expect(await eventually(timeout: .seconds(10)) { await fixture.isAsleep("staging", "shop") })
        for replica in ["hub-a", "hub-b"] {
            let operation = try await api(replica, "GET", "/api/v1/operations/\(id)", token: tokens["hub-b"]!)
            #expect(await eventually { (try? await api(replica, "GET", "/api/v1/operations/\(id)", token: tokens["hub-b"]!))?.body[path: ["operation", "state"]] == "succeeded" }, "\(operation.body)")
            let overrides = try await api(replica, "GET", "/api/v1/overrides?cluster=staging", token: tokens["hub-a"]!)
            #expect(overrides.body["overrides"]?.array?.contains { $0["namespace"] == "shop" && $0["kind"] == "sleep" } == true, "\(overrides.body)")
        }
    }
}
