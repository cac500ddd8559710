import Foundation
import JSON

/// Maps `/api/v4/...` paths and methods to the store's operations, reading parameters as Grape
/// declares them for each endpoint.
struct Router {
    let store: GitLabStore
    let method: String
    let user: User?
    let parameters: Parameters

    /// The route's pattern for the request counters, values replaced by their names:
    /// `PUT /projects/:id/merge_requests/:iid/merge`.
    static func pattern(method: String, path: [String]) -> String {
        guard path.count >= 2, path[0] == "projects" else { return "\(method) /" + path.joined(separator: "/") }
        let rest = Array(path.dropFirst(2))
        return "\(method) /projects/:id" + (rest.isEmpty ? "" : "/" + pattern(rest).joined(separator: "/"))
    }

    func route(_ path: [String]) async throws(GitLabError) -> Reply {
        if path == ["user"], method == "GET" {
            guard let user else { throw .unauthorized }
            return .json(await store.userEntity(user))
        }
        guard path.count >= 2, path[0] == "projects" else { throw .noRoute }
        guard let user else {
            // Projects are private: without credentials GitLab hides them (404) and refuses writes (401).
            throw method == "GET" ? .notFound("Project") : .unauthorized
        }
        return try await projectRoute(path[1], Array(path.dropFirst(2)), user: user)
    }

    /// `repository/files/:file_path/raw` for the counters, with values replaced by their names.
    static func pattern(_ rest: [String]) -> [String] {
        let names = [
            "branches": ":branch", "files": ":file_path", "commits": ":sha", "merge_requests": ":iid", "hooks": ":hook_id",
            "protected_branches": ":name",
        ]
        var result: [String] = []
        for (index, segment) in rest.enumerated() {
            if index > 0, let name = names[rest[index - 1]] {
                result.append(name)
            } else {
                result.append(segment)
            }
        }
        return result
    }

    private func projectRoute(_ project: String, _ rest: [String], user: User) async throws(GitLabError) -> Reply {
        switch (method, rest.first) {
        case ("GET", nil):
            return .json(try await store.projectEntity(project))
        case (_, "repository"):
            return try await repositoryRoute(project, Array(rest.dropFirst()), user: user)
        case (_, "merge_requests"):
            return try await mergeRequestRoute(project, Array(rest.dropFirst()), user: user)
        case (_, "hooks"):
            return try await hookRoute(project, Array(rest.dropFirst()))
        case ("GET", "approvals") where rest.count == 1:
            return .json(try await store.projectApprovals(project))
        case ("GET", "protected_branches") where rest.count == 2:
            return .json(try await store.protectedBranch(project, name: rest[1]))
        case ("DELETE", "protected_branches") where rest.count == 2:
            try await store.unprotectBranch(project, name: rest[1])
            return .noContent
        case ("GET", "protected_branches") where rest.count == 1:
            return .list(try await store.protectedBranches(project))
        case ("POST", "protected_branches") where rest.count == 1:
            try parameters.require("name")
            return .json(try await store.protectBranch(project, name: try parameters.required("name")), status: 201)
        case ("GET", "approval_rules") where rest.count == 1:
            return .list(try await store.approvalRules(project))
        case ("POST", "approval_rules") where rest.count == 1:
            try parameters.require("name", "approvals_required")
            return .json(try await store.addApprovalRule(
                project, name: try parameters.required("name"), approvalsRequired: try parameters.int("approvals_required") ?? 0,
                usernames: parameters.strings("usernames") ?? [], userIDs: try parameters.ints("user_ids") ?? [],
                protectedBranchIDs: try parameters.ints("protected_branch_ids") ?? [],
                appliesToAllProtectedBranches: try parameters.bool("applies_to_all_protected_branches") ?? false
            ), status: 201)
        default:
            throw .noRoute
        }
    }

