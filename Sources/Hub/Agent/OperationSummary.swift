import JSON
import Store

/// The summary of an operation over several namespaces: each namespace's own summary under
/// `namespaces`, and the totals at the top in the shape of a one-namespace summary (`done`,
/// `skipped`, `failed` with objects named `<namespace>/<kind>/<name>`, summed resources), so
/// that readers of either kind see the same fields.
enum OperationSummary {
    static func adding(_ part: JSONValue, of namespace: String, to stored: String?) -> JSONValue {
        var parts = stored.flatMap { try? JSONValue(parsing: $0) }?["namespaces"]?.object ?? [:]
        parts[namespace] = part
        var planned: [JSONValue] = [], done: [JSONValue] = [], skipped: [JSONValue] = [], failed: [JSONValue] = []
        var sums: [String: Double] = [:]
        for (name, summary) in parts.sorted(by: { $0.key < $1.key }) {
            planned += (summary["planned"]?.array ?? []).map { .string("\(name)/\($0.string ?? "?")") }
            done += (summary["done"]?.array ?? []).map { .string("\(name)/\($0.string ?? "?")") }
            skipped += (summary["skipped"]?.array ?? []).map { prefixed($0, name) }
            failed += (summary["failed"]?.array ?? []).map { prefixed($0, name) }
            if let error = summary["error"]?.string { failed.append(["object": .string(name), "error": .string(error)]) }
            for key in ["releasedCPU", "releasedMemoryBytes", "hourlySavings"] {
                if let value = summary[key]?.double { sums[key, default: 0] += value }
            }
        }
        var total: JSONValue = ["namespaces": .object(parts), "planned": .array(planned), "done": .array(done), "skipped": .array(skipped), "failed": .array(failed)]
        for (key, value) in sums { total[key] = .double(value) }
        return total
    }

    /// Each namespace's own summary: the parts of a larger operation, or the one namespace's.
    static func parts(of summary: JSONValue) -> [String: JSONValue] {
        if let parts = summary["namespaces"]?.object { return parts }
        if let namespace = summary["namespace"]?.string { return [namespace: summary] }
        return [:]
    }

    /// The final state of an operation from its summary.
    static func state(of summary: JSONValue) -> OperationRecord.State {
        let failed = summary["failed"]?.array ?? []
        if failed.isEmpty { return .succeeded }
        return (summary["done"]?.array ?? []).isEmpty ? .failed : .partial
    }

    private static func prefixed(_ item: JSONValue, _ namespace: String) -> JSONValue {
        var item = item
        item["object"] = .string("\(namespace)/\(item["object"]?.string ?? "?")")
        return item
    }
}
