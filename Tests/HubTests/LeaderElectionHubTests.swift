import Foundation
import Config
import Hub
import JSON
import Logging
import TestSupport
import Testing

@Suite("Hub replicas with leader election", .serialized, .awaitingCleanup)
struct LeaderElectionHubTests {
    @Test func oneReplicaOwnsEachClusterAndAnotherTakesOver() async throws {
        let fixture = try await HubFixture.make(clusters: ["staging": ("staging", HubEndToEndTests.officeHours)], start: HubEndToEndTests.monday)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        var logger = Logger(label: "ha-test")
        logger.logLevel = .warning
        var servers: [String: HubServer] = [:]
        var tokens: [String: String] = [:]
        for replica in ["hub-a", "hub-b"] {
            let path = try fixture.directory.write("\(replica).yaml", """
                listen: 127.0.0.1:0
                database: \(replica).sqlite
                leaderElection: {enabled: true, homeCluster: staging, namespace: default, identity: \(replica), leaseDuration: 30s, renewDeadline: 20s, retryPeriod: 200ms}
                """)
            let configuration = try ConfigLoader.load(path: path, environment: [:])
            let server = try await HubRuntime.start(configuration: configuration, clock: fixture.clock, handleSignals: false, logger: logger, agentSettings: HubFixture.agentSettings)
            servers[replica] = server
            tokens[replica] = try await APITokens.create(name: "admin", role: .admin, teams: [], clusters: [], in: server.hub.store, now: Date()).secret
            if replica == "hub-a" {
                #expect(await eventually { await server.hub.agents["staging"]!.status().ownedHere })
            }
        }
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
        #expect(refused.body[path: ["error", "message"]] == "cluster staging is managed by hub replica hub-a; send the request there")

        // hub-a shuts down, releasing its Lease: hub-b owns the cluster and acts on it, well
        // before the 30 s lease would have expired had it not been released.
        await servers["hub-a"]!.stop()
        #expect(await eventually(timeout: .seconds(15)) { (try? await cluster("hub-b"))?["ownedHere"] == true })
        let accepted = try await request.send()
        #expect(accepted.status == 202)
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        await servers["hub-b"]!.stop()
    }
}