    private func repositoryRoute(_ project: String, _ rest: [String], user: User) async throws(GitLabError) -> Reply {
        switch (method, rest.first, rest.count) {
        case ("GET", "branches", 1):
            return .list(try await store.branches(project, search: parameters.nonEmptyString("search")))
        case ("POST", "branches", 1):
            try parameters.require("branch", "ref")
            return .json(try await store.createBranch(project, name: try parameters.required("branch"), ref: try parameters.required("ref")), status: 201)
        case ("GET", "branches", 2):
            return .json(try await store.branch(project, name: rest[1]))
        case ("DELETE", "branches", 2):
            try await store.deleteBranch(project, name: rest[1])
            return .noContent
        case ("GET", "tree", 1):
            let recursive = try parameters.bool("recursive") ?? false
            return .list(try await store.tree(project, path: parameters.nonEmptyString("path"), ref: parameters.nonEmptyString("ref"), recursive: recursive))
        case ("GET", "files", 3) where rest[2] == "raw":
            return .raw(try await store.rawFile(project, path: rest[1], ref: parameters.nonEmptyString("ref")))
        case ("GET", "files", 2):
            try parameters.require("ref")
            return .json(try await store.file(project, path: rest[1], ref: try parameters.required("ref")))
        case ("POST", "files", 2), ("PUT", "files", 2), ("DELETE", "files", 2):
            return try await singleFile(project, path: rest[1], user: user)
        case ("GET", "commits", 1):
            return .list(try await store.commits(project, ref: parameters.nonEmptyString("ref_name"), path: parameters.nonEmptyString("path")))
        case ("POST", "commits", 1):
            try parameters.require("branch", "commit_message", "actions")
            let result = try await store.createCommit(
                project, branch: try parameters.required("branch"), startBranch: parameters.nonEmptyString("start_branch"),
                message: try parameters.required("commit_message"), actions: try Self.actions(parameters["actions"]), author: user
            )
            return .json(await store.commitEntity(result.project, result.commit, detail: true), status: 201)
        case ("GET", "commits", 2):
            return .json(try await store.commitDetail(project, sha: rest[1]))
        default:
            throw .noRoute
        }
    }

    /// The single-file endpoints (`POST`/`PUT`/`DELETE /repository/files/:file_path`): one-action commits.
    private func singleFile(_ project: String, path: String, user: User) async throws(GitLabError) -> Reply {
        let action: FileAction
        switch method {
        case "DELETE":
            try parameters.require("branch", "commit_message")
            action = .delete(path: path, lastCommitID: parameters.nonEmptyString("last_commit_id"))
        default:
            try parameters.require("branch", "commit_message", "content")
            let data = try Self.content(parameters.string("content"), encoding: parameters.string("encoding"), field: "content")
            action = method == "POST" ? .create(path: path, data: data) : .update(path: path, data: data, lastCommitID: parameters.nonEmptyString("last_commit_id"))
        }
        let branch = try parameters.required("branch")
        _ = try await store.createCommit(
            project, branch: branch, startBranch: parameters.nonEmptyString("start_branch"),
            message: try parameters.required("commit_message"), actions: [action], author: user, singleFileMessages: true
        )
        if method == "DELETE" { return .noContent }
        return .json(["file_path": .string(path), "branch": .string(branch)], status: method == "POST" ? 201 : 200)
    }

    private func mergeRequestRoute(_ project: String, _ rest: [String], user: User) async throws(GitLabError) -> Reply {
        if rest.isEmpty {
            switch method {
            case "GET": return .list(try await store.mergeRequests(project, parameters))
            case "POST": return .json(try await store.createMergeRequest(project, parameters, author: user), status: 201)
            default: throw .noRoute
            }
        }
        guard let iid = Int(rest[0]) else { throw .invalid("merge_request_iid is invalid") }
        switch (method, rest.count > 1 ? rest[1] : nil, rest.count) {
        case ("GET", nil, 1):
            return .json(try await store.mergeRequestEntity(project, iid: iid))
        case ("PUT", nil, 1):
            return .json(try await store.updateMergeRequest(project, iid: iid, parameters, user: user))
        case ("PUT", "merge", 2):
            return .json(try await store.merge(project, iid: iid, parameters, user: user))
        case ("POST", "approve", 2):
            return .json(try await store.approve(project, iid: iid, sha: parameters.nonEmptyString("sha"), user: user, approve: true), status: 201)
        case ("POST", "unapprove", 2):
            return .json(try await store.approve(project, iid: iid, sha: nil, user: user, approve: false), status: 201)
        case ("GET", "approvals", 2):
            return .json(try await store.approvals(project, iid: iid, user: user))
        case ("GET", "commits", 2):
            return .list(try await store.mergeRequestCommits(project, iid: iid))
        case ("GET", "notes", 2):
            return .list(try await store.notes(project, iid: iid))
        case ("POST", "notes", 2):
            return .json(try await store.addNote(project, iid: iid, body: parameters.string("body"), user: user), status: 201)
        default:
            throw .noRoute
        }
    }

