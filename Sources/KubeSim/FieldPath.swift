import JSON

/// A path to a field of an object as structured-merge-diff names it: object members, items of
/// lists keyed by their map keys, items of sets by value. The unit of field ownership.
struct FieldPath: Hashable, Sendable, Comparable {
    enum Element: Hashable, Sendable {
        case field(String)
        /// An item of a map list, by its key fields.
        case key([String: JSONValue])
        /// An item of a set list.
        case value(JSONValue)

        /// `f:name`, `k:{"name":"web"}`, `v:"x"`: how `fieldsV1` writes it.
        var fieldsV1Key: String {
            switch self {
            case .field(let name): "f:" + name
            case .key(let keys): "k:" + JSONValue.object(keys).serialized()
            case .value(let value): "v:" + value.serialized()
            }
        }

        init?(fieldsV1Key text: String) {
            let body = String(text.dropFirst(2))
            switch text.prefix(2) {
            case "f:": self = .field(body)
            case "k:":
                guard case .object(let keys) = (try? JSONValue(parsing: body)) ?? .null else { return nil }
                self = .key(keys)
            case "v:":
                guard let value = try? JSONValue(parsing: body) else { return nil }
                self = .value(value)
            default: return nil
            }
        }

        /// `.spec`, `[name="web"]`, `[="x"]`: how conflict messages write it.
        var display: String {
            switch self {
            case .field(let name): "." + name
            case .key(let keys): "[" + keys.keys.sorted().map { "\($0)=\(keys[$0]!.serialized())" }.joined(separator: ",") + "]"
            case .value(let value): "[=" + value.serialized() + "]"
            }
        }
    }

    var elements: [Element]

    init(_ elements: [Element] = []) {
        self.elements = elements
    }

    static func fields(_ names: [String]) -> FieldPath {
        FieldPath(names.map(Element.field))
    }

    func appending(_ element: Element) -> FieldPath {
        FieldPath(elements + [element])
    }

    var display: String { elements.map(\.display).joined() }

    func hasPrefix(_ other: FieldPath) -> Bool {
        elements.count >= other.elements.count && Array(elements.prefix(other.elements.count)) == other.elements
    }

    static func < (lhs: FieldPath, rhs: FieldPath) -> Bool {
        lhs.elements.map(\.fieldsV1Key).lexicographicallyPrecedes(rhs.elements.map(\.fieldsV1Key))
    }

    /// The value at this path in an object; nil when absent.
    func value(in object: JSONValue) -> JSONValue? {
        var current: JSONValue? = object
        for element in elements {
            guard let node = current else { return nil }
            switch element {
            case .field(let name): current = node[name]
            case .key(let keys): current = node.array?.first { item in keys.allSatisfy { item[$0.key] == $0.value } }
            case .value(let value): current = node.array?.contains(value) == true ? value : nil
            }
        }
        return current
    }

    /// The object without the value at this path.
    func removed(from object: JSONValue) -> JSONValue {
        guard let first = elements.first else { return .null }
        let rest = FieldPath(Array(elements.dropFirst()))
        switch (first, object) {
        case (.field(let name), .object(var members)):
            guard let child = members[name] else { return object }
            members[name] = rest.elements.isEmpty ? nil : rest.removed(from: child)
            return .object(members)
        case (.key(let keys), .array(var items)):
            guard let index = items.firstIndex(where: { item in keys.allSatisfy { item[$0.key] == $0.value } }) else { return object }
            if rest.elements.isEmpty { items.remove(at: index) } else { items[index] = rest.removed(from: items[index]) }
            return .array(items)
        case (.value(let value), .array(let items)):
            return .array(items.filter { $0 != value })
        default:
            return object
        }
    }
}

extension Set where Element == FieldPath {
    /// The `fieldsV1` tree of a set of paths; `.` marks a path that is itself a member and has children.
    var fieldsV1: JSONValue {
        let root = FieldsV1Node()
        for path in self {
            var node = root
            for element in path.elements {
                let key = element.fieldsV1Key
                if let child = node.children[key] {
                    node = child
                } else {
                    let child = FieldsV1Node()
                    node.children[key] = child
                    node = child
                }
            }
            node.isMember = true
        }
        return root.json
    }

    init(fieldsV1 value: JSONValue) {
        self.init()
        func walk(_ node: JSONValue, _ prefix: [FieldPath.Element]) {
            guard case .object(let members) = node else { return }
            if members.isEmpty || members["."] != nil, !prefix.isEmpty { insert(FieldPath(prefix)) }
            for (key, child) in members where key != "." {
                guard let element = FieldPath.Element(fieldsV1Key: key) else { continue }
                walk(child, prefix + [element])
            }
        }
        walk(value, [])
    }
}

/// A node of a `fieldsV1` tree being built: its children by key, and whether its path is a member.
private final class FieldsV1Node {
    var children: [String: FieldsV1Node] = [:]
    var isMember = false

    var json: JSONValue {
        var members = children.mapValues(\.json)
        if isMember, !members.isEmpty { members["."] = .emptyObject }
        return .object(members)
    }
}
