import JSON

/// Field ownership for server-side apply, as structured-merge-diff keeps it: each manager (per
/// operation and subresource) owns a set of field paths, read from and written to
/// `metadata.managedFields`. Lists merge by their schema's list type: map lists by key (so two
/// managers own different containers), sets by value, atomic lists whole. Several managers may
/// own one field (shared ownership); an applier that drops a field removes it only when no
/// other manager owns it.
struct FieldOwnership: Sendable {
    struct Entry: Sendable {
        var manager: String
        /// `Apply` or `Update`.
        var operation: String
        var apiVersion: String
        var time: String
        /// `status`, `scale`, or empty for the main resource.
        var subresource: String
        var fields: Set<FieldPath>

        func isSame(_ manager: String, _ operation: String, _ subresource: String) -> Bool {
            self.manager == manager && self.operation == operation && self.subresource == subresource
        }

        /// How conflict messages name a manager (kube-apiserver's `printManager`).
        var displayName: String {
            var text = "\"\(manager)\""
            if !subresource.isEmpty { text += " with subresource \"\(subresource)\"" }
            if operation == "Update" { text += " using \(apiVersion)" }
            return text
        }
    }

    var entries: [Entry]
    let schema: Schema?

    init(object: JSONValue, schema: Schema?) {
        self.schema = schema
        entries = (object[path: ["metadata", "managedFields"]]?.array ?? []).compactMap { item in
            guard let manager = item["manager"]?.string else { return nil }
            return Entry(
                manager: manager, operation: item["operation"]?.string ?? "Update", apiVersion: item["apiVersion"]?.string ?? "",
                time: item["time"]?.string ?? "", subresource: item["subresource"]?.string ?? "",
                fields: Set(fieldsV1: item["fieldsV1"] ?? .emptyObject)
            )
        }
    }

    struct Conflict: Sendable {
        var manager: String
        var path: FieldPath
    }

    // MARK: Operations

    /// Records an ordinary write (create, update, patch, scale): the writer gains the fields it
    /// added or changed, everyone loses the fields it changed or removed.
    mutating func recordUpdate(from old: JSONValue, to new: JSONValue, manager: String, apiVersion: String, time: String, subresource: String) {
        let comparison = FieldWalker(schema: schema, subresource: subresource).compare(old, new)
        for index in entries.indices where !entries[index].isSame(manager, "Update", subresource) {
            entries[index].fields.subtract(comparison.changed)
            entries[index].fields.subtract(comparison.removed)
        }
        let index = entries.firstIndex { $0.isSame(manager, "Update", subresource) }
        var fields = index.map { entries[$0].fields } ?? []
        fields.subtract(comparison.removed)
        fields.formUnion(comparison.changed)
        if let index {
            entries[index].fields = fields
            entries[index].time = time
            entries[index].apiVersion = apiVersion
        } else if !fields.isEmpty {
            entries.append(Entry(manager: manager, operation: "Update", apiVersion: apiVersion, time: time, subresource: subresource, fields: fields))
        }
        entries.removeAll { $0.fields.isEmpty }
    }

