import JSON
import Synchronization

/// A node of an OpenAPI schema, with `$ref` resolved against the built-in definitions: what
/// validation, pruning, defaulting, merging and `kubectl explain` read. Built-in kinds use the
/// definitions kube-apiserver publishes; custom resources use their CRD's structural schema.
struct Schema: Sendable {
    private let core: Core

    var node: JSONValue { core.node }
    /// The definition name when the node was reached through a reference (`io.k8s.api.apps.v1.DeploymentSpec`).
    var name: String? { core.name }

    init(_ node: JSONValue, name: String? = nil) {
        var resolved = node
        var resolvedName = name
        // `$ref`, or `allOf: [{$ref}]` as OpenAPI v3 documents write it.
        while let reference = resolved["$ref"]?.string ?? resolved["allOf"]?.array?.first?["$ref"]?.string {
            let definition = reference.hasPrefix("#/definitions/") ? String(reference.dropFirst(14)) : String(reference.split(separator: "/").last ?? "")
            guard let target = BuiltInSchemas.definitions[definition] else { break }
            resolvedName = definition
            resolved = target
        }
        core = resolvedName.map { Core.named($0, resolved) } ?? Core(resolved, name: nil)
    }

    var type: String? { core.type }
    var format: String? { core.format }
    var isIntOrString: Bool { core.isIntOrString }
    var isQuantity: Bool { core.name == "io.k8s.apimachinery.pkg.api.resource.Quantity" }
    var isTime: Bool { core.format == "date-time" }
    var preservesUnknownFields: Bool { core.preservesUnknownFields }
    var isEmbeddedResource: Bool { node["x-kubernetes-embedded-resource"]?.bool == true }
    var nullable: Bool { node["nullable"]?.bool == true }
    var required: [String] { (node["required"]?.array ?? []).compactMap(\.string) }
    var properties: [String: JSONValue]? { core.properties }

    func property(_ key: String) -> Schema? {
        core.property(key)
    }

    /// The schema of a map's values (`additionalProperties`), nil for structs.
    var additionalProperties: Schema? {
        guard let value = node["additionalProperties"], value != .bool(false) else { return nil }
        return value == .bool(true) ? Schema(["x-kubernetes-preserve-unknown-fields": true]) : Schema(value)
    }

    var items: Schema? { core.items }

    /// A resolved node with what every write reads of it worked out once: a definition's is
    /// shared by every schema that refers to it, and keeps the schemas of its properties (each
    /// write walked the definitions anew, a sixth of the simulator's time).
    private final class Core: Sendable {
        let node: JSONValue
        let name: String?
        let type: String?
        let format: String?
        let isIntOrString: Bool
        let preservesUnknownFields: Bool
        let properties: [String: JSONValue]?
        private let resolvedProperties = Mutex<[String: Schema]>([:])
        private let resolvedItems = Mutex<Schema??>(nil)

        private static let definitions = Mutex<[String: Core]>([:])

        /// The one core of a definition.
        static func named(_ name: String, _ node: JSONValue) -> Core {
            if let known = definitions.withLock({ $0[name] }) { return known }
            let core = Core(node, name: name)
            return definitions.withLock { known in
                if let existing = known[name] { return existing }
                known[name] = core
                return core
            }
        }

        init(_ node: JSONValue, name: String?) {
            self.node = node
            self.name = name
            type = node["type"]?.string
            format = node["format"]?.string
            isIntOrString = format == "int-or-string" || node["x-kubernetes-int-or-string"]?.bool == true
            preservesUnknownFields = node["x-kubernetes-preserve-unknown-fields"]?.bool == true
            properties = node["properties"]?.object
        }

        func property(_ key: String) -> Schema? {
            if let known = resolvedProperties.withLock({ $0[key] }) { return known }
            guard let property = properties?[key] else { return nil }
            let schema = Schema(property)
            resolvedProperties.withLock { $0[key] = schema }
            return schema
        }

        var items: Schema? {
            if let known = resolvedItems.withLock({ $0 }) { return known }
            let schema = node["items"].map { Schema($0) }
            resolvedItems.withLock { $0 = .some(schema) }
            return schema
        }
    }

    /// Whether the node is a struct, a map, a list, or a scalar.
    var isObject: Bool { type == "object" || properties != nil || node["additionalProperties"] != nil }

    // MARK: Merge and ownership semantics

    enum ListType: Sendable, Equatable {
        case atomic, set, map(keys: [String])
    }

    /// How a list merges, as structured-merge-diff reads the schema: `x-kubernetes-list-type`,
    /// else a `merge` patch strategy (by the merge key, or as a set), else atomic.
    var listType: ListType {
        switch node["x-kubernetes-list-type"]?.string {
        case "map": return .map(keys: (node["x-kubernetes-list-map-keys"]?.array ?? []).compactMap(\.string))
        case "set": return .set
        case "atomic": return .atomic
        default: break
        }
        if (patchStrategy ?? "").split(separator: ",").contains("merge") {
            if let key = patchMergeKey { return .map(keys: [key]) }
            return .set
        }
        return .atomic
    }

    /// Whether a map or struct is owned and replaced as a whole (`x-kubernetes-map-type: atomic`).
    var isAtomicMap: Bool { node["x-kubernetes-map-type"]?.string == "atomic" }
    var patchStrategy: String? { node["x-kubernetes-patch-strategy"]?.string }
    var patchMergeKey: String? { node["x-kubernetes-patch-merge-key"]?.string }

    /// The Go type name kube-apiserver's JSON decoder reports (`int32`, `v1.Container`, `[]string`).
    var goTypeName: String {
        if let name, !isQuantity, !isIntOrString {
            let parts = name.split(separator: ".")
            return parts.count >= 2 ? "\(parts[parts.count - 2]).\(parts[parts.count - 1])" : name
        }
        if isQuantity { return "resource.Quantity" }
        if isIntOrString { return "intstr.IntOrString" }
        switch type {
        case "integer": return format == "int32" ? "int32" : "int64"
        case "number": return "float64"
        case "boolean": return "bool"
        case "string": return format == "byte" ? "[]uint8" : "string"
        case "array": return "[]" + (items?.goTypeName ?? "interface {}")
        default:
            if let values = additionalProperties { return "map[string]" + values.goTypeName }
            return "map[string]interface {}"
        }
    }
}

/// The published definitions of the built-in kinds (see scripts/kubesim_schemas.py).
enum BuiltInSchemas {
    static let definitions: [String: JSONValue] = {
        (try? JSONValue(parsing: document))?["definitions"]?.object ?? [:]
    }()

    /// Definition name by `group/version/kind`.
    static let rootNames: [String: String] = {
        var names: [String: String] = [:]
        for (name, definition) in definitions {
            for gvk in definition["x-kubernetes-group-version-kind"]?.array ?? [] {
                names["\(gvk["group"]?.string ?? "")/\(gvk["version"]?.string ?? "")/\(gvk["kind"]?.string ?? "")"] = name
            }
        }
        return names
    }()

    static func schema(group: String, version: String, kind: String) -> Schema? {
        rootNames["\(group)/\(version)/\(kind)"].flatMap { name in definitions[name].map { Schema($0, name: name) } }
    }
}
