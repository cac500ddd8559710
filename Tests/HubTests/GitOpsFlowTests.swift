import Foundation
import GitLabSim
import Hub
import JSON
import Kube
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
}
