import Foundation
import JSON

public struct Secret: KubeResource {
    public static let kind = ResourceKind.secret
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }

    public var type: String? {
        get { value("type")?.string }
        set { object["type"] = newValue.map(JSONValue.string) }
    }

    /// Decoded `data` values (base64 in the object).
    public var data: [String: Data] {
        get { (object["data"]?.object ?? [:]).compactMapValues { $0.string.flatMap { Data(base64Encoded: $0) } } }
        set { object["data"] = .object(newValue.mapValues { .string($0.base64EncodedString()) }) }
    }

    /// A `data` value as UTF-8 text.
    public func string(_ key: String) -> String? {
        data[key].map { String(decoding: $0, as: UTF8.self) }
    }
}

public struct Lease: KubeResource {
    public static let kind = ResourceKind.lease
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }

    public var holderIdentity: String? {
        get { value("spec", "holderIdentity")?.string.flatMap { $0.isEmpty ? nil : $0 } }
        set { object[path: ["spec", "holderIdentity"]] = .string(newValue ?? "") }
    }

    public var leaseDurationSeconds: Int? {
        get { value("spec", "leaseDurationSeconds")?.int.map(Int.init) }
        set { object[path: ["spec", "leaseDurationSeconds"]] = newValue.map { .int(Int64($0)) } }
    }

    public var acquireTime: Date? {
        get { value("spec", "acquireTime")?.string.flatMap(KubeTime.parse) }
        set { object[path: ["spec", "acquireTime"]] = newValue.map { .string(MicroTime.format($0)) } }
    }

    public var renewTime: Date? {
        get { value("spec", "renewTime")?.string.flatMap(KubeTime.parse) }
        set { object[path: ["spec", "renewTime"]] = newValue.map { .string(MicroTime.format($0)) } }
    }

    public var leaseTransitions: Int {
        get { Int(value("spec", "leaseTransitions")?.int ?? 0) }
        set { object[path: ["spec", "leaseTransitions"]] = .int(Int64(newValue)) }
    }
}

/// `MicroTime`: RFC 3339 with microseconds, as Lease times are written.
enum MicroTime {
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

public struct Event: KubeResource {
    public static let kind = ResourceKind.event
    public var object: JSONValue
    public init(object: JSONValue) { self.object = object }

    /// A `Normal` or `Warning` event about `involved`, reported by `component`.
    public init(about involved: JSONValue, type: String, reason: String, message: String, component: String, at time: Date) {
        let namespace = involved[path: ["metadata", "namespace"]]?.string ?? "default"
        let name = involved[path: ["metadata", "name"]]?.string ?? "object"
        let timestamp = KubeTime.format(time)
        self.init(object: [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["generateName": .string("\(name)."), "namespace": .string(namespace)],
            "involvedObject": [
                "apiVersion": involved["apiVersion"] ?? "", "kind": involved["kind"] ?? "", "name": .string(name),
                "namespace": .string(namespace), "uid": involved[path: ["metadata", "uid"]] ?? "",
                "resourceVersion": involved[path: ["metadata", "resourceVersion"]] ?? "",
            ],
            "type": .string(type), "reason": .string(reason), "message": .string(message),
            "source": ["component": .string(component)], "reportingComponent": .string(component),
            "firstTimestamp": .string(timestamp), "lastTimestamp": .string(timestamp), "count": 1,
        ])
    }

    public var reason: String? { value("reason")?.string }
    public var message: String? { value("message")?.string }
    public var type: String? { value("type")?.string }
}
