import Foundation
import JSON
import Transport

/// The part of GitLab's REST API v4 the GitOps mode uses, for one project: files, commits,
/// merge requests, approvals. Authenticates with `PRIVATE-TOKEN`.
///
/// ```swift
/// let gitlab = GitLabClient(url: "https://gitlab.example.com", project: "platform/deploy", token: token, http: HTTPClient())
/// let file = try await gitlab.file("clusters/staging/payments/sleepinfo.yaml", ref: "main")
/// ```
public struct GitLabClient: Sendable {
    public let project: String
    private let api: ServiceClient

    public init(url: String, project: String, token: String?, http: HTTPClient, observe: RequestObserver? = nil) {
        self.project = project
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        api = ServiceClient(
            service: .gitlab, baseURL: base + "/api/v4/projects/" + encoded(project), authorization: token.map { ("PRIVATE-TOKEN", $0) },
            tokenVariable: "SANDMAN_GITLAB_TOKEN", http: http, observe: observe
        )
    }

    /// A file of the repository at a ref.
    public struct File: Sendable, Equatable {
        public var content: Data
        /// The last commit that changed the file: sent back with an update so that GitLab refuses
        /// it if the file changed meanwhile.
        public var lastCommitID: String
    }

    /// One action of a commit.
    public struct Action: Sendable {
        public var path: String
        public var content: String
        public var lastCommitID: String?

        public init(update path: String, content: String, lastCommitID: String?) {
            self.path = path
            self.content = content
            self.lastCommitID = lastCommitID
        }
    }

    public struct MergeRequest: Sendable, Equatable {
        public enum State: String, Sendable {
            case opened, closed, merged, locked
        }

        public var iid: Int
        public var state: State
        /// `preparing`, `checking`, `mergeable`, `not_approved`, `conflict`, ...
        public var detailedMergeStatus: String
        public var sourceBranch: String
        /// The head of the source branch.
        public var sha: String
        public var mergeCommitSHA: String?
        public var webURL: String
        /// Auto-merge is set: GitLab merges once the request is mergeable.
        public var autoMerge: Bool

        init(_ value: JSONValue) throws(GitOpsError) {
            guard let iid = value["iid"]?.int, let state = value["state"]?.string.flatMap(State.init(rawValue:)) else {
                throw GitOpsError(service: .gitlab, reason: .unexpected, method: "GET", path: "merge_requests", message: "a merge request without iid or state")
            }
            self.iid = Int(iid)
            self.state = state
            detailedMergeStatus = value["detailed_merge_status"]?.string ?? value["merge_status"]?.string ?? ""
            sourceBranch = value["source_branch"]?.string ?? ""
            sha = value["sha"]?.string ?? ""
            // A merge commit, else the squash commit, else (fast-forward) the source head.
            mergeCommitSHA = value["merge_commit_sha"]?.string ?? value["squash_commit_sha"]?.string ?? (state == .merged ? sha : nil)
            webURL = value["web_url"]?.string ?? ""
            autoMerge = value["merge_when_pipeline_succeeds"]?.bool ?? false
        }

        /// `!42`, as GitLab refers to it.
        public var reference: String { "!\(iid)" }
    }

    public struct Approvals: Sendable, Equatable {
        public var approved: Bool
        public var approvalsRequired: Int
        public var approvalsLeft: Int
        public var approvedBy: [String]
    }

    // MARK: Repository

    /// Checks that the project exists and the token may read it.
    public func checkProject() async throws(GitOpsError) {
        _ = try await api.send(.get, "", call: "get_project")
    }

    /// A file at `ref`; nil when the file (or the ref) does not exist.
    public func file(_ path: String, ref: String) async throws(GitOpsError) -> File? {
        let value: JSONValue
        do {
            value = try await api.send(.get, "/repository/files/\(encoded(path))?ref=\(encoded(ref))", call: "get_file")
        } catch where error.reason == .notFound {
            return nil
        }
        guard let base64 = value["content"]?.string, let content = Data(base64Encoded: base64.filter { !$0.isNewline }),
              let lastCommitID = value["last_commit_id"]?.string
        else {
            throw GitOpsError(service: .gitlab, reason: .unexpected, method: "GET", path: "/repository/files/\(encoded(path))", message: "no base64 content or last_commit_id")
        }
        return File(content: content, lastCommitID: lastCommitID)
    }

    public func branchExists(_ name: String) async throws(GitOpsError) -> Bool {
        do {
            _ = try await api.send(.get, "/repository/branches/\(encoded(name))", call: "get_branch")
            return true
        } catch where error.reason == .notFound {
            return false
        }
    }

