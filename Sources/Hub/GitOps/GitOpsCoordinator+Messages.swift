import Foundation
import Store

/// What a merge request says: who asked, what, why, until when, and a link back to the operation.
extension GitOpsCoordinator {
    struct MergeRequestText {
        var title: String
        var description: String
        var commitMessage: String
    }

    func mergeRequestText(_ change: GitOpsChangeRecord) async -> MergeRequestText {
        let operation = try? await store.operation(id: change.operationId)
        let target = "\(change.cluster)/\(change.namespace)"
        let what: String
        if change.removal {
            what = "clear the \(change.kind.rawValue) override of \(target)"
        } else {
            switch (operation?.action, change.kind) {
            case ("sleep"?, _): what = "put \(target) to sleep"
            case ("wake"?, _): what = "wake \(target)"
            case (_, .skip): what = "skip the next scheduled transition of \(target)"
            case (_, .sleep): what = "keep \(target) asleep"
            case (_, .wake): what = "keep \(target) awake"
            }
        }
        // Each part on its own: one string literal with all of them takes the type checker minutes.
        var until = ""
        if !change.removal, change.kind != .skip { until = change.until.map { " until \(Self.time($0))" } ?? " until cleared" }
        let link = operationLink(change.operationId)
        let title = "Sandman: \(what)\(until)"
        let through: String = operation.map { " (through \($0.source))" } ?? ""
        let reason: String = change.reason ?? "no reason given"
        var end = change.until.map(Self.time) ?? "cleared by hand"
        if change.kind == .skip { end = "the next scheduled transition" }
        if change.removal { end = "the override is cleared" }
        let description = """
            **\(change.actor)** asked Sandman\(through) to \(what)\(until).

            | | |
            | --- | --- |
            | Why | \(reason) |
            | Until | \(end) |
            | Operation | [\(change.operationId)](\(link)) |
            | Manifest | `\(change.path)` |
            | Argo CD application | `\(change.application)` |

            Merging this sets the `\(Self.annotationKey)` annotation of the namespace's SleepInfo; \
            Sandman then asks Argo CD to sync and acts on it once it is in the cluster.
            """
        let commitMessage = "\(title)\n\nAsked by \(change.actor): \(reason).\nOperation: \(link)\n"
        return MergeRequestText(title: title, description: description, commitMessage: commitMessage)
    }

    static func time(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
