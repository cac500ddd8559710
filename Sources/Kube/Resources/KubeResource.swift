import Foundation
import JSON

/// A typed view of a Kubernetes object. The whole object is kept as JSON, so fields Sandman
/// does not model survive a read-modify-write round trip untouched.
public protocol KubeResource: Sendable, Equatable, Codable {
    static var kind: ResourceKind { get }
    var object: JSONValue { get set }
    init(object: JSONValue)
}

extension KubeResource {
    public init(from decoder: any Decoder) throws {
        self.init(object: try JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try object.encode(to: encoder)
    }

    /// A new object of this kind with `name` (and `namespace`) and nothing else.
    public init(name: String, namespace: String? = nil) {
        var metadata: JSONValue = ["name": .string(name)]
        if let namespace { metadata["namespace"] = .string(namespace) }
        self.init(object: ["apiVersion": .string(Self.kind.apiVersion), "kind": .string(Self.kind.kind), "metadata": metadata])
    }

    public var metadata: ObjectMeta {
        get { ObjectMeta(object["metadata"] ?? .emptyObject) }
        set { object["metadata"] = newValue.json }
    }

    public var name: String { metadata.name }
    public var namespace: String? { metadata.namespace }

    func value(_ path: String...) -> JSONValue? {
        object[path: path]
    }
}

/// Standard object metadata, read from and written back into the object's JSON.
public struct ObjectMeta: Sendable, Equatable {
    /// The metadata as stored, including fields not modelled here.
    public private(set) var json: JSONValue

    public init(_ json: JSONValue = .emptyObject) {
        self.json = json
    }

    public var name: String {
        get { json["name"]?.string ?? "" }
        set { json["name"] = .string(newValue) }
    }

    public var namespace: String? {
        get { json["namespace"]?.string }
        set { json["namespace"] = newValue.map(JSONValue.string) }
    }

    public var uid: String? { json["uid"]?.string }
    public var resourceVersion: String? { json["resourceVersion"]?.string }
    public var generation: Int64? { json["generation"]?.int }
    public var creationTimestamp: Date? { json["creationTimestamp"]?.string.flatMap(KubeTime.parse) }
    public var deletionTimestamp: Date? { json["deletionTimestamp"]?.string.flatMap(KubeTime.parse) }

    public var labels: [String: String] {
        get { (json["labels"]?.object ?? [:]).compactMapValues(\.string) }
        set { json["labels"] = newValue.isEmpty ? nil : .object(newValue.mapValues(JSONValue.string)) }
    }

    public var annotations: [String: String] {
        get { (json["annotations"]?.object ?? [:]).compactMapValues(\.string) }
        set { json["annotations"] = newValue.isEmpty ? nil : .object(newValue.mapValues(JSONValue.string)) }
    }

    public var finalizers: [String] {
        get { (json["finalizers"]?.array ?? []).compactMap(\.string) }
        set { json["finalizers"] = newValue.isEmpty ? nil : .array(newValue.map(JSONValue.string)) }
    }

    public var ownerReferences: [OwnerReference] {
        get { (json["ownerReferences"]?.array ?? []).map(OwnerReference.init) }
        set { json["ownerReferences"] = newValue.isEmpty ? nil : .array(newValue.map(\.json)) }
    }

    /// True when another object's controller manages this one (a Deployment's ReplicaSet).
    public var isControlled: Bool {
        ownerReferences.contains { $0.controller }
    }
}

public struct OwnerReference: Sendable, Equatable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool
    public var blockOwnerDeletion: Bool

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool = false, blockOwnerDeletion: Bool = false) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }

    init(_ json: JSONValue) {
        self.init(
            apiVersion: json["apiVersion"]?.string ?? "", kind: json["kind"]?.string ?? "", name: json["name"]?.string ?? "",
            uid: json["uid"]?.string ?? "", controller: json["controller"]?.bool ?? false,
            blockOwnerDeletion: json["blockOwnerDeletion"]?.bool ?? false
        )
    }

    var json: JSONValue {
        var json: JSONValue = ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "uid": .string(uid)]
        if controller { json["controller"] = true }
        if blockOwnerDeletion { json["blockOwnerDeletion"] = true }
        return json
    }
}

/// Kubernetes timestamps: RFC 3339 in UTC, whole seconds.
public enum KubeTime {
    public static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    public static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
