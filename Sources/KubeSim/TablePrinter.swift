import Foundation
import JSON

/// Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for, with the
/// columns kube-apiserver prints for the common kinds and Name/Age for the rest.
enum TablePrinter {
    struct Column: Sendable {
        var name: String
        var type: String = "string"
        var priority: Int = 0
        var cell: @Sendable (JSONValue, Date) -> JSONValue
    }

    static func table(for type: ResourceType, objects: [JSONValue], resourceVersion: String?, includeObject: String, now: Date) -> JSONValue {
        let columns = self.columns(for: type)
        let rows: [JSONValue] = objects.map { object in
            var row: JSONValue = ["cells": .array(columns.map { $0.cell(object, now) })]
            switch includeObject {
            case "None": break
            case "Object": row["object"] = object
            default:
                row["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"] ?? .emptyObject]
            }
            return row
        }
        var metadata: JSONValue = .emptyObject
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": .array(columns.map { ["name": .string($0.name), "type": .string($0.type), "format": $0.name == "Name" ? "name" : "", "description": "", "priority": .int(Int64($0.priority))] }),
            "rows": .array(rows),
        ]
    }

    private static let name = Column(name: "Name") { object, _ in object[path: ["metadata", "name"]] ?? "" }
    private static let age = Column(name: "Age") { object, now in
        .string(Timestamp.parse(object[path: ["metadata", "creationTimestamp"]]?.string ?? "").map { humanDuration(now.timeIntervalSince($0)) } ?? "<unknown>")
    }

    private static func int(_ object: JSONValue, _ path: String...) -> Int64 {
        object[path: path]?.int ?? 0
    }

    private static func containers(_ object: JSONValue, field: String) -> JSONValue {
        let containers = object[path: ["spec", "template", "spec", "containers"]]?.array ?? object[path: ["spec", "jobTemplate", "spec", "template", "spec", "containers"]]?.array ?? []
        return .string(containers.compactMap { $0[field]?.string }.joined(separator: ","))
    }

    private static func selector(_ object: JSONValue) -> JSONValue {
        let labels = object[path: ["spec", "selector", "matchLabels"]]?.object ?? [:]
        return .string(labels.keys.sorted().map { "\($0)=\(labels[$0]?.string ?? "")" }.joined(separator: ","))
    }

    private static func columns(for type: ResourceType) -> [Column] {
        switch (type.group, type.kind) {
        case ("apps", "Deployment"):
            return [name,
                    Column(name: "Ready") { o, _ in .string("\(int(o, "status", "readyReplicas"))/\(int(o, "spec", "replicas"))") },
                    Column(name: "Up-to-date", type: "integer") { o, _ in .int(int(o, "status", "updatedReplicas")) },
                    Column(name: "Available", type: "integer") { o, _ in .int(int(o, "status", "availableReplicas")) },
                    age,
                    Column(name: "Containers", priority: 1) { o, _ in containers(o, field: "name") },
                    Column(name: "Images", priority: 1) { o, _ in containers(o, field: "image") },
                    Column(name: "Selector", priority: 1) { o, _ in selector(o) }]
        case ("apps", "StatefulSet"):
            return [name,
                    Column(name: "Ready") { o, _ in .string("\(int(o, "status", "readyReplicas"))/\(int(o, "spec", "replicas"))") },
                    age,
                    Column(name: "Containers", priority: 1) { o, _ in containers(o, field: "name") },
                    Column(name: "Images", priority: 1) { o, _ in containers(o, field: "image") }]
        case ("apps", "ReplicaSet"):
            return [name,
                    Column(name: "Desired", type: "integer") { o, _ in .int(int(o, "spec", "replicas")) },
                    Column(name: "Current", type: "integer") { o, _ in .int(int(o, "status", "replicas")) },
                    Column(name: "Ready", type: "integer") { o, _ in .int(int(o, "status", "readyReplicas")) },
                    age]
        case ("batch", "CronJob"):
            return [name,
                    Column(name: "Schedule") { o, _ in o[path: ["spec", "schedule"]] ?? "" },
                    Column(name: "Suspend", type: "boolean") { o, _ in o[path: ["spec", "suspend"]] ?? false },
                    Column(name: "Active", type: "integer") { o, _ in .int(Int64(o[path: ["status", "active"]]?.array?.count ?? 0)) },
                    Column(name: "Last Schedule") { o, now in .string(Timestamp.parse(o[path: ["status", "lastScheduleTime"]]?.string ?? "").map { humanDuration(now.timeIntervalSince($0)) } ?? "<none>") },
                    age]
        case ("", "Pod"):
            return [name,
                    Column(name: "Ready") { o, _ in
                        let statuses = o[path: ["status", "containerStatuses"]]?.array ?? []
                        let total = o[path: ["spec", "containers"]]?.array?.count ?? 0
                        return .string("\(statuses.filter { $0["ready"]?.bool == true }.count)/\(total)")
                    },
                    Column(name: "Status") { o, _ in o[path: ["status", "phase"]] ?? "Unknown" },
                    Column(name: "Restarts", type: "integer") { _, _ in 0 },
                    age]
        case ("", "Namespace"):
            return [name, Column(name: "Status") { o, _ in o[path: ["status", "phase"]] ?? "Active" }, age]
        case ("", "Secret"):
            return [name,
                    Column(name: "Type") { o, _ in o["type"] ?? "Opaque" },
                    Column(name: "Data", type: "integer") { o, _ in .int(Int64(o["data"]?.object?.count ?? 0)) },
                    age]
        case ("", "ConfigMap"):
            return [name, Column(name: "Data", type: "integer") { o, _ in .int(Int64(o["data"]?.object?.count ?? 0)) }, age]
        default:
            let custom = type.printerColumns.map { column in
                Column(name: column.name, type: column.type) { object, _ in object[path: column.path] ?? "" }
            }
            return [name] + custom + [age]
        }
    }

    /// kubectl's way of showing an age: `42s`, `5m10s`, `3h`, `4d5h`, `200d`.
    static func humanDuration(_ seconds: TimeInterval) -> String {
        let total = Int(max(0, seconds))
        switch total {
        case ..<120: return "\(total)s"
        case ..<600: return total % 60 == 0 ? "\(total / 60)m" : "\(total / 60)m\(total % 60)s"
        case ..<10_800: return "\(total / 60)m"
        case ..<28_800: return (total % 3600) / 60 == 0 ? "\(total / 3600)h" : "\(total / 3600)h\((total % 3600) / 60)m"
        case ..<172_800: return "\(total / 3600)h"
        case ..<691_200: return (total % 86_400) / 3600 == 0 ? "\(total / 86_400)d" : "\(total / 86_400)d\((total % 86_400) / 3600)h"
        case ..<(86_400 * 365 * 2): return "\(total / 86_400)d"
        default: return "\(total / (86_400 * 365))y"
        }
    }
}