    /// Server-side apply of `configuration` to `live`: the merged object with the fields this
    /// manager no longer applies (and nobody else owns) removed. Throws the conflicts with other
    /// managers' fields unless `force`, which takes those fields from them.
    mutating func apply(_ configuration: JSONValue, to live: JSONValue, manager: String, apiVersion: String, time: String, subresource: String, force: Bool) throws(ApplyConflicts) -> JSONValue {
        let walker = FieldWalker(schema: schema, subresource: subresource)
        let applied = walker.fieldSet(of: configuration)
        let previous = entries.first { $0.isSame(manager, "Apply", subresource) }?.fields ?? []
        var merged = walker.merge(live, configuration)
        let others = entries.filter { !$0.isSame(manager, "Apply", subresource) }.reduce(into: Set<FieldPath>()) { $0.formUnion($1.fields) }
        let kept = applied.union(others)
        for path in previous.subtracting(applied).sorted(by: { $0.elements.count < $1.elements.count }) {
            if !kept.contains(where: { $0.hasPrefix(path) }) { merged = path.removed(from: merged) }
        }
        let comparison = walker.compare(live, merged)
        var conflicts: [Conflict] = []
        for entry in entries where !entry.isSame(manager, "Apply", subresource) {
            for path in entry.fields.intersection(comparison.changed).sorted() {
                conflicts.append(Conflict(manager: entry.displayName, path: path))
            }
        }
        if !conflicts.isEmpty, !force { throw ApplyConflicts(conflicts: conflicts) }
        for index in entries.indices where !entries[index].isSame(manager, "Apply", subresource) {
            entries[index].fields.subtract(comparison.changed)
            entries[index].fields.subtract(comparison.removed)
        }
        entries.removeAll { $0.isSame(manager, "Apply", subresource) }
        entries.append(Entry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: time, subresource: subresource, fields: applied))
        entries.removeAll { $0.fields.isEmpty }
        return merged
    }

    var managedFields: JSONValue {
        .array(entries.map { entry in
            var item: JSONValue = [
                "manager": .string(entry.manager), "operation": .string(entry.operation), "apiVersion": .string(entry.apiVersion),
                "time": .string(entry.time), "fieldsType": "FieldsV1", "fieldsV1": entry.fields.fieldsV1,
            ]
            if !entry.subresource.isEmpty { item["subresource"] = .string(entry.subresource) }
            return item
        })
    }
}

struct ApplyConflicts: Error {
    var conflicts: [FieldOwnership.Conflict]
}

/// Walks objects with their schema as structured-merge-diff does: which paths an object sets,
/// how two versions differ, and how an apply configuration merges into a live object.
struct FieldWalker {
    let schema: Schema?
    /// Which part of the object this write may touch: `status`, `scale`, or the main resource.
    let subresource: String

    /// Whether ownership covers a top-level path for this kind of write.
    private func isTracked(_ path: [FieldPath.Element]) -> Bool {
        guard case .field(let first)? = path.first else { return false }
        switch subresource {
        case "status": return first == "status"
        case "scale": return path.prefix(2) == [.field("spec"), .field("replicas")] || (path.count == 1 && first == "spec")
        default:
            if first == "apiVersion" || first == "kind" || first == "status" { return false }
            if first == "metadata", path.count >= 2, case .field(let second) = path[1] {
                return ["labels", "annotations", "finalizers", "ownerReferences"].contains(second)
            }
            return true
        }
    }

    // MARK: Field sets

    /// The fields an (applied) object sets: leaves, atomic values, list items, empty objects.
    func fieldSet(of object: JSONValue) -> Set<FieldPath> {
        var result: Set<FieldPath> = []
        collect(object, schema: schema, path: [], into: &result, containers: false)
        return result
    }

    private func collect(_ value: JSONValue, schema: Schema?, path: [FieldPath.Element], into result: inout Set<FieldPath>, containers: Bool) {
        let tracked = path.isEmpty || isTracked(path)
        func insert() { if tracked, !path.isEmpty { result.insert(FieldPath(path)) } }
        switch value {
        case .object(let members):
            if schema?.isAtomicMap == true { insert(); return }
            if members.isEmpty || containers { insert() }
            for (key, child) in members {
                let childSchema = schema?.property(key) ?? schema?.additionalProperties
                let childPath = path + [.field(key)]
                if !containers, schema?.property(key) == nil, child != .null, childSchema != nil || schema == nil, case .object = child {
                    // Map entries (labels, annotations) are members themselves as well.
                    if isTracked(childPath) { result.insert(FieldPath(childPath)) }
                }
                collect(child, schema: childSchema, path: childPath, into: &result, containers: containers)
            }
        case .array(let items):
            switch schema?.listType ?? .atomic {
            case .atomic: insert()
            case .set:
                if containers { insert() }
                for item in items where tracked { result.insert(FieldPath(path + [.value(item)])) }
            case .map(let keys):
                if containers { insert() }
                for item in items {
                    let itemPath = path + [.key(Self.keyFields(item, keys))]
                    if tracked { result.insert(FieldPath(itemPath)) }
                    collect(item, schema: schema?.items, path: itemPath, into: &result, containers: containers)
                }
            }
        default:
            insert()
        }
    }

