import JSON

/// Strategic merge patch for built-in kinds, as far as clients use it: a merge patch whose
/// lists of containers, env vars, volumes, ports and the like merge element by element on
/// their key, with the `$patch` (replace/delete), `$setElementOrder/…`, `$retainKeys` and
/// `$deleteFromPrimitiveList/…` directives.
enum StrategicMergePatch {
    /// List fields merged by key, by field name (the same in every built-in kind that has them).
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
        "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name", "hostAliases": "ip",
        "ports": "containerPort", "volumeDevices": "devicePath", "conditions": "type", "ownerReferences": "uid",
    ]
    /// Primitive lists merged as sets.
    static let setLists: Set<String> = ["finalizers"]

    static func apply(_ patch: JSONValue, to target: JSONValue) throws(APIError) -> JSONValue {
        guard case .object(var patchMembers) = patch else { return patch }
        if let directive = patchMembers.removeValue(forKey: "$patch")?.string {
            switch directive {
            case "replace": return .object(patchMembers)
            case "delete": return .null
            default: throw APIError.badRequest("unknown patch directive \"\(directive)\"")
            }
        }
        var result = target.object ?? [:]
        patchMembers.removeValue(forKey: "$retainKeys")
        for (key, value) in patchMembers {
            if key.hasPrefix("$setElementOrder/") { continue }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let removed = value.array ?? []
                result[field] = .array((result[field]?.array ?? []).filter { !removed.contains($0) })
                continue
            }
            if value == .null {
                result[key] = nil
            } else if case .array(let items) = value, let mergeKey = mergeKey(for: key, items: items) {
                result[key] = .array(try mergeList(items, into: result[key]?.array ?? [], key: mergeKey))
            } else if case .array(let items) = value, setLists.contains(key) {
                var merged = result[key]?.array ?? []
                for item in items where !merged.contains(item) { merged.append(item) }
                result[key] = .array(merged)
            } else if case .object = value {
                let merged = try apply(value, to: result[key] ?? .emptyObject)
                result[key] = merged == .null ? nil : merged
            } else {
                result[key] = value
            }
        }
        return .object(result)
    }

    private static func mergeKey(for field: String, items: [JSONValue]) -> String? {
        guard var key = mergeKeys[field] else { return nil }
        // Service ports are keyed by `port`, container ports by `containerPort`.
        if field == "ports", items.contains(where: { $0["containerPort"] == nil && $0["port"] != nil }) { key = "port" }
        return key
    }

    private static func mergeList(_ patchItems: [JSONValue], into current: [JSONValue], key: String) throws(APIError) -> [JSONValue] {
        if patchItems.contains(where: { $0["$patch"]?.string == "replace" }) {
            return patchItems.filter { $0["$patch"] == nil }
        }
        var result = current
        for item in patchItems {
            guard let keyValue = item[key] else {
                throw APIError.badRequest("map: \(item) does not contain declared merge key: \(key)")
            }
            let index = result.firstIndex { $0[key] == keyValue }
            if item["$patch"]?.string == "delete" {
                if let index { result.remove(at: index) }
            } else if let index {
                result[index] = try apply(item, to: result[index])
            } else {
                result.append(try apply(item, to: .emptyObject))
            }
        }
        return result
    }
}