    private func hookRoute(_ project: String, _ rest: [String]) async throws(GitLabError) -> Reply {
        switch (method, rest.count) {
        case ("GET", 0):
            return .list(try await store.hooks(project))
        case ("POST", 0):
            try parameters.require("url")
            let url = try parameters.required("url")
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw .messages(422, ["Url is blocked: Only allowed schemes are http, https"])
            }
            return .json(try await store.addHook(
                project, url: url, token: parameters.nonEmptyString("token"),
                mergeRequestsEvents: try parameters.bool("merge_requests_events") ?? false, pushEvents: try parameters.bool("push_events") ?? true
            ), status: 201)
        case ("GET", 1):
            guard let id = Int(rest[0]) else { throw .invalid("hook_id is invalid") }
            return .json(try await store.hook(project, id: id))
        case ("DELETE", 1):
            guard let id = Int(rest[0]) else { throw .invalid("hook_id is invalid") }
            try await store.deleteHook(project, id: id)
            return .noContent
        default:
            throw .noRoute
        }
    }

    // MARK: Commit actions

    /// `actions[]` of `POST /repository/commits`, validated as Grape declares them.
    static func actions(_ value: JSONValue?) throws(GitLabError) -> [FileAction] {
        guard let items = value?.array else { throw .invalid("actions is invalid") }
        guard !items.isEmpty else { throw .invalid("actions is empty") }
        var actions: [FileAction] = []
        for (index, item) in items.enumerated() {
            let field = "actions[\(index)]"
            guard item.object != nil else { throw .invalid("\(field) is invalid") }
            guard let kind = item["action"]?.string else { throw .missing(["\(field)[action]"]) }
            guard ["create", "update", "move", "delete", "chmod"].contains(kind) else { throw .invalid("\(field)[action] does not have a valid value") }
            guard let path = item["file_path"]?.string else { throw .missing(["\(field)[file_path]"]) }
            let encoding = item["encoding"]?.string
            if let encoding, !["text", "base64"].contains(encoding) { throw .invalid("\(field)[encoding] does not have a valid value") }
            let last = item["last_commit_id"]?.string
            switch kind {
            case "create":
                actions.append(.create(path: path, data: try content(item["content"]?.string ?? "", encoding: encoding, field: "\(field)[content]")))
            case "update":
                actions.append(.update(path: path, data: try content(item["content"]?.string ?? "", encoding: encoding, field: "\(field)[content]"), lastCommitID: last))
            case "delete":
                actions.append(.delete(path: path, lastCommitID: last))
            case "move":
                guard let previous = item["previous_path"]?.string else { throw .missing(["\(field)[previous_path]"]) }
                let data = try item["content"]?.string.map { text throws(GitLabError) in try content(text, encoding: encoding, field: "\(field)[content]") }
                actions.append(.move(from: previous, to: path, data: data, lastCommitID: last))
            default:
                // chmod changes only the execute bit, which the simulator does not keep.
                continue
            }
        }
        return actions
    }

    static func content(_ text: String?, encoding: String?, field: String) throws(GitLabError) -> Data {
        let text = text ?? ""
        guard encoding == "base64" else { return Data(text.utf8) }
        guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else { throw .badRequest("\(field) is not valid base64") }
        return data
    }
}
