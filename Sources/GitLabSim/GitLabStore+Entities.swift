import Foundation
import JSON

/// The JSON GitLab answers with (its `API::Entities`), with the fields clients read.
extension GitLabStore {
    static func timestamp(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }

    func userEntity(_ user: User) -> JSONValue {
        [
            "id": .int(Int64(user.id)), "username": .string(user.username), "name": .string(user.name), "state": "active",
            "locked": false, "avatar_url": .null, "web_url": .string("\(baseURL)/\(user.username)"),
        ]
    }

    func webURL(_ project: Project) -> String { "\(baseURL)/\(project.path)" }

    func entity(_ project: Project) -> JSONValue {
        let web = webURL(project)
        let host = URL(string: baseURL)?.host ?? "gitlab.invalid"
        return [
            "id": .int(Int64(project.id)), "description": .null, "name": .string(project.name),
            "name_with_namespace": .string(project.path.split(separator: "/").joined(separator: " / ")),
            "path": .string(project.name), "path_with_namespace": .string(project.path),
            "created_at": Self.timestamp(project.createdAt),
            "default_branch": project.repository.isEmpty ? .null : .string(project.repository.defaultBranch),
            "tag_list": [], "topics": [], "ssh_url_to_repo": .string("git@\(host):\(project.path).git"),
            "http_url_to_repo": .string("\(web).git"), "web_url": .string(web), "readme_url": .null, "avatar_url": .null,
            "forks_count": 0, "star_count": 0, "last_activity_at": Self.timestamp(project.createdAt),
            "namespace": [
                "id": .int(Int64(project.id)), "name": .string(project.namespace), "path": .string(project.namespace),
                "kind": "group", "full_path": .string(project.namespace), "parent_id": .null, "avatar_url": .null,
                "web_url": .string("\(baseURL)/groups/\(project.namespace)"),
            ],
            "visibility": "private", "empty_repo": .bool(project.repository.isEmpty), "archived": false,
            "merge_method": "merge", "squash_option": "default_off", "merge_requests_enabled": true,
            "only_allow_merge_if_pipeline_succeeds": false, "remove_source_branch_after_merge": true,
            "_links": [
                "self": .string("\(baseURL)/api/v4/projects/\(project.id)"),
                "merge_requests": .string("\(baseURL)/api/v4/projects/\(project.id)/merge_requests"),
                "repo_branches": .string("\(baseURL)/api/v4/projects/\(project.id)/repository/branches"),
            ],
        ]
    }

    func commitEntity(_ project: Project, _ commit: Commit, detail: Bool = false) -> JSONValue {
        var value: JSONValue = [
            "id": .string(commit.sha), "short_id": .string(commit.shortID), "created_at": Self.timestamp(commit.date),
            "parent_ids": .array(commit.parents.map(JSONValue.string)), "title": .string(commit.title),
            "message": .string(commit.message), "author_name": .string(commit.authorName),
            "author_email": .string(commit.authorEmail), "authored_date": Self.timestamp(commit.date),
            "committer_name": .string(commit.authorName), "committer_email": .string(commit.authorEmail),
            "committed_date": Self.timestamp(commit.date), "trailers": .emptyObject, "extended_trailers": .emptyObject,
            "web_url": .string("\(webURL(project))/-/commit/\(commit.sha)"),
        ]
        if detail {
            let parentTree = commit.parents.first.flatMap { project.repository.commits[$0]?.tree } ?? [:]
            let changed = Set(parentTree.keys).union(commit.tree.keys).filter { parentTree[$0] != commit.tree[$0] }.count
            value["stats"] = ["additions": .int(Int64(changed)), "deletions": 0, "total": .int(Int64(changed))]
            value["status"] = .null
            value["project_id"] = .int(Int64(project.id))
            value["last_pipeline"] = .null
        }
        return value
    }

    func branchEntity(_ project: Project, _ name: String) -> JSONValue? {
        guard let commit = project.repository.head(of: name) else { return nil }
        let protected = project.isProtected(name)
        let defaultHead = project.repository.head(of: project.repository.defaultBranch)
        let merged = name != project.repository.defaultBranch && defaultHead.map { project.repository.isAncestor(commit.sha, of: $0.sha) } == true
        return [
            "name": .string(name), "commit": commitEntity(project, commit), "merged": .bool(merged),
            "protected": .bool(protected), "developers_can_push": .bool(!protected), "developers_can_merge": .bool(!protected),
            "can_push": true, "default": .bool(name == project.repository.defaultBranch),
            "web_url": .string("\(webURL(project))/-/tree/\(name)"),
        ]
    }

    func hookEntity(_ project: Project, _ hook: Project.Hook) -> JSONValue {
        [
            "id": .int(Int64(hook.id)), "url": .string(hook.url), "project_id": .int(Int64(project.id)),
            "push_events": .bool(hook.pushEvents), "merge_requests_events": .bool(hook.mergeRequestsEvents),
            "issues_events": false, "tag_push_events": false, "note_events": false, "pipeline_events": false,
            "enable_ssl_verification": true, "created_at": Self.timestamp(hook.createdAt), "alert_status": "executable",
        ]
    }

