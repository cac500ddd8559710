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

    private static func since(_ time: JSONValue?, _ now: Date) -> JSONValue {
        .string(Timestamp.parse(time?.string ?? "").map { humanDuration(now.timeIntervalSince($0)) } ?? "<none>")
    }

    private static func labelText(_ labels: JSONValue?) -> JSONValue {
        let members = labels?.object ?? [:]
        return .string(members.isEmpty ? "<none>" : members.keys.sorted().map { "\($0)=\(members[$0]?.string ?? "")" }.joined(separator: ","))
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
                    Column(name: "Timezone") { o, _ in o[path: ["spec", "timeZone"]] ?? "<none>" },
                    Column(name: "Suspend", type: "boolean") { o, _ in .string(o[path: ["spec", "suspend"]]?.bool == true ? "True" : "False") },
                    Column(name: "Active", type: "integer") { o, _ in .int(Int64(o[path: ["status", "active"]]?.array?.count ?? 0)) },
                    Column(name: "Last Schedule") { o, now in since(o[path: ["status", "lastScheduleTime"]], now) },
                    age,
                    Column(name: "Containers", priority: 1) { o, _ in containers(o, field: "name") },
                    Column(name: "Images", priority: 1) { o, _ in containers(o, field: "image") },
                    Column(name: "Selector", priority: 1) { _, _ in "<none>" }]
        case ("batch", "Job"):
            return [name,
                    Column(name: "Status") { o, _ in
                        let conditions = o[path: ["status", "conditions"]]?.array ?? []
                        if conditions.contains(where: { $0["type"] == "Complete" && $0["status"] == "True" }) { return "Complete" }
                        if conditions.contains(where: { $0["type"] == "Failed" && $0["status"] == "True" }) { return "Failed" }
                        return o[path: ["spec", "suspend"]]?.bool == true ? "Suspended" : "Running"
                    },
                    Column(name: "Completions") { o, _ in .string("\(int(o, "status", "succeeded"))/\(o[path: ["spec", "completions"]]?.int ?? 1)") },
                    Column(name: "Duration") { _, _ in "0s" },
                    age]
        case ("apps", "DaemonSet"):
            return [name,
                    Column(name: "Desired", type: "integer") { o, _ in .int(int(o, "status", "desiredNumberScheduled")) },
                    Column(name: "Current", type: "integer") { o, _ in .int(int(o, "status", "currentNumberScheduled")) },
                    Column(name: "Ready", type: "integer") { o, _ in .int(int(o, "status", "numberReady")) },
                    Column(name: "Up-to-date", type: "integer") { o, _ in .int(int(o, "status", "updatedNumberScheduled")) },
                    Column(name: "Available", type: "integer") { o, _ in .int(int(o, "status", "numberAvailable")) },
                    Column(name: "Node Selector") { o, _ in labelText(o[path: ["spec", "template", "spec", "nodeSelector"]]) },
                    age]
        case ("", "Service"):
            return [name,
                    Column(name: "Type") { o, _ in o[path: ["spec", "type"]] ?? "ClusterIP" },
                    Column(name: "Cluster-IP") { o, _ in o[path: ["spec", "clusterIP"]] ?? "<none>" },
                    Column(name: "External-IP") { o, _ in
                        if let ips = o[path: ["spec", "externalIPs"]]?.array, !ips.isEmpty { return .string(ips.compactMap(\.string).joined(separator: ",")) }
                        if let name = o[path: ["spec", "externalName"]]?.string { return .string(name) }
                        return o[path: ["spec", "type"]] == "LoadBalancer" ? "<pending>" : "<none>"
                    },
                    Column(name: "Port(s)") { o, _ in
                        let ports = (o[path: ["spec", "ports"]]?.array ?? []).map { port -> String in
                            let node = port["nodePort"]?.int.map { ":\($0)" } ?? ""
                            return "\(port["port"]?.int ?? 0)\(node)/\(port["protocol"]?.string ?? "TCP")"
                        }
                        return .string(ports.isEmpty ? "<none>" : ports.joined(separator: ","))
                    },
                    age,
                    Column(name: "Selector", priority: 1) { o, _ in labelText(o[path: ["spec", "selector"]]) }]
        case ("", "Event"), ("events.k8s.io", "Event"):
            return [Column(name: "Last Seen") { o, now in since(o["lastTimestamp"] ?? o["eventTime"] ?? o[path: ["metadata", "creationTimestamp"]], now) },
                    Column(name: "Type") { o, _ in o["type"] ?? "" },
                    Column(name: "Reason") { o, _ in o["reason"] ?? "" },
                    Column(name: "Object") { o, _ in
                        let involved = o["involvedObject"] ?? o["regarding"] ?? .emptyObject
                        return .string("\((involved["kind"]?.string ?? "").lowercased())/\(involved["name"]?.string ?? "")")
                    },
                    Column(name: "Message") { o, _ in o["message"] ?? o["note"] ?? "" }]
        case ("apiextensions.k8s.io", "CustomResourceDefinition"), ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"):
            return [name, Column(name: "Created At", type: "date") { o, _ in o[path: ["metadata", "creationTimestamp"]] ?? "" }]
        case ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            return [name, Column(name: "Role") { o, _ in .string("\(o[path: ["roleRef", "kind"]]?.string ?? "")/\(o[path: ["roleRef", "name"]]?.string ?? "")") }, age]
        case ("", "Node"):
            return [name,
                    Column(name: "Status") { o, _ in
                        let ready = (o[path: ["status", "conditions"]]?.array ?? []).first { $0["type"] == "Ready" }
                        return ready?["status"] == "True" ? "Ready" : "NotReady"
                    },
                    Column(name: "Roles") { _, _ in "<none>" },
                    age,
                    Column(name: "Version") { o, _ in o[path: ["status", "nodeInfo", "kubeletVersion"]] ?? "" }]
        case ("", "ServiceAccount"):
            return [name, Column(name: "Secrets", type: "integer") { o, _ in .int(Int64(o["secrets"]?.array?.count ?? 0)) }, age]
        case ("", "PersistentVolumeClaim"):
            return [name,
                    Column(name: "Status") { o, _ in o[path: ["status", "phase"]] ?? "Pending" },
                    Column(name: "Volume") { o, _ in o[path: ["spec", "volumeName"]] ?? "" },
                    Column(name: "Capacity") { o, _ in o[path: ["status", "capacity", "storage"]] ?? "" },
                    Column(name: "Access Modes") { o, _ in .string((o[path: ["spec", "accessModes"]]?.array ?? []).compactMap(\.string).map { $0 == "ReadWriteOnce" ? "RWO" : ($0 == "ReadOnlyMany" ? "ROX" : ($0 == "ReadWriteMany" ? "RWX" : "RWOP")) }.joined(separator: ",")) },
                    Column(name: "StorageClass") { o, _ in o[path: ["spec", "storageClassName"]] ?? "<unset>" },
                    Column(name: "VolumeAttributesClass") { _, _ in "<unset>" },
                    age]
        case ("coordination.k8s.io", "Lease"):
            return [name, Column(name: "Holder") { o, _ in o[path: ["spec", "holderIdentity"]] ?? "" }, age]
        case ("networking.k8s.io", "Ingress"):
            return [name,
                    Column(name: "Class") { o, _ in o[path: ["spec", "ingressClassName"]] ?? "<none>" },
                    Column(name: "Hosts") { o, _ in
                        let hosts = (o[path: ["spec", "rules"]]?.array ?? []).map { $0["host"]?.string ?? "*" }
                        return .string(hosts.isEmpty ? "*" : hosts.joined(separator: ","))
                    },
                    Column(name: "Address") { _, _ in "" },
                    Column(name: "Ports") { o, _ in (o[path: ["spec", "tls"]]?.array ?? []).isEmpty ? "80" : "80, 443" },
                    age]
        case ("networking.k8s.io", "NetworkPolicy"):
            return [name, Column(name: "Pod-Selector") { o, _ in labelText(o[path: ["spec", "podSelector", "matchLabels"]]) }, age]
        case ("policy", "PodDisruptionBudget"):
            return [name,
                    Column(name: "Min Available") { o, _ in o[path: ["spec", "minAvailable"]].map { .string($0.string ?? FieldError.goValue($0)) } ?? "N/A" },
                    Column(name: "Max Unavailable") { o, _ in o[path: ["spec", "maxUnavailable"]].map { .string($0.string ?? FieldError.goValue($0)) } ?? "N/A" },
                    Column(name: "Allowed Disruptions", type: "integer") { o, _ in .int(int(o, "status", "disruptionsAllowed")) },
                    age]
        case ("autoscaling", "HorizontalPodAutoscaler"):
            return [name,
                    Column(name: "Reference") { o, _ in .string("\(o[path: ["spec", "scaleTargetRef", "kind"]]?.string ?? "")/\(o[path: ["spec", "scaleTargetRef", "name"]]?.string ?? "")") },
                    Column(name: "Targets") { _, _ in "<unknown>" },
                    Column(name: "MinPods", type: "integer") { o, _ in .int(o[path: ["spec", "minReplicas"]]?.int ?? 1) },
                    Column(name: "MaxPods", type: "integer") { o, _ in .int(int(o, "spec", "maxReplicas")) },
                    Column(name: "Replicas", type: "integer") { o, _ in .int(int(o, "status", "currentReplicas")) },
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
