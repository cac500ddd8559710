import Foundation

/// A merge request and what happened to it.
struct MergeRequest: Sendable {
    enum State: String, Sendable {
        case opened, closed, merged
    }

    struct Note: Sendable {
        var id: Int
        var body: String
        var author: User
        var createdAt: Date
        var system: Bool
    }

    let id: Int
    let iid: Int
    var title: String
    var description: String
    let sourceBranch: String
    var targetBranch: String
    var state: State = .opened
    let author: User
    var labels: [String] = []
    let createdAt: Date
    var updatedAt: Date
    var mergedAt: Date?
    var closedAt: Date?
    var mergedBy: User?
    var closedBy: User?
    var mergeCommitSHA: String?
    /// The source branch head when the merge request was last updated.
    var sha: String
    var forceRemoveSourceBranch = false
    /// Armed by `PUT .../merge` with `auto_merge` or `merge_when_pipeline_succeeds`.
    var autoMergeBy: User?
    var approvedBy: [User] = []
    var notes: [Note] = []
    /// When the asynchronous mergeability check finishes; before it the status is `preparing`
    /// (new merge requests) or `checking`.
    var checkDone: ContinuousClock.Instant
    var everChecked = false
    /// The target branch moved after the last check: GitLab's `unchecked`, a merge re-checks.
    var unchecked = false
    /// The last check's verdict on conflicts.
    var hasConflicts = false

    var isDraft: Bool {
        let lowered = title.lowercased()
        return ["draft:", "[draft]", "(draft)", "draft -", "wip:", "[wip]"].contains { lowered.hasPrefix($0) }
    }
}
