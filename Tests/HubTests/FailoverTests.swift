import Foundation
import JSON
import Kube
import KubeSim
import TestSupport
import Testing

/// Two `sandman serve` processes on one PostgreSQL store with leader election, as the HA overlay
/// runs them: the replica running a whole-cluster sleep is killed with SIGKILL, and the other
/// takes the cluster over and finishes the sleep, with one history and one message per event.
@Suite("Failover between replicas", .serialized, .awaitingCleanup)
struct FailoverTests {
    static let namespaces = ["n0", "n1", "n2"]
    static let deployments = 8

    @Test func theReplicaRunningASleepIsKilledAndTheOtherFinishesIt() async throws {
        let directory = try TemporaryDirectory("failover")
        let sim = try await CrashRecoveryTests.ServedHub.cluster(in: directory, namespaces: Self.namespaces, deployments: Self.deployments)
        let slack = Recorder<String>()
        let webhook = try await TestHTTPServer.start { request in
            slack.append(String(decoding: request.body, as: UTF8.self))
            return .text(200, "ok")
        }
        var processes: [CrashRecoveryTests.ServeProcess] = []
        defer {
            afterTest { [processes] in
                for process in processes { process.kill() }
                await webhook.shutdown()
                await sim.shutdown()
                directory.remove()
            }
        }
        let postgres = try await PostgresServer.shared()
        let database = postgres.url(database: try await postgres.createDatabase())
        var hubs: [String: ServedHubAPI] = [:]
        var configs: [String: String] = [:]
        for replica in ["hub-a", "hub-b"] {
            configs[replica] = try directory.write("\(replica).yaml", """
                listen: 127.0.0.1:0
                database: \(database)
                plugins: {directory: \(repositoryFile("plugins"))}
                leaderElection: {enabled: true, homeCluster: staging, namespace: default, identity: \(replica), leaseDuration: 6s, renewDeadline: 4s, retryPeriod: 200ms}
                """)
        }
        let created = try await ProcessOutput.run(
            HubFixture.binary, arguments: ["token", "create", "--role", "admin", "--name", "ci", "--config", configs["hub-a"]!], timeout: .seconds(120)
        )
        #expect(created.status == 0, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        func start(_ replica: String) throws {
            hubs[replica] = ServedHubAPI(log: directory.path + "/\(replica).log", token: token)
            processes.append(try CrashRecoveryTests.ServeProcess(
                config: configs[replica]!, log: directory.path + "/\(replica).log", environment: ["SANDMAN_SLACK_WEBHOOK_URL": webhook.baseURL + "/hook"]
            ))
        }
        func ownedHere(_ replica: String) async -> Bool {
            (try? await hubs[replica]!.api("GET", "/api/v1/clusters/staging"))?["ownedHere"] == true
        }
        try start("hub-a")
        #expect(await eventually(timeout: .seconds(60)) { await ownedHere("hub-a") }, "\(hubs["hub-a"]!.logText)")
        try start("hub-b")
        #expect(await eventually(timeout: .seconds(60)) { (try? await hubs["hub-b"]!.api("GET", "/api/v1/clusters/staging"))?["ownedHere"] == false })

        // 24 patches one at a time, 200 ms each: the sleep is under way long enough to be killed.
        sim.setFaults(.init(latency: .milliseconds(200)))
        var accepted: JSONValue = .null
        _ = try await eventually {
            accepted = try await hubs["hub-b"]!.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"all": true, "reason": "failover test"}"#)
            return accepted[path: ["operation", "id"]] != nil || accepted[path: ["error", "code"]] != "unavailable"
        }
        let id = try #require(accepted[path: ["operation", "id"]]?.string, "\(accepted)")
        #expect(await eventually(timeout: .seconds(30), every: .milliseconds(5)) { await asleep(sim) >= 3 })
        processes[0].kill()
        let killed = Date()
        #expect(await asleep(sim) < Self.namespaces.count * Self.deployments, "the sleep finished before the kill")

        // hub-b takes over once the 6 s lease has expired (not much later), and finishes the sleep.
        #expect(await eventually(timeout: .seconds(30)) { await ownedHere("hub-b") })
        #expect(Date().timeIntervalSince(killed) < 6 + 20, "hub-b took \(Date().timeIntervalSince(killed)) s")
        sim.setFaults(.init())
        #expect(await eventually(timeout: .seconds(60)) { await asleep(sim) == Self.namespaces.count * Self.deployments }, "\(hubs["hub-b"]!.logText)")
        for namespace in Self.namespaces {
            #expect(await restoreEntries(sim, namespace) == Self.deployments, "\(namespace)")
        }
        #expect(await eventually { (try? await hubs["hub-b"]!.api("GET", "/api/v1/operations/\(id)"))?[path: ["operation", "state"]] == "succeeded" })

        // One history: the request audited once; each notification delivered once.
        let audit = try await hubs["hub-b"]!.api("GET", "/api/v1/audit?since=1h")["entries"]?.array ?? []
        #expect(audit.filter { $0["action"] == "sleep" && $0["result"] == "accepted" }.count == 1, "\(audit)")
        let expected = Self.namespaces.map { "staging/\($0) is asleep" }
        func texts() -> [String] {
            slack.values.compactMap { try? JSONValue(parsing: Data($0.utf8))["text"]?.string }.sorted()
        }
        #expect(await eventually { texts().count >= expected.count })
        // Time for a second delivery, were there one.
        try await Task.sleep(for: .seconds(2))
        #expect(texts() == expected)
    }

    /// Deployments of the test's namespaces at 0 replicas.
    func asleep(_ sim: KubeSim) async -> Int {
        var count = 0
        for namespace in Self.namespaces {
            count += await sim.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: namespace)
                .filter { $0[path: ["spec", "replicas"]]?.int == 0 }.count
        }
        return count
    }

    /// How many Deployments the namespace's restore Secret holds the original of.
    func restoreEntries(_ sim: KubeSim, _ namespace: String) async -> Int {
        let secret = await sim.object(apiVersion: "v1", kind: "Secret", namespace: namespace, name: "sleepinfo-hub-rare")
        let info = secret?[path: ["data", "original-resource-info"]]?.string.flatMap { Data(base64Encoded: $0) }.flatMap { try? JSONValue(parsing: $0) }
        return info?["Deployment.apps"]?.object?.count ?? 0
    }
}
