import Foundation
import GitLabSim
import Hub
import JSON
import Store
import TestSupport
import Testing
import Transport

/// Merge requests that wait for a person: production, or a target branch with approval rules.
/// The hub learns of the approval from GitLab's webhook, or by polling without one; a merge
/// request closed without merging rejects the request.
@Suite("GitOps approvals", .serialized, .awaitingCleanup)
struct GitOpsApprovalTests {
    static let secret = "webhook-secret-0123"

    /// GitLab's API as `user`'s token.
    static func gitlab(_ fixture: GitOpsFixture, _ method: HTTPMethod, _ path: String, token: String = "glpat-alice") async throws -> Int {
        let client = HTTPClient()
        defer { client.shutdown() }
        let url = fixture.stack.gitlab.url + "/api/v4/projects/platform%2Fdeploy" + path
        return try await client.send(HTTPRequest(method: method, url: url, headers: ["PRIVATE-TOKEN": token])).status
    }

    @Test func productionWaitsForAnApprovalThatTheWebhookReports() async throws {
        // Polling so slow it cannot be what moves the request on: only the webhook can.
        var fixture = try await GitOpsFixture.make(tier: "production", gitlab: ["webhookSecret: \(Self.secret)", "pollInterval: 1h"])
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        try await fixture.stack.gitlab.addWebhook(project: GitOpsFixture.project, url: fixture.server!.url + "/gitlab/webhook", token: Self.secret)

        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces": ["payments"], "duration": "1h", "reason": "maintenance"}"#)
        let id = try #require(reply.body[path: ["operation", "id"]]?.string, "\(reply.body)")
        let waiting = try await fixture.operation(id) { GitOpsFixture.stages($0).contains("awaiting_approval") }
        #expect(waiting?.state == .waiting)
        #expect(GitOpsFixture.stages(waiting) == ["requested", "mr_opened", "awaiting_approval"])
        #expect(await fixture.stack.gitlab.mergeRequest(project: GitOpsFixture.project, iid: 1)?["state"] == "opened")
        #expect(await fixture.replicas() == 3)

        #expect(try await Self.gitlab(fixture, .post, "/merge_requests/1/approve") == 201)
        let finished = try await fixture.operation(id) { GitOpsFixture.hasEnded($0) }
        #expect(finished?.state == .succeeded, "\(String(describing: finished))")
        #expect(GitOpsFixture.stages(finished) == ["requested", "mr_opened", "awaiting_approval", "merged", "synced", "done"])
        #expect(await fixture.replicas() == 0)
        #expect(fixture.stack.gitlab.webhookDeliveries.contains { $0.status == 200 })
    }

    @Test func withoutAWebhookTheHubPollsForTheApproval() async throws {
        var fixture = try await GitOpsFixture.make(tier: "production")
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        let reply = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster": "staging", "namespace": "payments", "kind": "wake", "duration": "3h"}"#)
        #expect(reply.status == 202, "\(reply.body)")
        let id = try #require(reply.body[path: ["operation", "id"]]?.string, "\(reply.body)")
        _ = try await fixture.operation(id) { GitOpsFixture.stages($0).contains("awaiting_approval") }
        #expect(try await Self.gitlab(fixture, .post, "/merge_requests/1/approve") == 201)
        let finished = try await fixture.operation(id) { GitOpsFixture.hasEnded($0) }
        #expect(finished?.state == .succeeded, "\(String(describing: finished))")
        let overrides = try await fixture.api("GET", "/api/v1/overrides?cluster=staging")
        #expect(overrides.body["overrides"]?.array?.contains { $0["namespace"] == "payments" && $0["kind"] == "wake" } == true)
    }

    @Test func aMergeRequestClosedWithoutMergingRejectsTheRequest() async throws {
        var fixture = try await GitOpsFixture.make(tier: "production", gitlab: ["webhookSecret: \(Self.secret)"])
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(try await fixture.ready())
        try await fixture.stack.gitlab.addWebhook(project: GitOpsFixture.project, url: fixture.server!.url + "/gitlab/webhook", token: Self.secret)
        let reply = try await fixture.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces": ["payments"], "duration": "2h"}"#)
        let id = try #require(reply.body[path: ["operation", "id"]]?.string, "\(reply.body)")
        _ = try await fixture.operation(id) { GitOpsFixture.stages($0).contains("awaiting_approval") }
        #expect(try await Self.gitlab(fixture, .put, "/merge_requests/1?state_event=close") == 200)
        let ended = try await fixture.operation(id) { GitOpsFixture.hasEnded($0) }
        #expect(ended?.state == .rejected)
        #expect(GitOpsFixture.stages(ended).last == "rejected")
        let audit = try await fixture.api("GET", "/api/v1/audit?since=24h")
        #expect(audit.body["entries"]?.array?.contains { $0["result"] == "rejected" && $0["target"] == .string(id) } == true)
    }

    @Test func webhookCallsWithoutTheRightTokenOrOfOtherEventsAreRefusedAndAudited() async throws {
        var fixture = try await GitOpsFixture.make(gitlab: ["webhookSecret: \(Self.secret)"])
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        let url = fixture.server!.url + "/gitlab/webhook"
        let body = #"{"object_kind": "merge_request", "project": {"path_with_namespace": "platform/deploy"}, "object_attributes": {"iid": 1}}"#
        func call(_ headers: HTTPHeaders) async throws -> Int {
            try await URLRequestLike(method: "POST", url: url, body: body, headers: headers).send().status
        }
        #expect(try await call(["X-Gitlab-Event": "Merge Request Hook"]) == 401)
        #expect(try await call(["X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": "wrong"]) == 401)
        #expect(try await call(["X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": Self.secret]) == 400)
        #expect(try await call(["X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": Self.secret]) == 200)
        let audit = try await fixture.api("GET", "/api/v1/audit?since=24h")
        let refusals = audit.body["entries"]?.array?.filter { $0["source"] == "gitlab-webhook" } ?? []
        #expect(refusals.count == 3, "\(refusals)")
        #expect(refusals.allSatisfy { $0["detail"]?.string?.contains(Self.secret) == false })
    }
}
