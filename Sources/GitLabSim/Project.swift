import Foundation

/// A project: its repository, merge requests, webhooks and merge rules.
struct Project: Sendable {
    struct Hook: Sendable {
        var id: Int
        var url: String
        var token: String?
        var mergeRequestsEvents: Bool
        var pushEvents: Bool
        var createdAt: Date
    }

    struct ProtectedBranch: Sendable {
        var id: Int
        var name: String
    }

    /// `approvals_required` approvals from `users` (anyone but the author when empty) before a
    /// merge into one of `protectedBranchIDs` (every branch when empty).
    struct ApprovalRule: Sendable {
        var id: Int
        var name: String
        var approvalsRequired: Int
        var users: [User]
        var protectedBranchIDs: [Int]
        var appliesToAllProtectedBranches: Bool
    }

    let id: Int
    /// `group/project`, possibly with subgroups.
    let path: String
    var repository: Repository
    let createdAt: Date
    var mergeRequests: [Int: MergeRequest] = [:]
    var hooks: [Hook] = []
    var protectedBranches: [ProtectedBranch] = []
    var approvalRules: [ApprovalRule] = []
    var nextMergeRequestIID = 1

    var name: String { String(path.split(separator: "/").last ?? "") }
    var namespace: String { path.split(separator: "/").dropLast().joined(separator: "/") }

    func isProtected(_ branch: String) -> Bool {
        protectedBranches.contains { Self.matches(pattern: $0.name, branch) }
    }

    /// The rules that apply to merges into `branch`.
    func rules(for branch: String) -> [ApprovalRule] {
        approvalRules.filter { rule in
            if rule.appliesToAllProtectedBranches { return isProtected(branch) }
            if rule.protectedBranchIDs.isEmpty { return true }
            return protectedBranches.contains { rule.protectedBranchIDs.contains($0.id) && Self.matches(pattern: $0.name, branch) }
        }
    }

    /// Approvals still missing per rule, for a merge request by `author` approved by `approvers`.
    func approvalsLeft(target: String, author: User, approvers: [User]) -> [(rule: ApprovalRule, left: Int)] {
        rules(for: target).map { rule in
            let eligible = approvers.filter { approver in
                approver.id != author.id && (rule.users.isEmpty || rule.users.contains { $0.id == approver.id })
            }
            return (rule, max(0, rule.approvalsRequired - eligible.count))
        }
    }

    /// Protected branch names may be wildcards (`release/*`).
    static func matches(pattern: String, _ name: String) -> Bool {
        guard pattern.contains("*") else { return pattern == name }
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        var rest = Substring(name)
        for (index, part) in parts.enumerated() {
            if index == 0 {
                guard rest.hasPrefix(part) else { return false }
                rest = rest.dropFirst(part.count)
            } else if index == parts.count - 1 {
                return part.isEmpty || rest.hasSuffix(part)
            } else if let range = rest.range(of: part) {
                rest = rest[range.upperBound...]
            } else {
                return false
            }
        }
        return rest.isEmpty
    }
}
