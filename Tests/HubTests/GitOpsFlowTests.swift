import Config
import Foundation
import GitLabSim
import Hub
import JSON
import Kube
import Logging
import Store
import TestSupport
import Testing

/// The GitOps mode end to end over KubeSim, GitLabSim and ArgoSim: a request for a GitOps-managed
/// namespace becomes a merge request setting the override annotation, merged, synced by Argo CD,
/// then run by the agent, every stage recorded on the operation.
@Suite("GitOps flow", .serialized, .awaitingCleanup)
struct GitOpsFlowTests {
    @Test func aSleepRequestGoesThroughAMergeRequestAndArgoCD() async throws {
        var fixture = try await GitOpsFixture.make()
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        let before = try #require(await fixture.manifestOnMain())
        #expect(await fixture.replicas() == 3)

        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces": ["payments"], "duration": "2h", "reason": "load test"}"#)
        #expect(reply.status == 202, "\(reply.body)")
        #expect(reply.body[path: ["operation", "state"]] == "waiting")
        let id = try #require(reply.body[path: ["operation", "id"]]?.string)

        // The agent may finish the operation before the coordinator records `synced` and `done`.
        let finished = try await fixture.operation(id) { GitOpsFixture.hasEnded($0) }
        #expect(finished?.state == .succeeded, "\(String(describing: finished))")
        #expect(GitOpsFixture.stages(finished) == ["requested", "mr_opened", "merged", "synced", "done"])
        #expect(await fixture.replicas() == 0)

        // One merge request, merged, saying who asked, why and until when, linking the operation.
        let request = try #require(await fixture.stack.gitlab.mergeRequest(project: GitOpsFixture.project, iid: 1))
        #expect(await fixture.stack.gitlab.mergeRequest(project: GitOpsFixture.project, iid: 2) == nil)
        #expect(request["state"] == "merged")
        let description = request["description"]?.string ?? ""
        #expect(description.contains("alice") && description.contains("load test") && description.contains("/api/v1/operations/\(id)"))

        // The manifest on main: the annotation added in the flow mapping of `metadata`, every other byte kept.
        let after = try #require(await fixture.manifestOnMain())
        // (The file's first line is a comment that names the annotation too.)
        let edited = try #require(after.split(separator: "\n").first { $0.hasPrefix("metadata:") })
        #expect(edited.hasPrefix("metadata: {name: office-hours, namespace: payments, annotations: {sandman.dev/override: '{") && edited.hasSuffix("}'}}"), "\(after)")
        let original = try #require(before.split(separator: "\n").first { $0.hasPrefix("metadata:") })
        #expect(after.replacingOccurrences(of: edited, with: original) == before, "\(after)")

        // The override is in force and shown with the operation's stages in the API and the CLI.
        let overrides = try await fixture.api("GET", "/api/v1/overrides?cluster=staging")
        #expect(overrides.body["overrides"]?.array?.contains { $0["namespace"] == "payments" && $0["kind"] == "sleep" } == true)
        let shown = try await fixture.api("GET", "/api/v1/operations/\(id)")
        #expect(shown.body[path: ["operation", "stages"]]?.array?.compactMap { $0["stage"]?.string } == ["requested", "mr_opened", "merged", "synced", "done"])
        #expect(shown.body[path: ["operation", "stages"]]?.array?[1]["detail"] == .string("!\(request["iid"]?.int ?? 0)"))
        let cli = try await ProcessOutput.run(
            HubFixture.binary, arguments: ["operations", id], environment: ["SANDMAN_HUB": fixture.server!.url, "SANDMAN_TOKEN": fixture.token, "NO_COLOR": "1"],
            timeout: .seconds(60)
        )
        #expect(cli.status == 0 && cli.stdout.contains("mr_opened !") && cli.stdout.contains("merged ") && cli.stdout.contains("synced"), "\(cli.stdout)\(cli.stderr)")
    }

    /// Two replicas with leader election on one PostgreSQL store: a request accepted by the one
    /// that does not own the cluster is driven by the one that does, through one merge request.
    @Test func replicasSharingAStoreDriveEachRequestOnce() async throws {
        let fixture = try await GitOpsFixture.make()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let postgres = try await PostgresServer.shared()
        let url = postgres.url(database: try await postgres.createDatabase())
        let base = try String(contentsOfFile: fixture.directory.path + "/sandman.yaml", encoding: .utf8)
        var logger = Logger(label: "gitops-replicas")
        logger.logLevel = .critical
        var servers: [String: HubServer] = [:]
        defer { afterTest { [servers] in for server in servers.values { await server.stop() } } }
        for replica in ["hub-a", "hub-b"] {
            let path = try fixture.directory.write("\(replica).yaml", base.replacingOccurrences(of: "database: hub.sqlite", with: "database: \(url)") + """
                leaderElection: {enabled: true, homeCluster: staging, namespace: default, identity: \(replica), retryPeriod: 200ms}

                """)
            let server = try await HubRuntime.start(
                configuration: try ConfigLoader.load(path: path, environment: [:]), clock: fixture.clock, handleSignals: false, logger: logger,
                agentSettings: HubFixture.agentSettings
            )
            servers[replica] = server
            if replica == "hub-a" { #expect(await eventually { await server.hub.agents["staging"]!.isOwnedHere() }) }
        }
        let token = try await APITokens.create(name: "alice", role: .admin, teams: [], clusters: [], in: servers["hub-a"]!.hub.store, now: Date()).secret
        #expect(await eventually {
            let managed = await servers["hub-b"]!.hub.agents["staging"]!.gitopsManagedNamespaces()
            return managed.contains("payments")
        })
        #expect(await !servers["hub-b"]!.hub.agents["staging"]!.isOwnedHere())

        var reply: (status: Int, body: JSONValue) = (0, .null)
        _ = try await eventually {
            var request = URLRequestLike(method: "POST", url: servers["hub-b"]!.url + "/api/v1/clusters/staging/sleep", body: #"{"namespaces": ["payments"], "duration": "1h"}"#)
            request.headers["Authorization"] = "Bearer \(token)"
            reply = try await request.send()
            return reply.status != 503
        }
        #expect(reply.status == 202, "\(reply.body)")
        let id = try #require(reply.body[path: ["operation", "id"]]?.string)
        var finished: OperationRecord?
        #expect(await eventually(timeout: .seconds(60)) {
            finished = try? await servers["hub-a"]!.hub.store.operation(id: id)
            return finished.map(GitOpsFixture.hasEnded) ?? false
        })
        #expect(finished?.state == .succeeded, "\(String(describing: finished))")
        #expect(GitOpsFixture.stages(finished) == ["requested", "mr_opened", "merged", "synced", "done"])
        #expect(await fixture.replicas() == 0)
        #expect(await fixture.stack.gitlab.mergeRequest(project: GitOpsFixture.project, iid: 1)?["state"] == "merged")
        #expect(await fixture.stack.gitlab.mergeRequest(project: GitOpsFixture.project, iid: 2) == nil)
    }
}
