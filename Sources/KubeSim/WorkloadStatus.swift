import Foundation
import JSON

/// The status the workload controllers write, simulated without pods: a spec change is observed
/// at once (observedGeneration, the new revision, updated replicas) and becomes ready and
/// available after `workloadReadyDelay`, with the conditions and revision bookkeeping
/// `kubectl rollout status` and `kubectl wait --for=condition=Available` read.
enum WorkloadStatus {
    static let kinds: Set<String> = ["Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"]
    static let revisionAnnotation = "deployment.kubernetes.io/revision"

    /// `pod-template-hash`: a short, stable name for a pod template.
    static func templateHash(_ object: JSONValue) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var value: UInt64 = 1469598103934665603
        for byte in (object[path: ["spec", "template"]] ?? .null).serialized().utf8 { value = (value ^ UInt64(byte)) &* 1099511628211 }
        return String((0..<10).map { _ in
            defer { value /= UInt64(alphabet.count) }
            return alphabet[Int(value % UInt64(alphabet.count))]
        })
    }

    /// The status once the controller observed the object: `ready` false while the new pods start.
    static func status(of object: JSONValue, kind: String, ready: Bool, nodes: Int, now: Date) -> JSONValue {
        var status = object["status"]?.object ?? [:]
        let generation = object[path: ["metadata", "generation"]] ?? 1
        let name = object[path: ["metadata", "name"]]?.string ?? ""
        let desired = kind == "DaemonSet" ? Int64(nodes) : (object[path: ["spec", "replicas"]]?.int ?? 1)
        let previousReady = status[kind == "DaemonSet" ? "numberReady" : "readyReplicas"]?.int ?? 0
        let readyCount = ready ? desired : min(previousReady, desired)
        func count(_ field: String, _ value: Int64) { status[field] = value > 0 ? .int(value) : nil }
        status["observedGeneration"] = generation
        switch kind {
        case "DaemonSet":
            status["desiredNumberScheduled"] = .int(desired)
            status["currentNumberScheduled"] = .int(desired)
            status["numberMisscheduled"] = 0
            status["updatedNumberScheduled"] = .int(desired)
            status["numberReady"] = .int(readyCount)
            count("numberAvailable", readyCount)
            count("numberUnavailable", desired - readyCount)
        case "StatefulSet":
            let revision = "\(name)-\(templateHash(object))"
            count("replicas", desired)
            count("readyReplicas", readyCount)
            count("availableReplicas", readyCount)
            count("currentReplicas", ready ? desired : (status["currentReplicas"]?.int ?? 0))
            count("updatedReplicas", desired)
            status["updateRevision"] = .string(revision)
            status["currentRevision"] = ready ? .string(revision) : (status["currentRevision"] ?? .string(revision))
            status["collisionCount"] = 0
        case "ReplicaSet":
            count("replicas", desired)
            count("fullyLabeledReplicas", desired)
            count("readyReplicas", readyCount)
            count("availableReplicas", readyCount)
        default:
            count("replicas", desired)
            count("updatedReplicas", desired)
            count("readyReplicas", readyCount)
            count("availableReplicas", readyCount)
            count("unavailableReplicas", desired - readyCount)
            status["conditions"] = .array(deploymentConditions(object, status: status, desired: desired, available: readyCount, complete: ready, now: now))
        }
        return .object(status)
    }

    private static func deploymentConditions(_ object: JSONValue, status: [String: JSONValue], desired: Int64, available: Int64, complete: Bool, now: Date) -> [JSONValue] {
        let replicaSet = "\(object[path: ["metadata", "name"]]?.string ?? "")-\(templateHash(object))"
        let maxUnavailable = unavailableAllowance(object, desired: desired)
        let isAvailable = available >= desired - maxUnavailable
        let previous = (status["conditions"]?.array ?? []).reduce(into: [String: JSONValue]()) { $0[$1["type"]?.string ?? ""] = $1 }
        let time = JSONValue.string(Timestamp.format(now))
        func condition(_ type: String, _ value: Bool, _ reason: String, _ message: String) -> JSONValue {
            let old = previous[type]
            let changed = old?["status"]?.string != (value ? "True" : "False")
            return [
                "type": .string(type), "status": value ? "True" : "False", "reason": .string(reason), "message": .string(message),
                "lastUpdateTime": time, "lastTransitionTime": changed ? time : (old?["lastTransitionTime"] ?? time),
            ]
        }
        return [
            isAvailable
                ? condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.")
                : condition("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
            complete
                ? condition("Progressing", true, "NewReplicaSetAvailable", "ReplicaSet \"\(replicaSet)\" has successfully progressed.")
                : condition("Progressing", true, "ReplicaSetUpdated", "ReplicaSet \"\(replicaSet)\" is progressing."),
        ]
    }

    /// `maxUnavailable` of a rolling update, resolved against the replicas (percentages round down).
    private static func unavailableAllowance(_ object: JSONValue, desired: Int64) -> Int64 {
        guard object[path: ["spec", "strategy", "type"]]?.string != "Recreate" else { return 0 }
        switch object[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]] {
        case .int(let value): return value
        case .string(let text) where text.hasSuffix("%"): return desired * (Int64(text.dropLast()) ?? 25) / 100
        default: return desired / 4
        }
    }
}

extension ObjectStore {
    /// Observes a workload's new spec now and makes it ready after the configured delay.
    func rollOut(_ type: ResourceType, namespace: String?, name: String) {
        let delay = settings.workloadReadyDelay
        writeWorkloadStatus(type, namespace: namespace, name: name, ready: delay == .zero)
        if delay != .zero {
            let generation = objects[type.storageKey]?[Self.key(namespace: namespace, name: name)]?[path: ["metadata", "generation"]]
            schedule(after: delay) { store in
                let current = store.objects[type.storageKey]?[Self.key(namespace: namespace, name: name)]
                guard current?[path: ["metadata", "generation"]] == generation else { return }
                store.writeWorkloadStatus(type, namespace: namespace, name: name, ready: true)
            }
        }
    }

    private func writeWorkloadStatus(_ type: ResourceType, namespace: String?, name: String, ready: Bool) {
        guard let current = objects[type.storageKey]?[Self.key(namespace: namespace, name: name)] else { return }
        var updated = current
        if type.kind == "Deployment" {
            let hash = WorkloadStatus.templateHash(current)
            let annotations = current[path: ["metadata", "annotations"]]?.object ?? [:]
            let revision = Int(annotations[WorkloadStatus.revisionAnnotation]?.string ?? "") ?? 0
            let key = type.storageKey + "/" + Self.key(namespace: namespace, name: name)
            if revision == 0 || templateHashes[key] != hash {
                updated[path: ["metadata", "annotations", WorkloadStatus.revisionAnnotation]] = .string(String(revision + 1))
                templateHashes[key] = hash
            }
        }
        // A DaemonSet runs on the nodes its pod template's node selector matches.
        let selector = (updated[path: ["spec", "template", "spec", "nodeSelector"]]?.object ?? [:]).compactMapValues(\.string)
        let nodes = (objects["/nodes"] ?? [:]).values.filter { node in
            let labels = node[path: ["metadata", "labels"]]?.object ?? [:]
            return selector.allSatisfy { labels[$0.key]?.string == $0.value }
        }.count
        updated["status"] = WorkloadStatus.status(of: updated, kind: type.kind, ready: ready, nodes: nodes, now: Date())
        guard updated != current else { return }
        commit(type, namespace: namespace, name: name, object: updated, kind: .modified, previous: current)
    }
}
