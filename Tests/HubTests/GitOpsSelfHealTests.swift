import Foundation
import Hub
import JSON
import Kube
import Sleep
import Store
import TestSupport
import Testing

/// Argo CD's self-heal against sleeps (direct mode here: `detect: false`): `warn` says so before
/// the sleep and reports the revert; `pause` turns self-heal off for the sleep and puts the sync
/// policy back exactly after the wake, even across a hub killed in between.
@Suite("Argo CD self-heal", .serialized, .awaitingCleanup)
struct GitOpsSelfHealTests {
    static func cluster(_ mode: String) -> String {
        "gitops: {detect: false, argocd: {selfHeal: \(mode)}}"
    }

    static let original: JSONValue = ["automated": ["prune": true, "selfHeal": true]]

    static func namespace(_ fixture: GitOpsFixture) async throws -> JSONValue? {
        try await fixture.api("GET", "/api/v1/clusters/staging/namespaces").body["namespaces"]?.array?.first { $0["namespace"] == "payments" }
    }

    @Test func warnSaysSoBeforeTheSleepAndReportsTheRevert() async throws {
        var fixture = try await GitOpsFixture.make(cluster: Self.cluster("warn"), selfHealTimeout: .milliseconds(300))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.deployed())
        #expect(await fixture.hub.agents["staging"]?.gitopsManagedNamespaces().isEmpty == true)

        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces": ["payments"], "duration": "1h"}"#)
        #expect(reply.status == 202 && reply.body[path: ["operation", "state"]] == "pending", "\(reply.body)")
        let id = try #require(reply.body[path: ["operation", "id"]]?.string)

