import Foundation
import JSON

/// Merge requests: create, list, update, close, approve, merge, notes (GitLab's `API::MergeRequests`
/// and `API::MergeRequestApprovals`).
extension GitLabStore {
    /// GitLab's `detailed_merge_status`, in its precedence order.
    enum MergeStatus: String, Sendable {
        case notOpen = "not_open", preparing, checking, unchecked
        case draft = "draft_status", broken = "broken_status", conflict, notApproved = "not_approved", mergeable

        /// The deprecated `merge_status` field.
        var legacy: String {
            switch self {
            case .preparing: "preparing"
            case .checking: "checking"
            case .unchecked: "unchecked"
            case .conflict, .broken: "cannot_be_merged"
            default: "can_be_merged"
            }
        }
    }

    /// The merge request with its mergeability re-checked when the asynchronous check is due.
    func mergeRequest(in project: inout Project, iid: Int) throws(GitLabError) -> MergeRequest {
        guard var request = project.mergeRequests[iid] else { throw .notFound() }
        if request.state == .opened, ContinuousClock.now >= request.checkDone {
            request.hasConflicts = conflicts(project, request)
            request.everChecked = true
            request.unchecked = false
            project.mergeRequests[iid] = request
            update(project)
        }
        return request
    }

    /// Lets every pending mergeability check finish now (tests wait on it instead of the clock).
    func finishChecks() {
        for (id, var project) in projects {
            for (iid, var request) in project.mergeRequests where request.checkDone > ContinuousClock.now {
                request.checkDone = ContinuousClock.now
                project.mergeRequests[iid] = request
            }
            projects[id] = project
        }
        runDueAutoMerges()
    }

    /// Merges the merge requests set to auto-merge that have become mergeable (a check finished,
    /// an approval arrived), as GitLab's auto-merge process does in the background.
    func runDueAutoMerges() {
        for id in projects.keys.sorted() {
            for iid in (projects[id]?.mergeRequests.keys.sorted() ?? []) {
                guard var project = projects[id], let pending = project.mergeRequests[iid], pending.state == .opened,
                      let mergeUser = pending.autoMergeBy, let request = try? mergeRequest(in: &project, iid: iid),
                      status(project, request) == .mergeable
                else { continue }
                _ = try? performMerge(&project, request, user: mergeUser, message: nil, removeSource: nil)
            }
        }
    }

    func status(_ project: Project, _ request: MergeRequest) -> MergeStatus {
        guard request.state == .opened else { return .notOpen }
        if ContinuousClock.now < request.checkDone {
            return request.unchecked ? .unchecked : (request.everChecked ? .checking : .preparing)
        }
        if request.isDraft { return .draft }
        if project.repository.branches[request.sourceBranch] == nil || project.repository.branches[request.targetBranch] == nil { return .broken }
        if request.hasConflicts { return .conflict }
        if approvalsMissing(project, request) { return .notApproved }
        return .mergeable
    }

    func approvalsMissing(_ project: Project, _ request: MergeRequest) -> Bool {
        project.approvalsLeft(target: request.targetBranch, author: request.author, approvers: request.approvedBy).contains { $0.left > 0 }
    }

    private func conflicts(_ project: Project, _ request: MergeRequest) -> Bool {
        guard let target = project.repository.branches[request.targetBranch] else { return false }
        if case .failure = project.repository.mergedTree(source: request.sha, target: target) { return true }
        return false
    }

    // MARK: Create, read, update

