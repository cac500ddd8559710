import JSON

/// Argo CD's comparison of a desired manifest with the live object, the part that decides
/// `Synced`/`OutOfSync`: only the fields the manifest sets count (what a three-way diff against
/// the last applied configuration shows), minus the `ignoreDifferences` JSON pointers that match
/// the object. Pure: no I/O.
public enum Drift {
    /// An `ignoreDifferences` entry of an Application.
    public struct Rule: Sendable, Equatable {
        public var group: String
        public var kind: String
        public var name: String?
        public var namespace: String?
        public var jsonPointers: [String]

        public init(group: String = "", kind: String, name: String? = nil, namespace: String? = nil, jsonPointers: [String]) {
            self.group = group
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.jsonPointers = jsonPointers
        }

        /// Reads `spec.ignoreDifferences[]`; entries without a kind match nothing, as in Argo CD.
        public static func rules(from spec: JSONValue?) -> [Rule] {
            (spec?["ignoreDifferences"]?.array ?? []).compactMap { entry in
                guard let kind = entry["kind"]?.string else { return nil }
                return Rule(
                    group: entry["group"]?.string ?? "", kind: kind, name: entry["name"]?.string,
                    namespace: entry["namespace"]?.string, jsonPointers: entry["jsonPointers"]?.array?.compactMap(\.string) ?? []
                )
            }
        }

        /// Argo CD matches group and kind (`*` for any), then name and namespace when given.
        func matches(group: String, kind: String, name: String, namespace: String?) -> Bool {
            (self.group == "*" || self.group == group) && (self.kind == "*" || self.kind == kind)
                && (self.name.map { $0 == name } ?? true) && (self.namespace.map { $0 == (namespace ?? "") } ?? true)
        }
    }

    /// The ignored pointers that apply to `object`.
    public static func ignoredPointers(for object: JSONValue, rules: [Rule]) -> [JSONPointer] {
        let (group, kind) = groupKind(object)
        let name = object[path: ["metadata", "name"]]?.string ?? ""
        let namespace = object[path: ["metadata", "namespace"]]?.string
        return rules.filter { $0.matches(group: group, kind: kind, name: name, namespace: namespace) }
            .flatMap(\.jsonPointers).compactMap { try? JSONPointer(parsing: $0) }
    }

    /// The JSON pointers (as text) where `live` differs from what `desired` sets; empty when in sync.
    public static func differences(desired: JSONValue, live: JSONValue, ignoring pointers: [JSONPointer]) -> [String] {
        var desired = desired, live = live
        for pointer in pointers {
            desired = removing(pointer, from: desired)
            live = removing(pointer, from: live)
        }
        var found: [String] = []
        compare(desired, live, path: [], into: &found)
        return found
    }

    /// What a sync applies: with `RespectIgnoreDifferences=true` the ignored fields take the
    /// live values (or are left out when the live object has none), so the sync keeps them.
    public static func respectingIgnored(_ desired: JSONValue, live: JSONValue?, pointers: [JSONPointer]) -> JSONValue {
        var result = desired
        for pointer in pointers {
            if let value = live.flatMap({ JSONPatch.value(at: pointer, in: $0) }) {
                result = setting(pointer, to: value, in: result)
            } else {
                result = removing(pointer, from: result)
            }
        }
        return result
    }

    static func groupKind(_ object: JSONValue) -> (group: String, kind: String) {
        let apiVersion = object["apiVersion"]?.string ?? ""
        let parts = apiVersion.split(separator: "/")
        return (parts.count == 2 ? String(parts[0]) : "", object["kind"]?.string ?? "")
    }

    /// Members the server owns or adds, never compared.
    private static let serverOwned: Set<String> = [
        "status", "metadata/resourceVersion", "metadata/uid", "metadata/generation", "metadata/creationTimestamp",
        "metadata/managedFields", "metadata/selfLink", "metadata/ownerReferences", "metadata/finalizers",
    ]

    private static func compare(_ desired: JSONValue, _ live: JSONValue?, path: [String], into found: inout [String]) {
        if serverOwned.contains(path.joined(separator: "/")) { return }
        switch desired {
        case .object(let members):
            guard let liveMembers = live?.object else {
                found.append(JSONPointer(tokens: path).description)
                return
            }
            for key in members.keys.sorted() {
                compare(members[key]!, liveMembers[key], path: path + [key], into: &found)
            }
        case .array(let items):
            guard let liveItems = live?.array, liveItems.count == items.count else {
                found.append(JSONPointer(tokens: path).description)
                return
            }
            for (index, item) in items.enumerated() {
                compare(item, liveItems[index], path: path + [String(index)], into: &found)
            }
        case .null:
            // A null in a manifest means "not set".
            if let live, live != .null { found.append(JSONPointer(tokens: path).description) }
        default:
            if !equal(desired, live) { found.append(JSONPointer(tokens: path).description) }
        }
    }

    /// Numbers compare by value (`1` and `1.0`); everything else exactly.
    private static func equal(_ desired: JSONValue, _ live: JSONValue?) -> Bool {
        guard let live else { return false }
        if let first = desired.double, let second = live.double, desired.string == nil { return first == second }
        return desired == live
    }

    static func removing(_ pointer: JSONPointer, from document: JSONValue) -> JSONValue {
        (try? JSONPatch([.remove(pointer)]).applied(to: document)) ?? document
    }

    static func setting(_ pointer: JSONPointer, to value: JSONValue, in document: JSONValue) -> JSONValue {
        var result = document
        var parents: [String] = []
        for token in pointer.tokens.dropLast() {
            parents.append(token)
            if JSONPatch.value(at: JSONPointer(tokens: parents), in: result) == nil {
                result = (try? JSONPatch([.add(JSONPointer(tokens: parents), .emptyObject)]).applied(to: result)) ?? result
            }
        }
        return (try? JSONPatch([.add(pointer, value)]).applied(to: result)) ?? result
    }
}
