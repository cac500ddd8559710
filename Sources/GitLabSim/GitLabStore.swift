import Foundation
import JSON

/// Everything the simulated GitLab holds, and the operations of its API on it.
actor GitLabStore {
    struct Settings: Sendable {
        var mergeabilityCheckDelay: Duration
        var conflictStatus: Int
    }

    /// Where links in answers point: the server's own URL, known once it listens.
    var baseURL = "http://gitlab.invalid"
    let settings: Settings
    private(set) var users: [String: User] = [:]
    var projects: [Int: Project] = [:]
    private var nextProjectID = 1
    private var nextID = 1
    let webhooks: AsyncStream<WebhookEvent>.Continuation
    private var now: Date { Date() }

    init(settings: Settings, users: [User], webhooks: AsyncStream<WebhookEvent>.Continuation) {
        self.settings = settings
        self.webhooks = webhooks
        for user in users { self.users[user.username] = user }
    }

    func setBaseURL(_ url: String) {
        baseURL = url
    }

    func user(named name: String) -> User? { users[name] }

    func addUser(_ user: User) {
        users[user.username] = user
    }

    /// A fresh id for notes, hooks, rules and merge requests (GitLab's global ids).
    func makeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    // MARK: Projects

    /// Creates a project whose default branch holds `files` as its first commit (none: an empty repository).
    func createProject(path: String, defaultBranch: String, files: [String: Data], author: User) throws(GitLabError) -> Int {
        guard !projects.values.contains(where: { $0.path == path }) else { throw .badRequest("project \(path) already exists") }
        let id = nextProjectID
        nextProjectID += 1
        var repository = Repository(defaultBranch: defaultBranch)
        if !files.isEmpty {
            let commit = repository.makeCommit(
                tree: files.mapValues(Blob.init), parents: [], message: "Initial commit",
                authorName: author.name, authorEmail: author.email, date: now
            )
            repository.setBranch(defaultBranch, to: commit.sha)
        }
        projects[id] = Project(id: id, path: path, repository: repository, createdAt: now)
        return id
    }

    /// A project by numeric id or by its (already decoded) `group/project` path.
    func project(_ reference: String) throws(GitLabError) -> Project {
        if let id = Int(reference), let project = projects[id] { return project }
        if let project = projects.values.first(where: { $0.path.lowercased() == reference.lowercased() }) { return project }
        throw .notFound("Project")
    }

    func update(_ project: Project) {
        projects[project.id] = project
    }

    func projectEntity(_ reference: String) throws(GitLabError) -> JSONValue {
        entity(try project(reference))
    }

    // MARK: Branches

    func branches(_ reference: String, search: String?) throws(GitLabError) -> [JSONValue] {
        let project = try project(reference)
        return project.repository.branches.keys.sorted()
            .filter { name in search.map { name.localizedCaseInsensitiveContains($0) } ?? true }
            .compactMap { branchEntity(project, $0) }
    }

    func branch(_ reference: String, name: String) throws(GitLabError) -> JSONValue {
        let project = try project(reference)
        guard let entity = branchEntity(project, name) else { throw .notFound("Branch") }
        return entity
    }

    func createBranch(_ reference: String, name: String, ref: String) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        guard Self.isValidBranchName(name) else { throw .badRequest("Branch name is invalid") }
        guard project.repository.branches[name] == nil else { throw .badRequest("Branch already exists") }
        guard let commit = project.repository.resolve(ref) else { throw .badRequest("Invalid reference name: \(ref)") }
        project.repository.setBranch(name, to: commit.sha)
        update(project)
        return branchEntity(project, name)!
    }

    func deleteBranch(_ reference: String, name: String) throws(GitLabError) {
        var project = try project(reference)
        guard project.repository.branches[name] != nil else { throw .notFound("Branch") }
        guard name != project.repository.defaultBranch else {
            throw .badRequest("The default branch of a project cannot be deleted.")
        }
        project.repository.deleteBranch(name)
        update(project)
    }

    /// git's ref-format rules, the part that matters for API clients.
    static func isValidBranchName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix("-") && !name.hasPrefix("/") && !name.hasSuffix("/") && !name.hasSuffix(".lock")
            && !name.hasSuffix(".") && !name.contains("..") && !name.contains("//") && !name.contains("@{") && name != "HEAD"
            && !name.contains(where: { " ~^:?*[\\".contains($0) || $0.asciiValue.map { $0 < 32 || $0 == 127 } == true })
    }

    // MARK: Files and trees

    private func commit(_ project: Project, ref: String?) throws(GitLabError) -> Commit {
        let name = ref ?? project.repository.defaultBranch
        guard let commit = project.repository.resolve(name) else { throw .notFound("Commit") }
        return commit
    }

    func file(_ reference: String, path: String, ref: String) throws(GitLabError) -> JSONValue {
        let project = try project(reference)
        let commit = try commit(project, ref: ref)
        guard let blob = commit.tree[path] else { throw .notFound("File") }
        let last = project.repository.lastCommit(touching: path, from: commit.sha)
        return [
            "file_name": .string(String(path.split(separator: "/").last ?? "")), "file_path": .string(path),
            "size": .int(Int64(blob.data.count)), "encoding": "base64",
            "content_sha256": .string(Repository.sha256(blob.data)), "ref": .string(ref),
            "blob_id": .string(blob.id), "commit_id": .string(commit.sha),
            "last_commit_id": .string(last?.sha ?? commit.sha), "execute_filemode": false,
            "content": .string(blob.data.base64EncodedString()),
        ]
    }

    func rawFile(_ reference: String, path: String, ref: String?) throws(GitLabError) -> Data {
        let project = try project(reference)
        guard let blob = try commit(project, ref: ref).tree[path] else { throw .notFound("File") }
        return blob.data
    }

    func tree(_ reference: String, path: String?, ref: String?, recursive: Bool) throws(GitLabError) -> [JSONValue] {
        let project = try project(reference)
        guard !project.repository.isEmpty else { throw .notFound("Tree") }
        let commit = try commit(project, ref: ref)
        let directory = (path ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let entries = Repository.entries(of: commit.tree, under: directory, recursive: recursive)
        if entries.isEmpty, !directory.isEmpty { throw .notFound("Tree") }
        return entries.map { ["id": .string($0.id), "name": .string($0.name), "type": .string($0.type), "path": .string($0.path), "mode": .string($0.mode)] }
    }

    // MARK: Commits

    func commits(_ reference: String, ref: String?, path: String?) throws(GitLabError) -> [JSONValue] {
        let project = try project(reference)
        guard !project.repository.isEmpty else { throw .notFound("Commit") }
        let head = try commit(project, ref: ref)
        var history = project.repository.history(from: head.sha)
        if let path {
            history = history.filter { commit in
                let parents = commit.parents.compactMap { project.repository.commits[$0] }
                return parents.isEmpty ? commit.tree[path] != nil : !parents.contains { $0.tree[path] == commit.tree[path] }
            }
        }
        return history.map { commitEntity(project, $0) }
    }

    func commitDetail(_ reference: String, sha: String) throws(GitLabError) -> JSONValue {
        let project = try project(reference)
        guard let commit = project.repository.resolve(sha) else { throw .notFound("Commit") }
        return commitEntity(project, commit, detail: true)
    }

    /// `POST /repository/commits` (and the single-file endpoints, which are one-action commits):
    /// validates as GitLab's `Commits::CreateService` and `Files::MultiService` do, then commits.
    func createCommit(
        _ reference: String, branch: String, startBranch: String?, message: String, actions: [FileAction],
        author: User, singleFileMessages: Bool = false
    ) throws(GitLabError) -> (project: Project, commit: Commit) {
        var project = try project(reference)
        let start = startBranch ?? branch
        let repository = project.repository
        if !repository.isEmpty, repository.branches[start] == nil {
            throw .badRequest("You can only create or edit files when you are on a branch")
        }
        if !repository.isEmpty, start != branch, repository.branches[branch] != nil {
            throw .badRequest("A branch called '\(branch)' already exists. Switch to that branch in order to make changes")
        }
        if start != branch, !Self.isValidBranchName(branch) {
            throw .badRequest("Something went wrong when we tried to create '\(branch)' for you: Branch name is invalid")
        }
        let parent = repository.head(of: start)
        var tree = parent?.tree ?? [:]
        for action in actions {
            try apply(action, to: &tree, repository: repository, parent: parent, singleFileMessages: singleFileMessages)
        }
        let commit = project.repository.makeCommit(
            tree: tree, parents: parent.map { [$0.sha] } ?? [], message: message,
            authorName: author.name, authorEmail: author.email, date: now
        )
        project.repository.setBranch(branch, to: commit.sha)
        if project.repository.branches.count == 1, repository.isEmpty { project.repository.defaultBranch = branch }
        update(project)
        branchMoved(projectID: project.id, branch: branch, by: author)
        return (projects[project.id]!, commit)
    }

    private func apply(_ action: FileAction, to tree: inout [String: Blob], repository: Repository, parent: Commit?, singleFileMessages: Bool) throws(GitLabError) {
        func checkUnchanged(_ path: String, _ lastCommitID: String?) throws(GitLabError) {
            guard let lastCommitID, let parent else { return }
            let last = repository.lastCommit(touching: path, from: parent.sha)?.sha
            guard last != lastCommitID else { return }
            throw .badRequest(singleFileMessages
                ? "You are attempting to update a file that has changed since you started editing it."
                : "The file has changed since you started editing it: \(path)")
        }
        try Self.validate(path: action.path)
        switch action {
        case .create(let path, let data):
            guard tree[path] == nil else { throw .badRequest("A file with this name already exists") }
            tree[path] = Blob(data)
        case .update(let path, let data, let lastCommitID):
            guard tree[path] != nil else { throw .badRequest("A file with this name doesn't exist") }
            try checkUnchanged(path, lastCommitID)
            tree[path] = Blob(data)
        case .delete(let path, let lastCommitID):
            guard tree[path] != nil else { throw .badRequest("A file with this name doesn't exist") }
            try checkUnchanged(path, lastCommitID)
            tree[path] = nil
        case .move(let from, let to, let data, let lastCommitID):
            guard let blob = tree[from] else { throw .badRequest("A file with this name doesn't exist") }
            guard tree[to] == nil else { throw .badRequest("A file with this name already exists") }
            try checkUnchanged(from, lastCommitID)
            tree[from] = nil
            tree[to] = data.map(Blob.init) ?? blob
        }
    }

    /// GitLab refuses directory traversal and absolute paths in file names.
    static func validate(path: String) throws(GitLabError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if path.isEmpty || path.hasPrefix("/") || parts.contains("..") || parts.contains("") {
            throw .badRequest("Your changes could not be committed, because the file name, `\(path)` cannot include directory traversal.")
        }
    }

    /// After a branch moved: merge requests from it see the new head, those into it need a new check.
    func branchMoved(projectID: Int, branch: String, by user: User) {
        guard var project = projects[projectID], let head = project.repository.branches[branch] else { return }
        var events: [(MergeRequest, String, String)] = []
        for (iid, var request) in project.mergeRequests where request.state == .opened {
            if request.sourceBranch == branch, request.sha != head {
                let previous = request.sha
                request.sha = head
                request.updatedAt = now
                request.checkDone = ContinuousClock.now + settings.mergeabilityCheckDelay
                request.unchecked = false
                request.autoMergeBy = nil
                events.append((request, "update", previous))
            } else if request.targetBranch == branch {
                request.unchecked = true
                request.checkDone = ContinuousClock.now + settings.mergeabilityCheckDelay
            }
            project.mergeRequests[iid] = request
        }
        update(project)
        for (request, action, previous) in events { emit(project: project, request: request, action: action, user: user, oldrev: previous) }
    }

    // MARK: Hooks

    func addHook(_ reference: String, url: String, token: String?, mergeRequestsEvents: Bool, pushEvents: Bool) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        let hook = Project.Hook(id: makeID(), url: url, token: token, mergeRequestsEvents: mergeRequestsEvents, pushEvents: pushEvents, createdAt: now)
        project.hooks.append(hook)
        update(project)
        return hookEntity(project, hook)
    }

    func hooks(_ reference: String) throws(GitLabError) -> [JSONValue] {
        let project = try project(reference)
        return project.hooks.map { hookEntity(project, $0) }
    }

    func hook(_ reference: String, id: Int) throws(GitLabError) -> JSONValue {
        let project = try project(reference)
        guard let hook = project.hooks.first(where: { $0.id == id }) else { throw .notFound() }
        return hookEntity(project, hook)
    }

    func deleteHook(_ reference: String, id: Int) throws(GitLabError) {
        var project = try project(reference)
        guard project.hooks.contains(where: { $0.id == id }) else { throw .notFound() }
        project.hooks.removeAll { $0.id == id }
        update(project)
    }

    // MARK: Protected branches and approval rules

    func protectBranch(_ reference: String, name: String) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        guard !project.protectedBranches.contains(where: { $0.name == name }) else {
            throw .conflict("Protected branch '\(name)' already exists")
        }
        let branch = Project.ProtectedBranch(id: makeID(), name: name)
        project.protectedBranches.append(branch)
        update(project)
        return protectedBranchEntity(branch)
    }

    func protectedBranch(_ reference: String, name: String) throws(GitLabError) -> JSONValue {
        guard let branch = try project(reference).protectedBranches.first(where: { $0.name == name }) else { throw .notFound() }
        return protectedBranchEntity(branch)
    }

    func unprotectBranch(_ reference: String, name: String) throws(GitLabError) {
        var project = try project(reference)
        guard let branch = project.protectedBranches.first(where: { $0.name == name }) else { throw .notFound() }
        project.protectedBranches.removeAll { $0.id == branch.id }
        for index in project.approvalRules.indices { project.approvalRules[index].protectedBranchIDs.removeAll { $0 == branch.id } }
        update(project)
    }

    /// The project's approval settings (`GET /projects/:id/approvals`): authors may not approve.
    func projectApprovals(_ reference: String) throws(GitLabError) -> JSONValue {
        _ = try project(reference)
        return [
            "approvers": [], "approver_groups": [], "approvals_before_merge": 0, "reset_approvals_on_push": true,
            "selective_code_owner_removals": false, "disable_overriding_approvers_per_merge_request": false,
            "merge_requests_author_approval": false, "merge_requests_disable_committers_approval": false,
            "require_password_to_approve": false, "require_reauthentication_to_approve": false,
        ]
    }

    func protectedBranches(_ reference: String) throws(GitLabError) -> [JSONValue] {
        try project(reference).protectedBranches.map(protectedBranchEntity)
    }

    func addApprovalRule(
        _ reference: String, name: String, approvalsRequired: Int, usernames: [String], userIDs: [Int],
        protectedBranchIDs: [Int], appliesToAllProtectedBranches: Bool
    ) throws(GitLabError) -> JSONValue {
        var project = try project(reference)
        guard approvalsRequired >= 0 else { throw .invalid("approvals_required does not have a valid value") }
        var members: [User] = []
        for username in usernames {
            guard let user = users[username] else { throw .messages(400, ["User \(username) not found"]) }
            members.append(user)
        }
        members += users.values.filter { userIDs.contains($0.id) && !members.contains($0) }
        for id in protectedBranchIDs where !project.protectedBranches.contains(where: { $0.id == id }) {
            throw .notFound("Protected Branch")
        }
        let rule = Project.ApprovalRule(
            id: makeID(), name: name, approvalsRequired: approvalsRequired, users: members.sorted { $0.id < $1.id },
            protectedBranchIDs: protectedBranchIDs, appliesToAllProtectedBranches: appliesToAllProtectedBranches
        )
        project.approvalRules.append(rule)
        update(project)
        return approvalRuleEntity(project, rule)
    }

    func approvalRules(_ reference: String) throws(GitLabError) -> [JSONValue] {
        let project = try project(reference)
        return project.approvalRules.map { approvalRuleEntity(project, $0) }
    }

    // MARK: Webhook events

    /// Queues a merge request event for the project's hooks; `oldrev` is the previous head on a push.
    func emit(project: Project, request: MergeRequest, action: String, user: User, oldrev: String? = nil) {
        let hooks = project.hooks.filter(\.mergeRequestsEvents)
        guard !hooks.isEmpty else { return }
        var payload = mergeRequestEvent(project, request, action: action, user: user)
        if let oldrev { payload[path: ["object_attributes", "oldrev"]] = .string(oldrev) }
        for hook in hooks {
            webhooks.yield(WebhookEvent(hookID: hook.id, url: hook.url, token: hook.token, event: "Merge Request Hook", payload: payload))
        }
    }
}
