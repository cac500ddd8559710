import Foundation
import GitLabSim
import Hub
import JSON
import Store
import TestSupport
import Testing

/// GitOps requests that cannot go through end reported, naming the stage and what was tried;
/// passing trouble (429) is waited out.
@Suite("GitOps failures", .serialized, .awaitingCleanup)
struct GitOpsFailureTests {
    static let sleep = #"{"namespaces": ["payments"], "duration": "1h"}"#

    @Test func withoutAGitLabTokenTheRequestIsRefusedNamingTheVariable() async throws {
        var fixture = try await GitOpsFixture.make(gitlabToken: nil)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: Self.sleep)
        #expect(reply.status == 503, "\(reply.body)")
        #expect(reply.body[path: ["error", "message"]]?.string?.contains("SANDMAN_GITLAB_TOKEN") == true, "\(reply.body)")
        #expect(await fixture.stack.gitlab.mergeRequest(project: GitOpsFixture.project, iid: 1) == nil)
    }

    @Test func aTokenThatMayOnlyReadFailsTheRequestAtItsStageSayingWhatWasTried() async throws {
        var fixture = try await GitOpsFixture.make(gitlabToken: "glpat-argocd-read")
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: Self.sleep)
        let id = try #require(reply.body[path: ["operation", "id"]]?.string, "\(reply.body)")
        let failed = try await fixture.operation(id) { GitOpsFixture.hasEnded($0) }
        #expect(failed?.state == .failed)
        let error = failed?.summary.flatMap { try? JSONValue(parsing: Data($0.utf8)) }?["error"]?.string ?? ""
        #expect(error.contains("opening the merge request") && error.contains("403") && error.contains("POST"), "\(error)")
        #expect(!error.contains("glpat-argocd-read"))
        #expect(GitOpsFixture.stages(failed).last == "failed")
        #expect(await fixture.replicas() == 3)
    }

    @Test func gitLabThrottlingIsWaitedOut() async throws {
        var fixture = try await GitOpsFixture.make()
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        // Slow enough that even a loaded machine asks faster.
        fixture.stack.gitlab.setFaults(.init(rateLimit: .init(qps: 1, burst: 1, retryAfterSeconds: 1)))
        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: Self.sleep)
        let id = try #require(reply.body[path: ["operation", "id"]]?.string, "\(reply.body)")
        let finished = try await fixture.operation(id, timeout: .seconds(120)) { GitOpsFixture.hasEnded($0) }
        #expect(finished?.state == .succeeded, "\(String(describing: finished))")
        #expect(fixture.stack.gitlab.requests.contains { $0.status == 429 })
        #expect(fixture.hub.metrics.exposition().contains(#"result="429""#))
    }

    @Test func aStageThatTakesTooLongFailsTheRequestNamingTheStage() async throws {
        var fixture = try await GitOpsFixture.make(gitops: ["timeouts: {sync: 1s}"])
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        // Argo CD's API answers nothing but errors: the merge is never synced.
        fixture.stack.argocd.setFaults(.init(errorRate: 1))
        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: Self.sleep)
        let id = try #require(reply.body[path: ["operation", "id"]]?.string, "\(reply.body)")
        let failed = try await fixture.operation(id, timeout: .seconds(120)) { GitOpsFixture.hasEnded($0) }
        #expect(failed?.state == .failed)
        let error = failed?.summary.flatMap { try? JSONValue(parsing: Data($0.utf8)) }?["error"]?.string ?? ""
        #expect(error.contains("stage synced") && error.contains("staging-payments"), "\(error)")
        #expect(GitOpsFixture.stages(failed) == ["requested", "mr_opened", "merged", "failed"])
    }
}
