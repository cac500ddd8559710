import JSON
import Store

/// The summary of an operation: each namespace's own summary under `namespaces` (itself the
/// total of its units', under `units`, when a namespace has several SleepInfos), and the totals
/// at the top in the shape of a one-namespace summary (`done`, `skipped`, `failed` with objects
/// named `<namespace>/<kind>/<name>`, summed resources), so that readers see the same fields.
enum OperationSummary {
    static let summed = ["releasedCPU", "releasedMemoryBytes", "hourlySavings"]

    /// A unit's part of an operation.
    struct Part: Sendable {
        var namespace: String
        var unit: String
        var summary: JSONValue
    }

    /// `stored` with the parts of some units set (replaced when resumed, never repeated). A
    /// stored part Argo CD reverted since (see `reverted`) keeps the revert: the units' parts
    /// are written a second apart at most, and the revert may come in between.
    static func adding(_ new: [Part], to stored: String?) -> JSONValue {
        var parts = stored.flatMap { try? JSONValue(parsing: $0) }?["namespaces"]?.object ?? [:]
        for (namespace, ofNamespace) in Dictionary(grouping: new, by: \.namespace) {
            var units = parts[namespace]?["units"]?.object ?? [:]
            for part in ofNamespace {
                let reverted = units[part.unit]?["reverted"]?.array
                units[part.unit] = reverted.map { revert($0, in: part.summary) } ?? part.summary
            }
            var namespacePart = total(units, prefixed: false)
            namespacePart["namespace"] = .string(namespace)
            namespacePart["units"] = .object(units)
            parts[namespace] = namespacePart
        }
        var summary = total(parts, prefixed: true)
        summary["namespaces"] = .object(parts)
        return summary
    }

    /// A unit's part with objects Argo CD scaled back up (`failures`: `{object, error}`) moved
    /// from `done` to `failed`, and listed under `reverted`.
    static func revert(_ failures: [JSONValue], in part: JSONValue) -> JSONValue {
        var part = part
        let names = Set(failures.compactMap { $0["object"]?.string })
        func others(_ key: String) -> [JSONValue] {
            (part[key]?.array ?? []).filter { !names.contains($0["object"]?.string ?? $0.string ?? "") }
        }
        part["done"] = .array(others("done"))
        part["failed"] = .array(others("failed") + failures)
        part["reverted"] = .array(others("reverted") + failures)
        return part
    }

    /// The lists and sums of `parts` together; objects named after their part when `prefixed`.
    private static func total(_ parts: [String: JSONValue], prefixed: Bool) -> JSONValue {
        var lists: [String: [JSONValue]] = ["planned": [], "done": [], "skipped": [], "failed": []]
        var sums: [String: Double] = [:]
        for (name, part) in parts.sorted(by: { $0.key < $1.key }) {
            for key in ["planned", "done"] {
                lists[key]! += (part[key]?.array ?? []).map { prefixed ? .string("\(name)/\($0.string ?? "?")") : $0 }
            }
            for key in ["skipped", "failed"] {
                lists[key]! += (part[key]?.array ?? []).map { prefixed ? prefix($0, name) : $0 }
            }
            if let error = part["error"]?.string {
                lists["failed"]!.append(["object": .string(name), "error": .string(error)])
            }
            for key in summed {
                if let value = part[key]?.double { sums[key, default: 0] += value }
            }
        }
        var total = JSONValue.object(lists.mapValues(JSONValue.array))
        for (key, value) in sums { total[key] = .double(value) }
        return total
    }

    /// Each namespace's own summary.
    static func parts(of summary: JSONValue) -> [String: JSONValue] {
        if let parts = summary["namespaces"]?.object { return parts }
        if let namespace = summary["namespace"]?.string { return [namespace: summary] }
        return [:]
    }

    /// The final state of an operation (or of one namespace's part) from its summary.
    static func state(of summary: JSONValue) -> OperationRecord.State {
        let failed = summary["failed"]?.array ?? []
        if failed.isEmpty { return .succeeded }
        return (summary["done"]?.array ?? []).isEmpty ? .failed : .partial
    }

    private static func prefix(_ item: JSONValue, _ namespace: String) -> JSONValue {
        var item = item
        item["object"] = .string("\(namespace)/\(item["object"]?.string ?? "?")")
        return item
    }
}