    func protectedBranchEntity(_ branch: Project.ProtectedBranch) -> JSONValue {
        let maintainers: JSONValue = [["id": .int(Int64(branch.id)), "access_level": 40, "access_level_description": "Maintainers"]]
        return [
            "id": .int(Int64(branch.id)), "name": .string(branch.name), "push_access_levels": maintainers,
            "merge_access_levels": maintainers, "allow_force_push": false, "code_owner_approval_required": false,
        ]
    }

    func approvalRuleEntity(_ project: Project, _ rule: Project.ApprovalRule) -> JSONValue {
        let users = JSONValue.array(rule.users.map(userEntity))
        return [
            "id": .int(Int64(rule.id)), "name": .string(rule.name), "rule_type": "regular", "eligible_approvers": users,
            "approvals_required": .int(Int64(rule.approvalsRequired)), "users": users, "groups": [],
            "contains_hidden_groups": false,
            "protected_branches": .array(project.protectedBranches.filter { rule.protectedBranchIDs.contains($0.id) }.map(protectedBranchEntity)),
            "applies_to_all_protected_branches": .bool(rule.appliesToAllProtectedBranches),
        ]
    }

    func mergeRequestEntity(_ project: Project, _ request: MergeRequest) -> JSONValue {
        let status = status(project, request)
        let reference = "!\(request.iid)"
        var value: JSONValue = [
            "id": .int(Int64(request.id)), "iid": .int(Int64(request.iid)), "project_id": .int(Int64(project.id)),
            "title": .string(request.title), "description": .string(request.description), "state": .string(request.state.rawValue),
            "created_at": Self.timestamp(request.createdAt), "updated_at": Self.timestamp(request.updatedAt),
            "merged_at": Self.timestamp(request.mergedAt), "closed_at": Self.timestamp(request.closedAt),
            "merged_by": request.mergedBy.map(userEntity) ?? .null, "merge_user": (request.mergedBy ?? request.autoMergeBy).map(userEntity) ?? .null,
            "closed_by": request.closedBy.map(userEntity) ?? .null,
            "target_branch": .string(request.targetBranch), "source_branch": .string(request.sourceBranch),
            "source_project_id": .int(Int64(project.id)), "target_project_id": .int(Int64(project.id)),
            "author": userEntity(request.author), "assignees": [], "assignee": .null, "reviewers": [],
            "labels": .array(request.labels.map(JSONValue.string)), "draft": .bool(request.isDraft),
            "work_in_progress": .bool(request.isDraft), "milestone": .null,
            "merge_when_pipeline_succeeds": .bool(request.autoMergeBy != nil),
            "merge_status": .string(status.legacy), "detailed_merge_status": .string(status.rawValue),
            "sha": .string(request.sha), "merge_commit_sha": request.mergeCommitSHA.map(JSONValue.string) ?? .null,
            "squash_commit_sha": .null, "squash": false, "squash_on_merge": false,
            "has_conflicts": .bool(request.hasConflicts), "blocking_discussions_resolved": true,
            "discussion_locked": .null, "should_remove_source_branch": .null,
            "force_remove_source_branch": .bool(request.forceRemoveSourceBranch),
            "user_notes_count": .int(Int64(request.notes.count)), "upvotes": 0, "downvotes": 0,
            "reference": .string(reference),
            "references": ["short": .string(reference), "relative": .string(reference), "full": .string("\(project.path)\(reference)")],
            "web_url": .string("\(webURL(project))/-/merge_requests/\(request.iid)"),
            "time_stats": ["time_estimate": 0, "total_time_spent": 0, "human_time_estimate": .null, "human_total_time_spent": .null],
            "task_completion_status": ["count": 0, "completed_count": 0], "has_ci": false, "head_pipeline": .null, "pipeline": .null,
            "diff_refs": [
                "base_sha": project.repository.branches[request.targetBranch].flatMap { project.repository.mergeBase(request.sha, $0)?.sha }.map(JSONValue.string) ?? .null,
                "head_sha": .string(request.sha), "start_sha": project.repository.branches[request.targetBranch].map(JSONValue.string) ?? .null,
            ],
            "first_contribution": false, "approvals_before_merge": .null,
        ]
        if request.state == .merged { value["merge_status"] = "can_be_merged" }
        return value
    }

