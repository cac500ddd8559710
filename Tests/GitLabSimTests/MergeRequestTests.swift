import Foundation
import GitLabSim
import JSON
import TestSupport
import Testing
import Transport

/// Merge requests as GitLab answers them. Sources: `lib/api/merge_requests.rb` (merge: `unauthorized!`,
/// then `not_allowed!` 405 unless mergeable, then 406 "Branch cannot be merged", then 409 from
/// `check_sha_param!`), `MergeRequest#validate_branches` (409 duplicate), `lib/api/merge_request_approvals.rb`
/// (approving twice or one's own merge request is 401), `doc/api/merge_requests.md` (detailed_merge_status).
@Suite("GitLabSim merge requests", .awaitingCleanup)
struct MergeRequestTests {
    let project = GitLabHarness.project

    @Test func lifecycleFromCreationToMerge() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.commit(branch: "sandman/payments", content: "override\n")
        let created = try await harness.openMergeRequest("sandman/payments", title: "Wake payments", extra: ["description": "asked by alice", "remove_source_branch": true, "labels": "sandman,override"])
        #expect(created.status == 201)
        #expect(created.body["iid"] == 1)
        #expect(created.body["state"] == "opened")
        #expect(created.body["detailed_merge_status"] == "preparing")
        #expect(created.body["labels"] == ["sandman", "override"])
        #expect(created.body["web_url"]?.string == "\(harness.gitlab.url)/platform/deploy/-/merge_requests/1")
        #expect(created.body[path: ["references", "full"]] == "platform/deploy!1")
        let sha = try #require(created.body["sha"]?.string)

        // Right after creation GitLab has not checked mergeability yet: 405 (the retry Sandman needs).
        let early = try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge", json: ["sha": .string(sha)])
        #expect(early.status == 405)
        #expect(early.body == ["message": "405 Method Not Allowed"])

        // Same source and target branch again: 409 with the model's message (an array).
        let duplicate = try await harness.openMergeRequest("sandman/payments")
        #expect(duplicate.status == 409)
        #expect(duplicate.body == ["message": ["Another open merge request already exists for this source branch: !1"]])

        let checked = try await harness.waitChecked(1)
        #expect(checked["detailed_merge_status"] == "mergeable")
        #expect(checked["merge_status"] == "can_be_merged")

        let wrongSHA = try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge", json: ["sha": "0000000000000000000000000000000000000000"])
        #expect(wrongSHA.status == 409)
        #expect(wrongSHA.message == "SHA does not match HEAD of source branch: \(sha)")

        let merged = try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge", json: ["sha": .string(sha)])
        #expect(merged.status == 200)
        #expect(merged.body["state"] == "merged")
        let mergeCommit = try #require(merged.body["merge_commit_sha"]?.string)
        #expect(await harness.gitlab.head(project: "platform/deploy", branch: "main") == mergeCommit)
        #expect(await harness.gitlab.file(project: "platform/deploy", path: "clusters/staging/payments/sleepinfo.yaml") == "override\n")
        // remove_source_branch: the source branch is gone after the merge.
        #expect(try await harness.request(.get, "/projects/\(project)/repository/branches/sandman%2Fpayments").status == 404)
        let commit = try await harness.request(.get, "/projects/\(project)/repository/commits/\(mergeCommit)").body
        #expect(commit["parent_ids"]?.array?.count == 2)
        #expect(commit["title"] == "Merge branch 'sandman/payments' into 'main'")

