import Foundation
import GitLabSim
import JSON
import TestSupport
import Transport

/// A running GitLabSim with a project `platform/deploy`, users root (author of everything by
/// default), bot and alice, and a raw HTTP client: API-level tests must not depend on a GitLab
/// client of our own.
struct GitLabHarness {
    static let project = "platform%2Fdeploy"
    let gitlab: GitLabSim
    let client: HTTPClient

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: JSONValue
        var text: String

        var message: String? { body["message"]?.string }
    }

    static func start(files: [String: String] = ["README.md": "hello\n", "clusters/staging/payments/sleepinfo.yaml": Self.sleepInfo], _ configure: (inout GitLabSim.Configuration) -> Void = { _ in }) async throws -> GitLabHarness {
        var configuration = GitLabSim.Configuration()
        configuration.users = [User(id: 1, username: "root"), User(id: 2, username: "bot"), User(id: 3, username: "alice")]
        configuration.tokens = [
            "root-token": AccessToken(username: "root"), "bot-token": AccessToken(username: "bot"),
            "alice-token": AccessToken(username: "alice"), "reader-token": AccessToken(username: "bot", scopes: ["read_api"]),
        ]
        // Long enough that no machine is too slow to see `preparing`; tests end checks with `waitChecked`.
        configuration.mergeabilityCheckDelay = .seconds(60)
        configuration.webhookRetryDelay = .milliseconds(50)
        configure(&configuration)
        let gitlab = try await GitLabSim.start(configuration)
        try await gitlab.createProject(path: "platform/deploy", files: files)
        return GitLabHarness(gitlab: gitlab, client: HTTPClient())
    }

    func stop() async {
        client.shutdown()
        await gitlab.shutdown()
    }

    static let sleepInfo = """
        apiVersion: kube-green.com/v1alpha1
        kind: SleepInfo
        metadata: {name: office-hours, namespace: payments}
        spec: {weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "06:00"}

        """

    /// A request to `/api/v4` + `path` with a JSON body (or form text) as `token`'s user.
    func request(_ method: HTTPMethod, _ path: String, token: String? = "bot-token", json: JSONValue? = nil, form: String? = nil, headers extra: HTTPHeaders = [:]) async throws -> Reply {
        var headers = extra
        if let token { headers["PRIVATE-TOKEN"] = token }
        var body: Data?
        if let json {
            headers["Content-Type"] = "application/json"
            body = json.serializedData()
        } else if let form {
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = Data(form.utf8)
        }
        let response = try await client.send(HTTPRequest(method: method, url: gitlab.url + "/api/v4" + path, headers: headers, body: body))
        let text = String(decoding: response.body, as: UTF8.self)
        return Reply(status: response.status, headers: response.headers, body: (try? JSONValue(parsing: response.body)) ?? .null, text: text)
    }

    /// Commits `content` to `path` on a new branch `branch` (from main) as the bot.
    @discardableResult
    func commit(branch: String, path: String = "clusters/staging/payments/sleepinfo.yaml", content: String, start: String? = "main", action: String = "update") async throws -> Reply {
        var body: JSONValue = [
            "branch": .string(branch), "commit_message": .string("Change \(path)"),
            "actions": [["action": .string(action), "file_path": .string(path), "content": .string(content)]],
        ]
        if let start { body["start_branch"] = .string(start) }
        return try await request(.post, "/projects/\(Self.project)/repository/commits", json: body)
    }

    /// Opens a merge request from `branch` into main as the bot.
    func openMergeRequest(_ branch: String, title: String = "Override", extra: JSONValue = .emptyObject) async throws -> Reply {
        var body: JSONValue = ["source_branch": .string(branch), "target_branch": "main", "title": .string(title)]
        for (key, value) in extra.object ?? [:] { body[key] = value }
        return try await request(.post, "/projects/\(Self.project)/merge_requests", json: body)
    }

    /// Lets GitLab's asynchronous mergeability check finish and returns the merge request.
    func waitChecked(_ iid: Int) async throws -> JSONValue {
        await gitlab.finishMergeabilityChecks()
        return try await request(.get, "/projects/\(Self.project)/merge_requests/\(iid)").body
    }
}