    /// Commits `actions` to `branch`, creating it from `startBranch` when given; returns the commit id.
    public func commit(branch: String, startBranch: String?, message: String, actions: [Action]) async throws(GitOpsError) -> String {
        var body: JSONValue = [
            "branch": .string(branch), "commit_message": .string(message),
            "actions": .array(actions.map { action in
                var item: JSONValue = ["action": "update", "file_path": .string(action.path), "content": .string(action.content)]
                if let last = action.lastCommitID { item["last_commit_id"] = .string(last) }
                return item
            }),
        ]
        if let startBranch { body["start_branch"] = .string(startBranch) }
        let value = try await api.send(.post, "/repository/commits", call: "create_commit", body: body)
        guard let id = value["id"]?.string else {
            throw GitOpsError(service: .gitlab, reason: .unexpected, method: "POST", path: "/repository/commits", message: "no commit id")
        }
        return id
    }

    public func deleteBranch(_ name: String) async throws(GitOpsError) {
        _ = try await api.send(.delete, "/repository/branches/\(encoded(name))", call: "delete_branch")
    }

    // MARK: Merge requests

    /// Open merge requests with all of `labels`.
    public func openMergeRequests(labels: [String]) async throws(GitOpsError) -> [MergeRequest] {
        var path = "/merge_requests?state=opened&per_page=100"
        if !labels.isEmpty { path += "&labels=\(encoded(labels.joined(separator: ",")))" }
        return try await list(path)
    }

    /// The merge requests (any state) from `branch`, newest first.
    public func mergeRequests(sourceBranch branch: String) async throws(GitOpsError) -> [MergeRequest] {
        try await list("/merge_requests?source_branch=\(encoded(branch))&per_page=100")
    }

    private func list(_ path: String) async throws(GitOpsError) -> [MergeRequest] {
        let value = try await api.send(.get, path, call: "list_merge_requests")
        var requests: [MergeRequest] = []
        for item in value.array ?? [] { requests.append(try MergeRequest(item)) }
        return requests
    }

    public func createMergeRequest(
        sourceBranch: String, targetBranch: String, title: String, description: String, labels: [String]
    ) async throws(GitOpsError) -> MergeRequest {
        let body: JSONValue = [
            "source_branch": .string(sourceBranch), "target_branch": .string(targetBranch), "title": .string(title),
            "description": .string(description), "labels": .string(labels.joined(separator: ",")), "remove_source_branch": true,
        ]
        return try MergeRequest(try await api.send(.post, "/merge_requests", call: "create_merge_request", body: body))
    }

    public func mergeRequest(_ iid: Int) async throws(GitOpsError) -> MergeRequest {
        try MergeRequest(try await api.send(.get, "/merge_requests/\(iid)", call: "get_merge_request"))
    }

    public func updateMergeRequest(_ iid: Int, title: String, description: String) async throws(GitOpsError) {
        _ = try await api.send(.put, "/merge_requests/\(iid)", call: "update_merge_request", body: ["title": .string(title), "description": .string(description)])
    }

    /// Merges (with `autoMerge`, or sets it to merge once mergeable); `sha` must be the source head.
    public func merge(_ iid: Int, sha: String, autoMerge: Bool) async throws(GitOpsError) -> MergeRequest {
        let body: JSONValue = ["sha": .string(sha), "should_remove_source_branch": true, "auto_merge": .bool(autoMerge)]
        return try MergeRequest(try await api.send(.put, "/merge_requests/\(iid)/merge", call: "merge", body: body))
    }

    public func approvals(_ iid: Int) async throws(GitOpsError) -> Approvals {
        let value = try await api.send(.get, "/merge_requests/\(iid)/approvals", call: "get_approvals")
        return Approvals(
            approved: value["approved"]?.bool ?? false, approvalsRequired: Int(value["approvals_required"]?.int ?? 0),
            approvalsLeft: Int(value["approvals_left"]?.int ?? 0),
            approvedBy: (value["approved_by"]?.array ?? []).compactMap { $0[path: ["user", "username"]]?.string }
        )
    }

    public func close(_ iid: Int) async throws(GitOpsError) {
        _ = try await api.send(.put, "/merge_requests/\(iid)", call: "update_merge_request", body: ["state_event": "close"])
    }

    public func addNote(_ iid: Int, _ text: String) async throws(GitOpsError) {
        _ = try await api.send(.post, "/merge_requests/\(iid)/notes", call: "create_note", body: ["body": .string(text)])
    }
}
