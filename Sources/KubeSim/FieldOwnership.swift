import JSON

/// Field ownership for server-side apply, simplified: a field is a path of object members;
/// lists and scalars are owned whole. Read from and written to `metadata.managedFields`.
struct FieldOwnership: Sendable {
    struct Entry: Sendable {
        var manager: String
        /// `Apply` or `Update`.
        var operation: String
        var apiVersion: String
        var time: String
        var fields: Set<[String]>
    }

    var entries: [Entry]

    init(object: JSONValue) {
        entries = (object[path: ["metadata", "managedFields"]]?.array ?? []).compactMap { item in
            guard let manager = item["manager"]?.string else { return nil }
            return Entry(
                manager: manager,
                operation: item["operation"]?.string ?? "Update",
                apiVersion: item["apiVersion"]?.string ?? "",
                time: item["time"]?.string ?? "",
                fields: Self.paths(fromFieldsV1: item["fieldsV1"] ?? .emptyObject)
            )
        }
    }

    /// Fields that ownership never covers: identity, bookkeeping and (for the main resource) status.
    static func isOwnable(_ path: [String]) -> Bool {
        guard let first = path.first else { return false }
        if first == "apiVersion" || first == "kind" || first == "status" { return false }
        if first == "metadata", path.count >= 2 {
            return ["labels", "annotations", "finalizers", "ownerReferences"].contains(path[1])
        }
        return true
    }

    /// Leaf field paths of a value: object members recursively, with lists, scalars and empty
    /// objects as leaves.
    static func leaves(of value: JSONValue, prefix: [String] = []) -> Set<[String]> {
        guard case .object(let members) = value, !members.isEmpty else { return prefix.isEmpty ? [] : [prefix] }
        var result = Set<[String]>()
        for (key, child) in members {
            result.formUnion(leaves(of: child, prefix: prefix + [key]))
        }
        return result.filter(isOwnable)
    }

    /// Leaves whose value differs between two versions of an object (added, changed or removed).
    static func changedLeaves(from old: JSONValue, to new: JSONValue) -> Set<[String]> {
        let candidates = leaves(of: old).union(leaves(of: new))
        return candidates.filter { old[path: $0] != new[path: $0] }
    }

    /// Records that `manager` set `fields` through an ordinary write, taking them from others.
    mutating func recordUpdate(manager: String, apiVersion: String, time: String, fields: Set<[String]>) {
        guard !fields.isEmpty else { return }
        release(fields, exceptFor: manager, operation: "Update")
        if let index = entries.firstIndex(where: { $0.manager == manager && $0.operation == "Update" }) {
            entries[index].fields.formUnion(fields)
            entries[index].time = time
        } else {
            entries.append(Entry(manager: manager, operation: "Update", apiVersion: apiVersion, time: time, fields: fields))
        }
    }

    /// The fields of `configuration` owned by another manager with a different current value.
    func conflicts(applying configuration: JSONValue, by manager: String, to object: JSONValue) -> [(manager: String, field: String)] {
        var conflicts: [(manager: String, field: String)] = []
        for path in Self.leaves(of: configuration).sorted(by: { $0.joined(separator: ".") < $1.joined(separator: ".") }) {
            guard object[path: path] != configuration[path: path] else { continue }
            for entry in entries where !(entry.manager == manager && entry.operation == "Apply") && entry.fields.contains(path) {
                conflicts.append((entry.manager, "." + path.joined(separator: ".")))
            }
        }
        return conflicts
    }

    /// Records an apply by `manager`: it owns exactly the configuration's fields; with `force`,
    /// other managers lose them. Returns the fields it owned before and no longer applies, which
    /// nobody else owns: those are removed from the object.
    mutating func recordApply(manager: String, apiVersion: String, time: String, fields: Set<[String]>) -> Set<[String]> {
        let previous = entries.first { $0.manager == manager && $0.operation == "Apply" }?.fields ?? []
        release(fields, exceptFor: manager, operation: "Apply")
        entries.removeAll { $0.manager == manager && $0.operation == "Apply" }
        entries.append(Entry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: time, fields: fields))
        let ownedByOthers = entries.filter { !($0.manager == manager && $0.operation == "Apply") }.reduce(into: Set<[String]>()) { $0.formUnion($1.fields) }
        return previous.subtracting(fields).subtracting(ownedByOthers)
    }

    private mutating func release(_ fields: Set<[String]>, exceptFor manager: String, operation: String) {
        for index in entries.indices where !(entries[index].manager == manager && entries[index].operation == operation) {
            entries[index].fields.subtract(fields)
        }
        entries.removeAll { $0.fields.isEmpty }
    }

    var managedFields: JSONValue {
        .array(entries.map { entry in
            [
                "manager": .string(entry.manager), "operation": .string(entry.operation), "apiVersion": .string(entry.apiVersion),
                "time": .string(entry.time), "fieldsType": "FieldsV1", "fieldsV1": Self.fieldsV1(from: entry.fields),
            ]
        })
    }

    static func fieldsV1(from paths: Set<[String]>) -> JSONValue {
        var root = JSONValue.emptyObject
        for path in paths {
            root[path: path.map { "f:" + $0 }] = .emptyObject
        }
        return root
    }

    static func paths(fromFieldsV1 value: JSONValue, prefix: [String] = []) -> Set<[String]> {
        guard case .object(let members) = value, !members.isEmpty else { return prefix.isEmpty ? [] : [prefix] }
        var result = Set<[String]>()
        for (key, child) in members where key.hasPrefix("f:") {
            result.formUnion(paths(fromFieldsV1: child, prefix: prefix + [String(key.dropFirst(2))]))
        }
        if result.isEmpty, !prefix.isEmpty { result.insert(prefix) }
        return result
    }
}
