import Foundation
import GitLabSim
import JSON
import TestSupport
import Testing
import Transport

/// Requests no client should send: GitLab answers them with a 4xx and its JSON error shapes,
/// never a 5xx, a crash or a hang. Randomized from a printed seed (`SANDMAN_TEST_SEED` replays one).
@Suite("GitLabSim bad input", .awaitingCleanup)
struct BadInputTests {
    static let paths = [
        "/projects/1", "/projects/platform%2Fdeploy/repository/branches", "/projects/1/repository/branches/main",
        "/projects/1/repository/files/README.md", "/projects/1/repository/files/README.md/raw", "/projects/1/repository/tree",
        "/projects/1/repository/commits", "/projects/1/merge_requests", "/projects/1/merge_requests/1", "/projects/1/merge_requests/1/merge",
        "/projects/1/merge_requests/1/approve", "/projects/1/merge_requests/1/notes", "/projects/1/hooks", "/projects/1/approval_rules",
        "/projects/1/protected_branches", "/projects/1/merge_requests/abc", "/projects/%ZZ", "/projects/1/repository/files/..%2F..%2Fetc",
    ]
    static let queries = ["", "?ref=main", "?page=abc", "?per_page=-5&page=999999999999", "?state=x", "?iids[]=x", "?recursive=maybe", "?ref="]
    static let values: [JSONValue] = [
        .null, true, 0, -1, 1.5, "", "main", "../x", "a..b", [], [1, "x"], ["nested": ["deep": []]], .string(String(repeating: "x", count: 5000)),
    ]
    static let keys = ["branch", "ref", "title", "source_branch", "target_branch", "commit_message", "actions", "content", "sha", "auto_merge",
                       "state_event", "labels", "body", "url", "name", "approvals_required", "last_commit_id", "start_branch", "encoding"]

    @Test func randomRequestsGetClientErrors() async throws {
        var random = SeededGenerator()
        let seed = random.seed
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.commit(branch: "feature", content: "x\n")
        _ = try await harness.openMergeRequest("feature")
        let methods: [HTTPMethod] = [.get, .post, .put, .delete, .patch]
        for _ in 0..<300 {
            let method = methods.randomElement(using: &random)!
            let path = Self.paths.randomElement(using: &random)! + Self.queries.randomElement(using: &random)!
            var body: JSONValue = .emptyObject
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                body[Self.keys.randomElement(using: &random)!] = Self.values.randomElement(using: &random)!
            }
            if Bool.random(using: &random) {
                body["actions"] = [[Self.keys.randomElement(using: &random)!: Self.values.randomElement(using: &random)!, "action": "update"]]
            }
            let reply = try await harness.request(method, path, json: body)
            #expect(reply.status < 500, "seed \(seed): \(method.rawValue) \(path) \(body) → \(reply.status) \(reply.text)")
            if reply.status >= 400, !path.contains("/raw") {
                #expect(reply.body["message"] != nil || reply.body["error"] != nil, "seed \(seed): \(method.rawValue) \(path) → \(reply.text)")
            }
        }
        // Still serving.
        #expect(try await harness.request(.get, "/projects/1").status == 200)
    }

    @Test func malformedBodies() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        let path = "/projects/1/repository/branches"
        let notJSON = try await harness.client.send(HTTPRequest(
            method: .post, url: harness.gitlab.url + "/api/v4" + path,
            headers: ["PRIVATE-TOKEN": "bot-token", "Content-Type": "application/json"], body: Data("{\"branch\": ".utf8)
        ))
        #expect(notJSON.status == 400)
        let wrongType = try await harness.request(.post, path, json: ["branch": ["x"], "ref": "main"])
        #expect(wrongType.status == 400)
        #expect(wrongType.body == ["error": "branch is invalid"])
        let badPage = try await harness.request(.get, path + "?page=abc")
        #expect(badPage.body == ["error": "page is invalid"])
    }
}