        // Argo CD scales the Deployment back up: the operation is not a success, and says why.
        let reverted = try await fixture.operation(id) { $0.summary?.contains("reverted by Argo CD application staging-payments") == true }
        #expect(reverted?.state != .succeeded, "\(String(describing: reverted))")
        #expect(await fixture.replicas() == 3)
        let events = await fixture.stack.kube.objects(apiVersion: "v1", kind: "Event", namespace: "payments")
        #expect(events.contains { $0["reason"] == "SelfHealConflict" && $0["type"] == "Warning" && $0["message"]?.string?.contains("staging-payments") == true })
        #expect(try await eventually {
            try await Self.namespace(fixture)?["problem"]?.string?.contains("reverted by Argo CD application staging-payments") == true
        })
        // Warn mode leaves the Application alone.
        #expect(await fixture.application()?[path: ["spec", "syncPolicy"]] == Self.original)
        #expect(fixture.hub.metrics.exposition().contains("sandman_sleep_reverted_total"))
    }

    @Test func pauseTurnsSelfHealOffForTheSleepAndPutsItBackExactlyAfterTheWake() async throws {
        var fixture = try await GitOpsFixture.make(cluster: Self.cluster("pause"), selfHealTimeout: .milliseconds(300))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.deployed())

        let sleep = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces": ["payments"], "duration": "1h"}"#)
        let sleepID = try #require(sleep.body[path: ["operation", "id"]]?.string, "\(sleep.body)")
        #expect(try await fixture.operation(sleepID) { $0.state.isFinished }?.state == .succeeded)
        let paused = await fixture.application()
        #expect(paused?[path: ["spec", "syncPolicy", "automated", "selfHeal"]] == false)
        #expect(paused?[path: ["metadata", "annotations", "sandman.dev/self-heal-paused"]] != nil)
        #expect(try await fixture.hub.store.pauses(cluster: "staging").map(\.application) == ["staging-payments"])

        // Argo CD has seen the drift, past its self-heal delay, and left it: the sleep holds.
        #expect(await eventually(timeout: .seconds(30)) {
            let status = await fixture.stack.argocd.refresh("staging-payments")?["status"]
            let drifted = status?["resources"]?.array?.contains { $0["kind"] == "Deployment" && $0["status"] == "OutOfSync" } == true
            let finished = status?[path: ["operationState", "finishedAt"]]?.string.flatMap { try? Date($0, strategy: .iso8601) }
            return drifted && finished.map { Date().timeIntervalSince($0) > 1.5 } == true
        })
        _ = await fixture.stack.argocd.refresh("staging-payments")
        #expect(await fixture.replicas() == 0)

        let wake = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces": ["payments"]}"#)
        let wakeID = try #require(wake.body[path: ["operation", "id"]]?.string, "\(wake.body)")
        #expect(try await fixture.operation(wakeID) { $0.state.isFinished }?.state == .succeeded)
        #expect(await fixture.replicas() == 3)
        #expect(await eventually { await fixture.application()?[path: ["spec", "syncPolicy"]] == Self.original })
        #expect(await fixture.application()?[path: ["metadata", "annotations", "sandman.dev/self-heal-paused"]] == nil)
        #expect(try await fixture.hub.store.pauses(cluster: "staging").isEmpty)
    }

    @Test func aHubKilledBetweenThePauseAndTheSleepOrTheWakeAndTheRestoreLeavesNothingPaused() async throws {
        var fixture = try await GitOpsFixture.make(cluster: Self.cluster("pause"), selfHealTimeout: .milliseconds(300))
        defer { afterTest { [fixture] in fixture.server?.kill(); await fixture.stop() } }
        let kill = KillSwitch()
        try await fixture.startHub(checkpoint: { await kill.checkpoint($0) })
        #expect(try await fixture.deployed())

        // Killed once self-heal is paused and the restore data written, before any workload sleeps.
        kill.arm { point in
            if case .restoreDataWritten = point { return true }
            return false
        }
        _ = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces": ["payments"], "duration": "1h"}"#)
        #expect(await eventually(timeout: .seconds(30)) { kill.hit != nil })
        #expect(await fixture.application()?[path: ["spec", "syncPolicy", "automated", "selfHeal"]] == false)
        fixture.server?.kill()
        try await fixture.startHub()
        // The restarted hub finishes the sleep, still paused: the pause belongs to the sleep.
        #expect(await eventually(timeout: .seconds(30)) { await fixture.replicas() == 0 })
        #expect(try await fixture.hub.store.pauses(cluster: "staging").count == 1)

        // Killed after the wake put the workloads back, before the policy was restored.
        kill.arm { point in
            if case .wakeBeforeSecret = point { return true }
            return false
        }
        let killer = kill
        fixture.server?.kill()
        try await fixture.startHub(checkpoint: { await killer.checkpoint($0) })
        _ = try await eventually(timeout: .seconds(30)) {
            try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces": ["payments"]}"#).status == 202
        }
        #expect(await eventually(timeout: .seconds(30)) { kill.hit != nil })
        fixture.server?.kill()
        try await fixture.startHub()
        // After the restart nothing is left paused: the policy is back exactly.
        #expect(await eventually(timeout: .seconds(30)) { await fixture.replicas() == 3 })
        #expect(await eventually(timeout: .seconds(30)) { await fixture.application()?[path: ["spec", "syncPolicy"]] == Self.original })
        #expect(await fixture.application()?[path: ["metadata", "annotations", "sandman.dev/self-heal-paused"]] == nil)
        #expect(try await eventually { try await fixture.hub.store.pauses(cluster: "staging").isEmpty })
    }

    /// The same with `sandman serve` as a process killed with SIGKILL: self-heal paused for a
    /// sleep whose patches the API server refuses, the hub killed, restarted with the server
    /// well again; the sleep finishes still paused, and the wake puts the policy back exactly.
    @Test func sandmanServeKilledWithSIGKILLWhilePausedForASleepLeavesNothingPausedAfterTheWake() async throws {
        let fixture = try await GitOpsFixture.make(cluster: Self.cluster("pause"), selfHealTimeout: .milliseconds(300))
        let config = fixture.directory.path + "/sandman.yaml"
        let created = try await ProcessOutput.run(
            HubFixture.binary, arguments: ["token", "create", "--role", "admin", "--name", "ci", "--config", config], timeout: .seconds(120)
        )
        #expect(created.status == 0, "\(created.stderr)")
        let log = fixture.directory.path + "/serve.log"
        let hub = ServedHubAPI(log: log, token: created.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let serve = try CrashRecoveryTests.ServeProcess(config: config, log: log)
        defer { afterTest { [fixture] in serve.kill(); await fixture.stop() } }
        #expect(await eventually(timeout: .seconds(60)) {
            (try? await hub.api("GET", "/api/v1/clusters/staging/namespaces"))?["namespaces"]?.array?.contains { $0["namespace"] == "payments" } == true
        }, "\(hub.logText)")
        #expect(await eventually(timeout: .seconds(60)) {
            await fixture.stack.argocd.refresh("staging-payments")?[path: ["status", "health", "status"]] == "Healthy"
        })

        // Every patch of a Deployment by the hub is refused: the sleep stops after the pause.
        fixture.stack.kube.setFaults(.init(errorRate: 1, errorVerbs: ["patch"], errorStatus: 503, errorResources: ["deployments.apps"], errorUsers: ["sandman"]))
        let sleep = try await hub.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces": ["payments"], "duration": "1h"}"#)
        #expect(sleep[path: ["operation", "id"]] != nil, "\(sleep)")
        #expect(await eventually(timeout: .seconds(30)) {
            let refused = fixture.stack.kube.requests.contains { $0.verb == "patch" && $0.resource == "deployments.apps" && $0.status == 503 }
            let paused = await fixture.application()?[path: ["spec", "syncPolicy", "automated", "selfHeal"]] == false
            return refused && paused
        })
        serve.kill()
        #expect(await fixture.replicas() == 3)

        fixture.stack.kube.setFaults(.init())
        let restarted = try CrashRecoveryTests.ServeProcess(config: config, log: log)
        defer { afterTest { restarted.kill() } }
        // The restarted hub finishes the sleep, still paused: the pause belongs to the sleep.
        #expect(await eventually(timeout: .seconds(60)) { await fixture.replicas() == 0 }, "\(hub.logText)")
        #expect(await fixture.application()?[path: ["spec", "syncPolicy", "automated", "selfHeal"]] == false)

        _ = try await eventually(timeout: .seconds(30)) {
            (try? await hub.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces": ["payments"]}"#))?[path: ["operation", "id"]] != nil
        }
        #expect(await eventually(timeout: .seconds(30)) { await fixture.replicas() == 3 })
        #expect(await eventually(timeout: .seconds(30)) { await fixture.application()?[path: ["spec", "syncPolicy"]] == Self.original })
        #expect(await fixture.application()?[path: ["metadata", "annotations", "sandman.dev/self-heal-paused"]] == nil)
    }
}