    func approvalState(_ project: Project, _ request: MergeRequest, user: User) -> JSONValue {
        let left = project.approvalsLeft(target: request.targetBranch, author: request.author, approvers: request.approvedBy)
        let required = left.map(\.rule.approvalsRequired).reduce(0, +)
        let approved = !left.contains { $0.left > 0 }
        return [
            "id": .int(Int64(request.id)), "iid": .int(Int64(request.iid)), "project_id": .int(Int64(project.id)),
            "title": .string(request.title), "description": .string(request.description), "state": .string(request.state.rawValue),
            "created_at": Self.timestamp(request.createdAt), "updated_at": Self.timestamp(request.updatedAt),
            "merge_status": .string(status(project, request).legacy), "approved": .bool(approved),
            "approvals_required": .int(Int64(required)), "approvals_left": .int(Int64(left.map(\.left).reduce(0, +))),
            "require_password_to_approve": false,
            "approved_by": .array(request.approvedBy.map { ["user": userEntity($0)] }),
            "suggested_approvers": [], "approvers": [], "approver_groups": [],
            "user_has_approved": .bool(request.approvedBy.contains { $0.id == user.id }),
            "user_can_approve": .bool(request.author.id != user.id && !request.approvedBy.contains { $0.id == user.id }),
            "approval_rules_left": .array(left.filter { $0.left > 0 }.map { ["id": .int(Int64($0.rule.id)), "name": .string($0.rule.name), "rule_type": "regular"] }),
            "has_approval_rules": .bool(!left.isEmpty), "merge_request_approvers_available": true,
            "multiple_approval_rules_available": true, "invalid_approvers_rules": [],
        ]
    }

    func noteEntity(_ project: Project, _ request: MergeRequest, _ note: MergeRequest.Note) -> JSONValue {
        [
            "id": .int(Int64(note.id)), "type": .null, "body": .string(note.body), "author": userEntity(note.author),
            "created_at": Self.timestamp(note.createdAt), "updated_at": Self.timestamp(note.createdAt), "system": .bool(note.system),
            "noteable_id": .int(Int64(request.id)), "noteable_type": "MergeRequest", "noteable_iid": .int(Int64(request.iid)),
            "project_id": .int(Int64(project.id)), "resolvable": false, "confidential": false, "internal": false, "attachment": .null,
        ]
    }

    /// The body of a "Merge Request Hook" (GitLab's `Gitlab::DataBuilder::MergeRequest` shape).
    func mergeRequestEvent(_ project: Project, _ request: MergeRequest, action: String, user: User) -> JSONValue {
        let web = webURL(project)
        let entity = mergeRequestEntity(project, request)
        let head = project.repository.commits[request.sha]
        let projectData: JSONValue = [
            "id": .int(Int64(project.id)), "name": .string(project.name), "description": .null, "web_url": .string(web),
            "avatar_url": .null, "git_ssh_url": .string("git@\(URL(string: baseURL)?.host ?? "gitlab.invalid"):\(project.path).git"), "git_http_url": .string("\(web).git"),
            "namespace": .string(project.namespace), "visibility_level": 0, "path_with_namespace": .string(project.path),
            "default_branch": .string(project.repository.defaultBranch), "ci_config_path": .null,
            "homepage": .string(web), "url": .string("\(web).git"), "http_url": .string("\(web).git"),
        ]
        var attributes: JSONValue = [
            "id": .int(Int64(request.id)), "iid": .int(Int64(request.iid)), "title": .string(request.title),
            "description": .string(request.description), "state": .string(request.state.rawValue),
            "source_branch": .string(request.sourceBranch), "target_branch": .string(request.targetBranch),
            "source_project_id": .int(Int64(project.id)), "target_project_id": .int(Int64(project.id)),
            "author_id": .int(Int64(request.author.id)), "assignee_ids": [], "reviewer_ids": [],
            "created_at": Self.timestamp(request.createdAt), "updated_at": Self.timestamp(request.updatedAt),
            "merge_status": entity["merge_status"] ?? .null, "detailed_merge_status": entity["detailed_merge_status"] ?? .null,
            "merge_commit_sha": entity["merge_commit_sha"] ?? .null, "merge_when_pipeline_succeeds": entity["merge_when_pipeline_succeeds"] ?? false,
            "url": entity["web_url"] ?? .null, "source": projectData, "target": projectData,
            "work_in_progress": .bool(request.isDraft), "draft": .bool(request.isDraft),
            "labels": .array(request.labels.map { ["title": .string($0)] }), "blocking_discussions_resolved": true,
            "action": .string(action),
        ]
        if let head {
            attributes["last_commit"] = [
                "id": .string(head.sha), "message": .string(head.message), "title": .string(head.title),
                "timestamp": Self.timestamp(head.date), "url": .string("\(web)/-/commit/\(head.sha)"),
                "author": ["name": .string(head.authorName), "email": .string(head.authorEmail)],
            ]
        }
        return [
            "object_kind": "merge_request", "event_type": "merge_request", "user": userEntity(user), "project": projectData,
            "repository": ["name": .string(project.name), "url": .string("\(web).git"), "description": .null, "homepage": .string(web)],
            "object_attributes": attributes, "labels": .array(request.labels.map { ["title": .string($0)] }), "changes": .emptyObject,
            "assignees": [], "reviewers": [],
        ]
    }
}
