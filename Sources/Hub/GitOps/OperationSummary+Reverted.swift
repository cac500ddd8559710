import Foundation
import JSON

extension OperationSummary {
    /// `stored` with objects of one unit that Argo CD scaled back up moved from `done` to
    /// `failed` (`failures`: `{object: "Deployment.apps/api", error}`), totals recomputed.
    static func reverted(_ failures: [JSONValue], of namespace: String, unit: String, in stored: String?) -> String? {
        guard let summary = stored.flatMap({ try? JSONValue(parsing: Data($0.utf8)) }) else { return stored }
        let part = summary[path: ["namespaces", namespace, "units", unit]] ?? .emptyObject
        return adding([Part(namespace: namespace, unit: unit, summary: revert(failures, in: part))], to: stored).serialized()
    }
}
