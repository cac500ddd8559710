import Foundation
import JSON

extension OperationSummary {
    /// `stored` with objects of one unit that Argo CD scaled back up moved from `done` to
    /// `failed` (`failures`: `{object: "Deployment.apps/api", error}`), totals recomputed.
    static func reverted(_ failures: [JSONValue], of namespace: String, unit: String, in stored: String?) -> String? {
        guard let summary = stored.flatMap({ try? JSONValue(parsing: Data($0.utf8)) }) else { return stored }
        var part = summary[path: ["namespaces", namespace, "units", unit]] ?? .emptyObject
        let names = Set(failures.compactMap { $0["object"]?.string })
        part["done"] = .array((part["done"]?.array ?? []).filter { !names.contains($0.string ?? "") })
        part["failed"] = .array((part["failed"]?.array ?? []) + failures)
        part["reverted"] = .array(failures)
        return adding(part, of: namespace, unit: unit, to: stored).serialized()
    }
}