        // Merging a merged request again: 405.
        #expect(try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge").status == 405)
    }

    @Test func createRefusals() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        let missing = try await harness.request(.post, "/projects/\(project)/merge_requests", json: ["source_branch": "x"])
        #expect(missing.status == 400)
        #expect(missing.body == ["error": "title is missing, target_branch is missing"])
        let same = try await harness.request(.post, "/projects/\(project)/merge_requests", json: ["source_branch": "main", "target_branch": "main", "title": "t"])
        #expect(same.status == 422)
        #expect(same.body == ["message": ["You can't use same project/branch for source and target"]])
        let noBranch = try await harness.openMergeRequest("ghost")
        #expect(noBranch.status == 422)
        #expect(noBranch.body == ["message": ["Source branch \"ghost\" does not exist"]])
        #expect(try await harness.request(.get, "/projects/\(project)/merge_requests/99").body == ["message": "404 Not found"])
    }

    @Test func listFiltersUpdateCloseAndNotes() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.commit(branch: "a", content: "a\n")
        try await harness.commit(branch: "b", path: "README.md", content: "b\n")
        _ = try await harness.openMergeRequest("a", title: "First", extra: ["labels": "sandman"])
        _ = try await harness.openMergeRequest("b", title: "Second")
        let closed = try await harness.request(.put, "/projects/\(project)/merge_requests/2", json: ["state_event": "close"])
        #expect(closed.body["state"] == "closed")
        #expect(closed.body["closed_at"]?.string != nil)

        func iids(_ query: String) async throws -> [Int64] {
            try await harness.request(.get, "/projects/\(project)/merge_requests\(query)").body.array?.compactMap { $0["iid"]?.int } ?? []
        }
        // Default order: created_at desc; state defaults to all.
        #expect(try await iids("") == [2, 1])
        #expect(try await iids("?state=opened") == [1])
        #expect(try await iids("?state=closed") == [2])
        #expect(try await iids("?source_branch=a") == [1])
        #expect(try await iids("?labels=sandman") == [1])
        #expect(try await iids("?labels=None") == [2])
        #expect(try await iids("?sort=asc") == [1, 2])
        #expect(try await harness.request(.get, "/projects/\(project)/merge_requests?state=nope").body == ["error": "state does not have a valid value"])

        let nothing = try await harness.request(.put, "/projects/\(project)/merge_requests/1", json: .emptyObject)
        #expect(nothing.status == 400)
        #expect(nothing.body["error"]?.string?.hasSuffix("are missing, at least one parameter must be provided") == true)
        let retitled = try await harness.request(.put, "/projects/\(project)/merge_requests/1", json: ["title": "First, again", "add_labels": "override"])
        #expect(retitled.body["title"] == "First, again")
        #expect(retitled.body["labels"] == ["sandman", "override"])

        let note = try await harness.request(.post, "/projects/\(project)/merge_requests/1/notes", json: ["body": "Synced by Argo CD"])
        #expect(note.status == 201)
        #expect(note.body["noteable_type"] == "MergeRequest")
        #expect(note.body[path: ["author", "username"]] == "bot")
        #expect(try await harness.request(.post, "/projects/\(project)/merge_requests/1/notes", json: .emptyObject).body == ["error": "body is missing"])
        #expect(try await harness.request(.get, "/projects/\(project)/merge_requests/1/notes").body.array?.count == 1)
        #expect(try await harness.request(.get, "/projects/\(project)/merge_requests/1").body["user_notes_count"] == 1)
    }

    @Test func newCommitOnSourceBranchNeedsANewCheck() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.commit(branch: "sandman/payments", content: "one\n")
        _ = try await harness.openMergeRequest("sandman/payments")
        let first = try await harness.waitChecked(1)
        try await harness.commit(branch: "sandman/payments", content: "two\n", start: nil)
        let after = try await harness.request(.get, "/projects/\(project)/merge_requests/1").body
        #expect(after["sha"] != first["sha"])
        #expect(after["detailed_merge_status"] == "checking")
        #expect(try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge").status == 405)
        #expect(try await harness.waitChecked(1)["detailed_merge_status"] == "mergeable")
    }

    @Test func conflicts() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.commit(branch: "one", content: "one\n")
        try await harness.commit(branch: "two", content: "two\n")
        _ = try await harness.openMergeRequest("one")
        _ = try await harness.openMergeRequest("two")
        _ = try await harness.waitChecked(1)
        _ = try await harness.waitChecked(2)
        #expect(try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge").status == 200)
        // The target moved: GitLab marks !2 unchecked; a merge now discovers the conflict (406).
        let raced = try await harness.request(.put, "/projects/\(project)/merge_requests/2/merge")
        #expect(raced.status == 406)
        #expect(raced.body == ["message": "Branch cannot be merged"])
        // Once checked, the conflict is known: detailed_merge_status conflict, and merging is 405.
        let checked = try await harness.waitChecked(2)
        #expect(checked["detailed_merge_status"] == "conflict")
        #expect(checked["has_conflicts"] == true)
        #expect(checked["merge_status"] == "cannot_be_merged")
        #expect(try await harness.request(.put, "/projects/\(project)/merge_requests/2/merge").status == 405)
    }

    @Test func approvalRulesAndAutoMerge() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.gitlab.requireApprovals(project: "platform/deploy", branch: "main", approvals: 1, approvers: ["alice"])
        try await harness.commit(branch: "sandman/production", content: "prod\n")
        let created = try await harness.openMergeRequest("sandman/production")
        let sha = try #require(created.body["sha"]?.string)
        #expect(try await harness.waitChecked(1)["detailed_merge_status"] == "not_approved")
        #expect(try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge").status == 405)

        // auto_merge (merge_when_pipeline_succeeds before 17.x) sets the merge request to merge once approved.
        let armed = try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge", json: ["auto_merge": true, "sha": .string(sha)])
        #expect(armed.status == 200)
        #expect(armed.body["state"] == "opened")
        #expect(armed.body["merge_when_pipeline_succeeds"] == true)

        // The author may not approve; approving twice is 401; others than the listed approvers do not count.
        let own = try await harness.request(.post, "/projects/\(project)/merge_requests/1/approve")
        #expect(own.status == 401)
        #expect(own.body == ["message": "401 Unauthorized"])
        let root = try await harness.request(.post, "/projects/\(project)/merge_requests/1/approve", token: "root-token")
        #expect(root.status == 201)
        #expect(root.body["approved"] == false)
        #expect(root.body["approvals_left"] == 1)
        let wrongSHA = try await harness.request(.post, "/projects/\(project)/merge_requests/1/approve", token: "alice-token", json: ["sha": "1234567"])
        #expect(wrongSHA.status == 409)
        let alice = try await harness.request(.post, "/projects/\(project)/merge_requests/1/approve", token: "alice-token", json: ["sha": .string(sha)])
        #expect(alice.status == 201)
        #expect(alice.body["approved"] == true)
        #expect(alice.body["approved_by"]?.array?.compactMap { $0[path: ["user", "username"]]?.string } == ["root", "alice"])
        #expect(try await harness.request(.post, "/projects/\(project)/merge_requests/1/approve", token: "alice-token").status == 401)

        let merged = try await harness.request(.get, "/projects/\(project)/merge_requests/1").body
        #expect(merged["state"] == "merged")
        #expect(merged[path: ["merged_by", "username"]] == "bot")

        // Approved while GitLab is still checking: the merge happens when the check finishes.
        try await harness.commit(branch: "sandman/later", content: "later\n")
        let later = try await harness.openMergeRequest("sandman/later")
        _ = try await harness.waitChecked(2)
        _ = try await harness.request(.put, "/projects/\(project)/merge_requests/2/merge", json: ["auto_merge": true])
        try await harness.gitlab.commit(project: "platform/deploy", branch: "main", message: "target moves", files: ["README.md": "moved\n"])
        #expect(try await harness.request(.get, "/projects/\(project)/merge_requests/2").body["detailed_merge_status"] == "unchecked")
        _ = try await harness.request(.post, "/projects/\(project)/merge_requests/2/approve", token: "alice-token")
        #expect(try await harness.request(.get, "/projects/\(project)/merge_requests/2").body["state"] == "opened")
        await harness.gitlab.finishMergeabilityChecks()
        let laterMerged = try await harness.request(.get, "/projects/\(project)/merge_requests/2").body
        #expect(laterMerged["state"] == "merged", "\(later.body)")
        #expect(try await harness.request(.get, "/projects/\(project)/merge_requests/1/approvals").body["approved"] == true)
        let rules = try await harness.request(.get, "/projects/\(project)/approval_rules").body.array ?? []
        #expect(rules.first?["approvals_required"] == 1)
        #expect(rules.first?["users"]?.array?.first?["username"] == "alice")
    }

    @Test func webhooksAreDeliveredAndRetried() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        let failures = Countdown(1)
        let receiver = try await TestHTTPServer.start { request in
            // The first "open" call fails: GitLabSim tries again.
            let action = (try? JSONValue(parsing: Data(request.body)))?[path: ["object_attributes", "action"]]
            return action == "open" && failures.next() >= 0 ? .text(500, "down") : .text(200, "ok")
        }
        defer { afterTest { await receiver.shutdown() } }
        let hook = try await harness.request(.post, "/projects/\(project)/hooks", json: ["url": .string(receiver.baseURL + "/gitlab/webhook"), "token": "s3cret", "merge_requests_events": true])
        #expect(hook.status == 201)
        #expect(hook.body["merge_requests_events"] == true)
        #expect(hook.body["token"] == nil)

        let first = try await harness.commit(branch: "sandman/payments", content: "x\n")
        _ = try await harness.openMergeRequest("sandman/payments")
        // A push to the source branch (Sandman updating its open merge request): action update with oldrev.
        try await harness.commit(branch: "sandman/payments", content: "y\n", start: nil)
        _ = try await harness.waitChecked(1)
        _ = try await harness.request(.put, "/projects/\(project)/merge_requests/1/merge")
        #expect(try await eventually { receiver.requests.count >= 4 && harness.gitlab.webhookDeliveries.count >= 4 })
        // Deliveries run concurrently: the retried "open" and the "merge" may arrive in either order.
        let requests = receiver.requests
        // doc/user/project/integrations/webhook_events.md: Merge request events.
        #expect(requests.allSatisfy { $0.header("X-Gitlab-Event") == "Merge Request Hook" && $0.header("X-Gitlab-Token") == "s3cret" })
        #expect(requests.allSatisfy { $0.header("X-Gitlab-Instance") == harness.gitlab.url && $0.header("X-Gitlab-Webhook-UUID") != nil })
        let bodies = try requests.map { try JSONValue(parsing: Data($0.body)) }
        #expect(bodies.map { $0[path: ["object_attributes", "action"]]?.string ?? "" }.sorted() == ["merge", "open", "open", "update"])
        let update = try #require(bodies.first { $0[path: ["object_attributes", "action"]] == "update" })
        #expect(update[path: ["object_attributes", "oldrev"]] == first.body["id"])
        let merge = try #require(bodies.first { $0[path: ["object_attributes", "action"]] == "merge" })
        #expect(merge["object_kind"] == "merge_request")
        #expect(merge["event_type"] == "merge_request")
        #expect(merge[path: ["object_attributes", "iid"]] == 1)
        #expect(merge[path: ["object_attributes", "state"]] == "merged")
        #expect(merge[path: ["object_attributes", "merge_commit_sha"]]?.string?.count == 40)
        #expect(merge[path: ["project", "path_with_namespace"]] == "platform/deploy")
        #expect(merge[path: ["user", "username"]] == "bot")
        let deliveries = harness.gitlab.webhookDeliveries
        #expect(deliveries.filter { $0.action == "open" }.map(\.status) == [500, 200])
        #expect(deliveries.filter { $0.action == "open" }.map(\.attempt) == [1, 2])
        #expect(deliveries.filter { $0.action == "merge" }.map(\.status) == [200])
    }

    @Test func webhookGivesUpAfterItsAttempts() async throws {
        let harness = try await GitLabHarness.start { $0.webhookAttempts = 2 }
        defer { afterTest { await harness.stop() } }
        // Nothing listens on port 9 (discard) of loopback: every attempt fails to connect.
        try await harness.gitlab.addWebhook(project: "platform/deploy", url: "http://127.0.0.1:9/hook", token: nil)
        try await harness.commit(branch: "x", content: "x\n")
        _ = try await harness.openMergeRequest("x")
        #expect(try await eventually { harness.gitlab.webhookDeliveries.count == 2 })
        #expect(harness.gitlab.webhookDeliveries.allSatisfy { $0.status == nil && $0.error != nil })
    }
}