    func createMergeRequest(_ reference: String, _ parameters: Parameters, author: User) throws(GitLabError) -> JSONValue {
        try parameters.require("title", "source_branch", "target_branch")
        var project = try project(reference)
        let source = try parameters.required("source_branch"), target = try parameters.required("target_branch")
        let title = try parameters.required("title")
        guard source != target else { throw .messages(422, ["You can't use same project/branch for source and target"]) }
        guard project.repository.branches[source] != nil else { throw .messages(422, ["Source branch \"\(source)\" does not exist"]) }
        guard project.repository.branches[target] != nil else { throw .messages(422, ["Target branch \"\(target)\" does not exist"]) }
        if let existing = project.mergeRequests.values.first(where: { $0.state == .opened && $0.sourceBranch == source && $0.targetBranch == target }) {
            throw .messages(409, ["Another open merge request already exists for this source branch: !\(existing.iid)"])
        }
        let iid = project.nextMergeRequestIID
        project.nextMergeRequestIID += 1
        let now = Date()
        var request = MergeRequest(
            id: makeID(), iid: iid, title: title, description: parameters.string("description") ?? "",
            sourceBranch: source, targetBranch: target, author: author, createdAt: now, updatedAt: now,
            sha: project.repository.branches[source]!, checkDone: ContinuousClock.now + settings.mergeabilityCheckDelay
        )
        request.labels = parameters.strings("labels") ?? []
        request.forceRemoveSourceBranch = try parameters.bool("remove_source_branch") ?? false
        project.mergeRequests[iid] = request
        update(project)
        emit(project: project, request: request, action: "open", user: author)
        return mergeRequestEntity(project, request)
    }

    func mergeRequests(_ reference: String, _ parameters: Parameters) throws(GitLabError) -> [JSONValue] {
        var project = try project(reference)
        let state = parameters.string("state") ?? "all"
        guard ["opened", "closed", "locked", "merged", "all"].contains(state) else { throw .invalid("state does not have a valid value") }
        let orderBy = parameters.string("order_by") ?? "created_at"
        guard ["created_at", "updated_at", "title", "merged_at"].contains(orderBy) else { throw .invalid("order_by does not have a valid value") }
        let sort = parameters.string("sort") ?? "desc"
        guard ["asc", "desc"].contains(sort) else { throw .invalid("sort does not have a valid value") }
        let labels = parameters.strings("labels")
        let iids = try parameters.ints("iids")
        let search = parameters.nonEmptyString("search")?.lowercased()
        var selected: [MergeRequest] = []
        for iid in project.mergeRequests.keys.sorted() {
            let request = try mergeRequest(in: &project, iid: iid)
            if state != "all", request.state.rawValue != state { continue }
            if let source = parameters.string("source_branch"), request.sourceBranch != source { continue }
            if let target = parameters.string("target_branch"), request.targetBranch != target { continue }
            if let author = parameters.string("author_username"), request.author.username != author { continue }
            if let iids, !iids.contains(iid) { continue }
            if let search, !request.title.lowercased().contains(search), !request.description.lowercased().contains(search) { continue }
            if let labels {
                if labels.map({ $0.lowercased() }) == ["none"] {
                    guard request.labels.isEmpty else { continue }
                } else if labels.map({ $0.lowercased() }) == ["any"] {
                    guard !request.labels.isEmpty else { continue }
                } else if !labels.allSatisfy({ label in request.labels.contains { $0.caseInsensitiveCompare(label) == .orderedSame } }) {
                    continue
                }
            }
            selected.append(request)
        }
        selected.sort { first, second in
            let ascending: Bool
            switch orderBy {
            case "updated_at": ascending = (first.updatedAt, first.id) < (second.updatedAt, second.id)
            case "title": ascending = (first.title, first.id) < (second.title, second.id)
            case "merged_at": ascending = (first.mergedAt ?? .distantPast, first.id) < (second.mergedAt ?? .distantPast, second.id)
            default: ascending = (first.createdAt, first.id) < (second.createdAt, second.id)
            }
            return sort == "asc" ? ascending : !ascending
        }
        return selected.map { mergeRequestEntity(project, $0) }
    }

