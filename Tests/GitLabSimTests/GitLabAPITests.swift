import Foundation
import GitLabSim
import JSON
import TestSupport
import Testing
import Transport

/// Requests and GitLab's answers. Sources of the expected answers: GitLab's `lib/api/*.rb`
/// (gitlabhq/gitlabhq), `app/services/files/multi_service.rb`, `app/services/commits/create_service.rb`,
/// `lib/api/api_guard.rb`, and the REST API docs (`doc/api/*.md`), as cited per case.
@Suite("GitLabSim API", .awaitingCleanup)
struct GitLabAPITests {
    let project = GitLabHarness.project

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var method: HTTPMethod
        var path: String
        var token: String? = "bot-token"
        var body: JSONValue?
        var status: Int
        /// Expected members of the JSON answer.
        var expect: JSONValue
        var description: String { name }
    }

    // Authentication and scopes: api_guard.rb (401 from `unauthorized!`, 403 `insufficient_scope`
    // from rack-oauth2 for a read_api token on a write); private projects are 404 without a token
    // (`not_found!('Project')`) and writes without one are 401 (`authenticate_non_get!`).
    static let authentication: [Case] = [
        Case(name: "no token, read", method: .get, path: "/projects/platform%2Fdeploy", token: nil, status: 404, expect: ["message": "404 Project Not Found"]),
        Case(name: "no token, write", method: .post, path: "/projects/platform%2Fdeploy/repository/branches", token: nil, body: ["branch": "x", "ref": "main"], status: 401, expect: ["message": "401 Unauthorized"]),
        Case(name: "unknown token", method: .get, path: "/projects/1", token: "nope", status: 401, expect: ["message": "401 Unauthorized"]),
        Case(name: "read_api token reads", method: .get, path: "/projects/1", token: "reader-token", status: 200, expect: ["path_with_namespace": "platform/deploy"]),
        Case(name: "read_api token writes", method: .post, path: "/projects/1/repository/branches", token: "reader-token", body: ["branch": "x", "ref": "main"], status: 403,
             expect: ["error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the access token.", "scope": "api"]),
        Case(name: "current user", method: .get, path: "/user", token: "alice-token", status: 200, expect: ["username": "alice", "id": 3]),
        Case(name: "no user without token", method: .get, path: "/user", token: nil, status: 401, expect: ["message": "401 Unauthorized"]),
    ]

    // Projects by id or URL-encoded path (`requires :id, types: [String, Integer]`, doc/api/projects.md).
    static let projects: [Case] = [
        Case(name: "by id", method: .get, path: "/projects/1", status: 200, expect: ["id": 1, "default_branch": "main", "web_url": .null]),
        Case(name: "by path", method: .get, path: "/projects/platform%2Fdeploy", status: 200, expect: ["id": 1, "path_with_namespace": "platform/deploy", "empty_repo": false]),
        Case(name: "unknown", method: .get, path: "/projects/platform%2Fnope", status: 404, expect: ["message": "404 Project Not Found"]),
        Case(name: "unknown route", method: .get, path: "/projects/1/nothing", status: 404, expect: ["error": "404 Not Found"]),
    ]

    // Branches (lib/api/branches.rb, doc/api/branches.md): 400 "Branch already exists",
    // 400 "Invalid reference name: <ref>", 404 "404 Branch Not Found", Grape's "<param> is missing".
    static let branches: [Case] = [
        Case(name: "create", method: .post, path: "/projects/1/repository/branches", body: ["branch": "feature", "ref": "main"], status: 201, expect: ["name": "feature", "merged": true, "protected": false, "default": false]),
        Case(name: "create existing", method: .post, path: "/projects/1/repository/branches", body: ["branch": "main", "ref": "main"], status: 400, expect: ["message": "Branch already exists"]),
        Case(name: "bad ref", method: .post, path: "/projects/1/repository/branches", body: ["branch": "x", "ref": "nowhere"], status: 400, expect: ["message": "Invalid reference name: nowhere"]),
        Case(name: "bad name", method: .post, path: "/projects/1/repository/branches", body: ["branch": "a..b", "ref": "main"], status: 400, expect: ["message": "Branch name is invalid"]),
        Case(name: "missing parameters", method: .post, path: "/projects/1/repository/branches", body: .emptyObject, status: 400, expect: ["error": "branch is missing, ref is missing"]),
        Case(name: "get missing", method: .get, path: "/projects/1/repository/branches/nope", status: 404, expect: ["message": "404 Branch Not Found"]),
        Case(name: "get main", method: .get, path: "/projects/1/repository/branches/main", status: 200, expect: ["name": "main", "default": true]),
    ]

    // Files (lib/api/files.rb, doc/api/repository_files.md): `ref` required, base64 content,
    // 404 "404 File Not Found", 404 "404 Commit Not Found" for an unknown ref.
    static let files: [Case] = [
        Case(name: "get", method: .get, path: "/projects/1/repository/files/README.md?ref=main", status: 200,
             // git's blob id of "hello\n" (`git hash-object`): ce013625030ba8dba906f756967f9e9ca394464a
             expect: ["file_name": "README.md", "file_path": "README.md", "encoding": "base64", "content": "aGVsbG8K", "size": 6,
                      "blob_id": "ce013625030ba8dba906f756967f9e9ca394464a", "ref": "main"]),
        Case(name: "nested path encoded", method: .get, path: "/projects/1/repository/files/clusters%2Fstaging%2Fpayments%2Fsleepinfo.yaml?ref=main", status: 200, expect: ["file_name": "sleepinfo.yaml"]),
        Case(name: "ref missing", method: .get, path: "/projects/1/repository/files/README.md", status: 400, expect: ["error": "ref is missing"]),
        Case(name: "missing file", method: .get, path: "/projects/1/repository/files/nope.yaml?ref=main", status: 404, expect: ["message": "404 File Not Found"]),
        Case(name: "unknown ref", method: .get, path: "/projects/1/repository/files/README.md?ref=nope", status: 404, expect: ["message": "404 Commit Not Found"]),
    ]

    // Commits with actions (lib/api/commits.rb, Commits::CreateService, Files::MultiService, Gitaly's
    // UserCommitFiles messages).
    static let commits: [Case] = [
        Case(name: "missing parameters", method: .post, path: "/projects/1/repository/commits", body: .emptyObject, status: 400, expect: ["error": "branch is missing, commit_message is missing, actions is missing"]),
        Case(name: "invalid action", method: .post, path: "/projects/1/repository/commits",
             body: ["branch": "main", "commit_message": "m", "actions": [["action": "rename", "file_path": "a"]]], status: 400, expect: ["error": "actions[0][action] does not have a valid value"]),
        Case(name: "file_path missing", method: .post, path: "/projects/1/repository/commits",
             body: ["branch": "main", "commit_message": "m", "actions": [["action": "create"]]], status: 400, expect: ["error": "actions[0][file_path] is missing"]),
        Case(name: "create existing", method: .post, path: "/projects/1/repository/commits",
             body: ["branch": "main", "commit_message": "m", "actions": [["action": "create", "file_path": "README.md", "content": "x"]]], status: 400, expect: ["message": "A file with this name already exists"]),
        Case(name: "update missing", method: .post, path: "/projects/1/repository/commits",
             body: ["branch": "main", "commit_message": "m", "actions": [["action": "update", "file_path": "nope", "content": "x"]]], status: 400, expect: ["message": "A file with this name doesn't exist"]),
        Case(name: "unknown start branch", method: .post, path: "/projects/1/repository/commits",
             body: ["branch": "new", "start_branch": "nope", "commit_message": "m", "actions": [["action": "create", "file_path": "a", "content": "x"]]], status: 400,
             expect: ["message": "You can only create or edit files when you are on a branch"]),
        Case(name: "branch exists", method: .post, path: "/projects/1/repository/commits",
             body: ["branch": "main", "start_branch": "other", "commit_message": "m", "actions": [["action": "create", "file_path": "a", "content": "x"]]], status: 400,
             expect: ["message": "You can only create or edit files when you are on a branch"]),
        Case(name: "directory traversal", method: .post, path: "/projects/1/repository/commits",
             body: ["branch": "main", "commit_message": "m", "actions": [["action": "create", "file_path": "../etc/passwd", "content": "x"]]], status: 400,
             expect: ["message": "Your changes could not be committed, because the file name, `../etc/passwd` cannot include directory traversal."]),
        Case(name: "not JSON", method: .post, path: "/projects/1/repository/commits", body: "[1, 2]", status: 400, expect: ["error": "body must be a JSON object"]),
    ]

    static let all = authentication + projects + branches + files + commits

    @Test(arguments: all)
    func answers(_ test: Case) async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        let reply = try await harness.request(test.method, test.path, token: test.token, json: test.body)
        #expect(reply.status == test.status, "\(test.name): \(reply.text)")
        for (key, value) in test.expect.object ?? [:] {
            if value == .null {
                #expect(reply.body[key] != nil, "\(test.name): \(key) missing in \(reply.text)")
            } else {
                #expect(reply.body[key] == value, "\(test.name): \(key) in \(reply.text)")
            }
        }
    }

    @Test func commitCreatesBranchAndTracksLastCommitPerFile() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        let file = "/projects/\(project)/repository/files/clusters%2Fstaging%2Fpayments%2Fsleepinfo.yaml"
        let before = try await harness.request(.get, file + "?ref=main").body
        let lastCommit = try #require(before["last_commit_id"]?.string)

        let created = try await harness.commit(branch: "sandman/override", content: "changed\n")
        #expect(created.status == 201)
        let sha = try #require(created.body["id"]?.string)
        #expect(sha.count == 40 && sha.allSatisfy(\.isHexDigit))
        #expect(created.body["parent_ids"] == [.string(before["commit_id"]!.string!)])
        #expect(created.body["title"] == "Change clusters/staging/payments/sleepinfo.yaml")

        // The new branch sees the change; main does not; README's last commit is still the first one.
        let onBranch = try await harness.request(.get, file + "?ref=sandman%2Foverride").body
        #expect(onBranch["last_commit_id"]?.string == sha)
        #expect(Data(base64Encoded: onBranch["content"]?.string ?? "") == Data("changed\n".utf8))
        #expect(try await harness.request(.get, file + "?ref=main").body["last_commit_id"]?.string == lastCommit)
        let raw = try await harness.request(.get, "/projects/\(project)/repository/files/README.md/raw?ref=sandman%2Foverride")
        #expect(raw.text == "hello\n")
        #expect(try await harness.request(.get, "/projects/\(project)/repository/files/README.md?ref=sandman%2Foverride").body["last_commit_id"]?.string == lastCommit)

        // Optimistic check: an update naming an older last_commit_id is refused with GitLab's message
        // (Files::MultiService#validate_file_status!).
        let stale = try await harness.request(.post, "/projects/\(project)/repository/commits", json: [
            "branch": "sandman/override", "commit_message": "again",
            "actions": [["action": "update", "file_path": "clusters/staging/payments/sleepinfo.yaml", "content": "x", "last_commit_id": .string(lastCommit)]],
        ])
        #expect(stale.status == 400)
        #expect(stale.message == "The file has changed since you started editing it: clusters/staging/payments/sleepinfo.yaml")
        let fresh = try await harness.request(.post, "/projects/\(project)/repository/commits", json: [
            "branch": "sandman/override", "commit_message": "again",
            "actions": [["action": "update", "file_path": "clusters/staging/payments/sleepinfo.yaml", "content": "x", "last_commit_id": .string(sha)]],
        ])
        #expect(fresh.status == 201)

        // A new branch from a start branch that already exists under that name: Commits::CreateService.
        let exists = try await harness.commit(branch: "sandman/override", content: "y\n")
        #expect(exists.message == "A branch called 'sandman/override' already exists. Switch to that branch in order to make changes")

        // History per branch, newest first (GET /repository/commits?ref_name=).
        let history = try await harness.request(.get, "/projects/\(project)/repository/commits?ref_name=sandman%2Foverride").body.array ?? []
        #expect(history.count == 3)
        #expect(history.first?["title"] == "again")
        #expect(try await harness.request(.get, "/projects/\(project)/repository/commits?ref_name=main").body.array?.count == 1)
    }

    @Test func formEncodedActionsMoveAndDelete() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        // `curl --data` style: Rack nests `actions[][...]` into an array of hashes.
        let form = "branch=main&commit_message=tidy+up&actions[][action]=move&actions[][previous_path]=README.md&actions[][file_path]=docs%2FREADME.md"
            + "&actions[][action]=create&actions[][file_path]=b64.txt&actions[][content]=aGk%3D&actions[][encoding]=base64"
        let reply = try await harness.request(.post, "/projects/\(project)/repository/commits", form: form)
        #expect(reply.status == 201, "\(reply.text)")
        #expect(await harness.gitlab.file(project: "platform/deploy", path: "docs/README.md") == "hello\n")
        #expect(await harness.gitlab.file(project: "platform/deploy", path: "README.md") == nil)
        #expect(await harness.gitlab.file(project: "platform/deploy", path: "b64.txt") == "hi")
        let tree = try await harness.request(.get, "/projects/\(project)/repository/tree?recursive=true").body.array ?? []
        #expect(tree.map { $0["path"]?.string ?? "" } == ["clusters", "clusters/staging", "clusters/staging/payments", "docs", "b64.txt", "clusters/staging/payments/sleepinfo.yaml", "docs/README.md"])
        let top = try await harness.request(.get, "/projects/\(project)/repository/tree?path=clusters%2Fstaging").body.array ?? []
        #expect(top.map { $0["name"]?.string ?? "" } == ["payments"])
    }

    @Test func singleFileUpdateAsPythonGitLabSendsIt() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        let path = "/projects/\(project)/repository/files/README.md"
        let last = try #require(try await harness.request(.get, path + "?ref=main").body["last_commit_id"]?.string)
        let updated = try await harness.request(.put, path, json: ["file_path": "README.md", "branch": "main", "content": "bye\n", "commit_message": "bye", "last_commit_id": .string(last)])
        #expect(updated.status == 200)
        #expect(updated.body == ["file_path": "README.md", "branch": "main"])
        // The single-file API keeps its older message (Files::UpdateService).
        let stale = try await harness.request(.put, path, json: ["branch": "main", "content": "x", "commit_message": "x", "last_commit_id": .string(last)])
        #expect(stale.status == 400)
        #expect(stale.message == "You are attempting to update a file that has changed since you started editing it.")
        let deleted = try await harness.request(.delete, path + "?branch=main&commit_message=rm")
        #expect(deleted.status == 204)
        #expect(await harness.gitlab.file(project: "platform/deploy", path: "README.md") == nil)
    }

    @Test func paginationHeadersAndLinks() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        for index in 1...24 {
            _ = try await harness.request(.post, "/projects/\(project)/repository/branches", json: ["branch": .string("b\(index)"), "ref": "main"])
        }
        // doc/api/rest/_index.md, "Pagination": per_page defaults to 20, X-* headers and Link rel=next/first/last.
        let first = try await harness.request(.get, "/projects/\(project)/repository/branches")
        #expect(first.body.array?.count == 20)
        #expect(first.headers["X-Total"] == "25")
        #expect(first.headers["X-Total-Pages"] == "2")
        #expect(first.headers["X-Next-Page"] == "2")
        #expect(first.headers["X-Prev-Page"] == "")
        #expect(first.headers["Link"]?.contains("page=2&per_page=20>; rel=\"next\"") == true)
        let second = try await harness.request(.get, "/projects/\(project)/repository/branches?page=2")
        #expect(second.body.array?.count == 5)
        #expect(second.headers["X-Next-Page"] == "")
        let search = try await harness.request(.get, "/projects/\(project)/repository/branches?search=b2&per_page=100")
        #expect(Set(search.body.array?.compactMap { $0["name"]?.string } ?? []) == ["b2", "b20", "b21", "b22", "b23", "b24"])
    }

    @Test func rateLimitErrorsAndCounters() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        harness.gitlab.setFaults(.init(rateLimit: .init(qps: 0.001, burst: 2, retryAfterSeconds: 7)))
        _ = try await harness.request(.get, "/projects/1")
        _ = try await harness.request(.get, "/projects/1")
        // doc/administration/settings/user_and_ip_rate_limits.md: 429, Retry-After and RateLimit-* headers, "Retry later".
        let limited = try await harness.request(.get, "/projects/1")
        #expect(limited.status == 429)
        #expect(limited.headers["Retry-After"] == "7")
        #expect(limited.headers["RateLimit-Remaining"] == "0")
        #expect(limited.headers["RateLimit-Limit"] == "2")
        #expect(limited.headers["RateLimit-Reset"].flatMap(Int.init) != nil)
        #expect(limited.text == "Retry later\n")
        harness.gitlab.setFaults(.init(errorRate: 1))
        #expect(try await harness.request(.get, "/projects/1").status == 500)
        harness.gitlab.setFaults(.init())
        #expect(try await harness.request(.get, "/projects/1").status == 200)
        #expect(harness.gitlab.requestCounts["GET /projects/:id"] == 5)
        #expect(harness.gitlab.requests.map(\.status).suffix(3) == [429, 500, 200])
    }

    @Test func droppedConnectionsAreCut() async throws {
        let harness = try await GitLabHarness.start()
        defer { afterTest { await harness.stop() } }
        harness.gitlab.setFaults(.init(dropRate: 1))
        await #expect(throws: TransportError.self) { try await harness.request(.get, "/projects/1") }
    }
}