    static func keyFields(_ item: JSONValue, _ keys: [String]) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        for key in keys { if let value = item[key] { fields[key] = value } }
        return fields
    }

    // MARK: Compare

    struct Comparison {
        /// Paths added, or whose value changed.
        var changed: Set<FieldPath>
        var removed: Set<FieldPath>
    }

    /// The paths added or changed, and removed, between two versions: one walk over both,
    /// skipping equal subtrees.
    func compare(_ old: JSONValue, _ new: JSONValue) -> Comparison {
        var comparison = Comparison(changed: [], removed: [])
        compare(old, new, schema: schema, path: [], into: &comparison)
        return comparison
    }

    private func compare(_ old: JSONValue?, _ new: JSONValue?, schema: Schema?, path: [FieldPath.Element], into comparison: inout Comparison) {
        switch (old, new) {
        case (nil, nil):
            return
        case (nil, let added?):
            comparison.changed.formUnion(everyPath(of: added, schema: schema, path: path))
        case (let gone?, nil):
            comparison.removed.formUnion(everyPath(of: gone, schema: schema, path: path))
        case (let before?, let after?):
            guard before != after else { return }
            switch (before, after) {
            case (.object(let oldMembers), .object(let newMembers)) where schema?.isAtomicMap != true:
                for key in Set(oldMembers.keys).union(newMembers.keys) {
                    compare(oldMembers[key], newMembers[key], schema: schema?.property(key) ?? schema?.additionalProperties, path: path + [.field(key)], into: &comparison)
                }
            case (.array(let oldItems), .array(let newItems)):
                switch schema?.listType ?? .atomic {
                case .atomic:
                    if isTracked(path) { comparison.changed.insert(FieldPath(path)) }
                case .set:
                    guard isTracked(path) else { return }
                    for item in newItems where !oldItems.contains(item) { comparison.changed.insert(FieldPath(path + [.value(item)])) }
                    for item in oldItems where !newItems.contains(item) { comparison.removed.insert(FieldPath(path + [.value(item)])) }
                case .map(let keys):
                    var oldByKey: [[String: JSONValue]: JSONValue] = [:], newByKey: [[String: JSONValue]: JSONValue] = [:]
                    for item in oldItems { oldByKey[Self.keyFields(item, keys)] = item }
                    for item in newItems { newByKey[Self.keyFields(item, keys)] = item }
                    for key in Set(oldByKey.keys).union(newByKey.keys) {
                        compare(oldByKey[key], newByKey[key], schema: schema?.items, path: path + [.key(key)], into: &comparison)
                    }
                }
            default:
                if !path.isEmpty, isTracked(path) { comparison.changed.insert(FieldPath(path)) }
            }
        }
    }

    /// A value's own path and every path under it.
    private func everyPath(of value: JSONValue, schema: Schema?, path: [FieldPath.Element]) -> Set<FieldPath> {
        var paths: Set<FieldPath> = []
        collect(value, schema: schema, path: path, into: &paths, containers: true)
        if !path.isEmpty, isTracked(path) { paths.insert(FieldPath(path)) }
        return paths
    }

    // MARK: Merge

    /// An apply configuration merged into a live object: structs and maps member by member, map
    /// lists item by key, sets by value, atomic lists and scalars replaced.
    func merge(_ live: JSONValue, _ configuration: JSONValue) -> JSONValue {
        merge(live, configuration, schema: schema)
    }

    private func merge(_ live: JSONValue, _ configuration: JSONValue, schema: Schema?) -> JSONValue {
        switch (live, configuration) {
        case (.object(var members), .object(let applied)) where schema?.isAtomicMap != true:
            for (key, value) in applied {
                let childSchema = schema?.property(key) ?? schema?.additionalProperties
                members[key] = members[key].map { merge($0, value, schema: childSchema) } ?? value
            }
            return .object(members)
        case (.array(var items), .array(let applied)):
            switch schema?.listType ?? .atomic {
            case .atomic: return configuration
            case .set:
                for item in applied where !items.contains(item) { items.append(item) }
                return .array(items)
            case .map(let keys):
                for item in applied {
                    let key = Self.keyFields(item, keys)
                    if let index = items.firstIndex(where: { Self.keyFields($0, keys) == key }) {
                        items[index] = merge(items[index], item, schema: schema?.items)
                    } else {
                        items.append(item)
                    }
                }
                return .array(items)
            }
        default:
            return configuration
        }
    }
}