    func mergeRequestEntity(_ reference: String, iid: Int) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        let request = try mergeRequest(in: &project, iid: iid)
        return mergeRequestEntity(project, request)
    }

    /// Grape's `at_least_one_of` list for `PUT /merge_requests/:iid`.
    static let updatableParameters = [
        "assignee_id", "assignee_ids", "reviewer_ids", "description", "labels", "add_labels", "remove_labels", "milestone_id",
        "remove_source_branch", "allow_collaboration", "allow_maintainer_to_push", "squash", "target_branch", "title",
        "state_event", "discussion_locked", "merge_after",
    ]

    func updateMergeRequest(_ reference: String, iid: Int, _ parameters: Parameters, user: User) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        var request = try mergeRequest(in: &project, iid: iid)
        guard Self.updatableParameters.contains(where: { parameters[$0] != nil }) else {
            throw .invalid("\(Self.updatableParameters.joined(separator: ", ")) are missing, at least one parameter must be provided")
        }
        var action = "update"
        if let event = parameters.string("state_event") {
            switch (event, request.state) {
            case ("close", .opened):
                request.state = .closed
                request.closedAt = Date()
                request.closedBy = user
                request.autoMergeBy = nil
                action = "close"
            case ("reopen", .closed):
                request.state = .opened
                request.closedAt = nil
                request.closedBy = nil
                request.checkDone = ContinuousClock.now + settings.mergeabilityCheckDelay
                action = "reopen"
            case ("close", _), ("reopen", _):
                break
            default:
                throw .invalid("state_event does not have a valid value")
            }
        }
        if let title = parameters.string("title") {
            guard !title.isEmpty else { throw .invalid("title is empty") }
            request.title = title
        }
        if let description = parameters.string("description") { request.description = description }
        if let labels = parameters.strings("labels") { request.labels = labels }
        for label in parameters.strings("add_labels") ?? [] where !request.labels.contains(label) { request.labels.append(label) }
        if let removed = parameters.strings("remove_labels") { request.labels.removeAll { removed.contains($0) } }
        if let remove = try parameters.bool("remove_source_branch") { request.forceRemoveSourceBranch = remove }
        if let target = parameters.string("target_branch"), target != request.targetBranch {
            guard project.repository.branches[target] != nil else { throw .messages(422, ["Target branch \"\(target)\" does not exist"]) }
            request.targetBranch = target
            request.checkDone = ContinuousClock.now + settings.mergeabilityCheckDelay
        }
        request.updatedAt = Date()
        project.mergeRequests[iid] = request
        update(project)
        emit(project: project, request: request, action: action, user: user)
        return mergeRequestEntity(project, request)
    }

    // MARK: Merge

    /// `PUT /merge_requests/:iid/merge`, in the order GitLab checks: open and mergeable (405),
    /// conflicts found at merge time (`conflictStatus`), `sha` (409); with `auto_merge` a merge
    /// request that only lacks approvals is set to merge once approved.
    func merge(_ reference: String, iid: Int, _ parameters: Parameters, user: User) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        var request = try mergeRequest(in: &project, iid: iid)
        let autoMerge = try parameters.bool("auto_merge") ?? false
        let whenPipelineSucceeds = try parameters.bool("merge_when_pipeline_succeeds") ?? false
        let automatic = autoMerge || whenPipelineSucceeds
        let removeSource = try parameters.bool("should_remove_source_branch")
        let status = status(project, request)
        switch status {
        case .notOpen, .preparing, .checking, .draft, .broken, .conflict:
            throw .methodNotAllowed
        case .notApproved where !automatic:
            throw .methodNotAllowed
        case .unchecked:
            if approvalsMissing(project, request), !automatic { throw .methodNotAllowed }
            if conflicts(project, request) { throw .message(settings.conflictStatus, "Branch cannot be merged") }
        default:
            break
        }
        if let sha = parameters.string("sha"), sha != request.sha {
            throw .conflict("SHA does not match HEAD of source branch: \(request.sha)")
        }
        if approvalsMissing(project, request) {
            request.autoMergeBy = user
            request.updatedAt = Date()
            project.mergeRequests[iid] = request
            update(project)
            return mergeRequestEntity(project, request)
        }
        let merged = try performMerge(&project, request, user: user, message: parameters.string("merge_commit_message"), removeSource: removeSource)
        return mergeRequestEntity(project, merged)
    }

    private func performMerge(_ project: inout Project, _ original: MergeRequest, user: User, message: String?, removeSource: Bool?) throws(GitLabError) -> MergeRequest {
        var request = original
        guard let target = project.repository.branches[request.targetBranch],
              case .success(let tree) = project.repository.mergedTree(source: request.sha, target: target)
        else { throw .message(settings.conflictStatus, "Branch cannot be merged") }
        let text = message ?? "Merge branch '\(request.sourceBranch)' into '\(request.targetBranch)'\n\n\(request.title)\n\nSee merge request \(project.path)!\(request.iid)"
        let commit = project.repository.makeCommit(tree: tree, parents: [target, request.sha], message: text, authorName: user.name, authorEmail: user.email, date: Date())
        project.repository.setBranch(request.targetBranch, to: commit.sha)
        request.state = .merged
        request.mergedAt = Date()
        request.updatedAt = request.mergedAt!
        request.mergedBy = user
        request.mergeCommitSHA = commit.sha
        request.autoMergeBy = nil
        if removeSource ?? request.forceRemoveSourceBranch, request.sourceBranch != project.repository.defaultBranch, !project.isProtected(request.sourceBranch) {
            project.repository.deleteBranch(request.sourceBranch)
        }
        project.mergeRequests[request.iid] = request
        update(project)
        emit(project: project, request: request, action: "merge", user: user)
        branchMoved(projectID: project.id, branch: request.targetBranch, by: user)
        project = projects[project.id]!
        return request
    }

    // MARK: Approvals

    func approve(_ reference: String, iid: Int, sha: String?, user: User, approve: Bool) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        var request = try mergeRequest(in: &project, iid: iid)
        let already = request.approvedBy.contains { $0.id == user.id }
        if approve {
            guard request.state == .opened, request.author.id != user.id, !already else { throw .unauthorized }
            if let sha, sha != request.sha { throw .conflict("SHA does not match HEAD of source branch: \(request.sha)") }
            request.approvedBy.append(user)
        } else {
            guard already else { throw .message(404, "404 Not Found") }
            request.approvedBy.removeAll { $0.id == user.id }
        }
        request.updatedAt = Date()
        project.mergeRequests[iid] = request
        update(project)
        let fullyApproved = !project.rules(for: request.targetBranch).isEmpty && !approvalsMissing(project, request)
        emit(project: project, request: request, action: approve ? "approval" : "unapproval", user: user)
        if approve, fullyApproved { emit(project: project, request: request, action: "approved", user: user) }
        if !approve, !fullyApproved, !project.rules(for: request.targetBranch).isEmpty {
            emit(project: project, request: request, action: "unapproved", user: user)
        }
        if approve, request.autoMergeBy != nil {
            runDueAutoMerges()
            project = projects[project.id]!
            request = project.mergeRequests[iid] ?? request
        }
        return approvalState(project, request, user: user)
    }

    func approvals(_ reference: String, iid: Int, user: User) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        let request = try mergeRequest(in: &project, iid: iid)
        return approvalState(project, request, user: user)
    }

    /// The commits of the source branch not yet on the target branch, newest first.
    func mergeRequestCommits(_ reference: String, iid: Int) throws(GitLabError) -> [JSONValue] {
        var project = try project(reference)
        let request = try mergeRequest(in: &project, iid: iid)
        let target = project.repository.branches[request.targetBranch]
        let merged = Set(target.map { project.repository.history(from: $0).map(\.sha) } ?? [])
        let head = request.state == .merged ? (project.repository.commits[request.mergeCommitSHA ?? ""]?.parents.last ?? request.sha) : request.sha
        let base = Set(project.repository.commits[request.mergeCommitSHA ?? ""].map { commit in
            commit.parents.first.map { project.repository.history(from: $0).map(\.sha) } ?? []
        } ?? Array(merged))
        return project.repository.history(from: head).filter { !base.contains($0.sha) }.map { commitEntity(project, $0) }
    }

    // MARK: Notes

    func addNote(_ reference: String, iid: Int, body: String?, user: User) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        var request = try mergeRequest(in: &project, iid: iid)
        guard let body else { throw .missing(["body"]) }
        guard !body.isEmpty else { throw .invalid("body is empty") }
        let note = MergeRequest.Note(id: makeID(), body: body, author: user, createdAt: Date(), system: false)
        request.notes.append(note)
        project.mergeRequests[iid] = request
        update(project)
        return noteEntity(project, request, note)
    }

    func notes(_ reference: String, iid: Int) throws(GitLabError) -> [JSONValue] {
        var project = try project(reference)
        let request = try mergeRequest(in: &project, iid: iid)
        return request.notes.reversed().map { noteEntity(project, request, $0) }
    }
}
