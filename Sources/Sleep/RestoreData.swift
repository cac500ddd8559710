import Foundation
import JSON
import Kube
import Scheduling

/// For each slept object, the RFC 7386 merge patch that restores it, keyed as kube-green keys
/// it: `{"Deployment.apps": {"api": "{\"spec\":{\"replicas\":3}}"}, "ConfigMap.": {...}}`.
public struct RestoreData: Sendable, Equatable {
    public private(set) var patches: [String: [String: String]]

    /// Keys are normalized (``normalized(_:)``); when both spellings of a core kind hold an
    /// entry for one object, kube-green's (`ConfigMap.`) wins.
    public init(patches: [String: [String: String]] = [:]) {
        var normalized: [String: [String: String]] = [:]
        for (groupKind, entries) in patches.sorted(by: { $0.key < $1.key }) where !entries.isEmpty {
            normalized[Self.normalized(groupKind), default: [:]].merge(entries) { $1 }
        }
        self.patches = normalized
    }

    /// kube-green's key of a kind, `fmt.Sprintf("%s.%s", Kind, Group)` (api/v1alpha1/sleepinfo_types.go
    /// `PatchTarget.String`): `Deployment.apps`, and `ConfigMap.` for the core group.
    public static func key(group: String, kind: String) -> String {
        "\(kind).\(group)"
    }

    /// A key in kube-green's spelling: Sandman once wrote core kinds without the dot (`ConfigMap`).
    /// Kind names have no dots, so a key without one is always a core kind.
    public static func normalized(_ groupKind: String) -> String {
        groupKind.contains(".") ? groupKind : groupKind + "."
    }

    public var isEmpty: Bool { patches.values.allSatisfy(\.isEmpty) }
    public var count: Int { patches.values.reduce(0) { $0 + $1.count } }

    public func patch(groupKind: String, name: String) -> String? {
        patches[Self.normalized(groupKind)]?[name]
    }

    public mutating func set(_ patch: String?, groupKind: String, name: String) {
        let key = Self.normalized(groupKind)
        patches[key, default: [:]][name] = patch
        if patches[key]?.isEmpty == true { patches[key] = nil }
    }

    /// The entries of kinds `keep` accepts, and the others.
    public func partitioned(by keep: (String) -> Bool) -> (kept: RestoreData, dropped: RestoreData) {
        (RestoreData(patches: patches.filter { keep($0.key) }), RestoreData(patches: patches.filter { !keep($0.key) }))
    }

    /// Every object with an entry, sorted.
    public var refs: [ObjectRef] {
        patches.flatMap { groupKind, entries in entries.keys.map { ObjectRef(groupKind: groupKind, name: $0) } }.sorted()
    }

    mutating func replaceEntries(of groupKind: String, with entries: [String: String]) {
        patches[Self.normalized(groupKind)] = entries.isEmpty ? nil : entries
    }

    /// kube-green's `original-resource-info` value.
    public var serialized: String {
        JSONValue.object(patches.mapValues { .object($0.mapValues(JSONValue.string)) }).serialized()
    }

    init(serialized text: String) throws(RestoreSecretError) {
        guard let value = try? JSONValue(parsing: text), case .object(let kinds) = value else {
            throw RestoreSecretError(key: RestoreSecret.originalResourceInfoKey, reason: "not a JSON object")
        }
        var patches: [String: [String: String]] = [:]
        for (groupKind, entries) in kinds {
            // kube-green reads it as map[string]map[string]string: anything else fails its wake too.
            guard case .object(let byName) = entries else {
                throw RestoreSecretError(key: RestoreSecret.originalResourceInfoKey, reason: "\(groupKind) is not an object of restore patches")
            }
            let texts = byName.compactMapValues(\.string)
            guard texts.count == byName.count else {
                throw RestoreSecretError(key: RestoreSecret.originalResourceInfoKey, reason: "\(groupKind): a restore patch is not a string")
            }
            patches[groupKind] = texts
        }
        self.init(patches: patches)
    }
}

/// The kube-green state Secret `sleepinfo-<name>`: when it last ran, what it did, and the
/// restore data of a sleep. Sandman writes it in kube-green's format and reads kube-green's,
/// including the keys of older kube-green versions.
public enum RestoreSecret {
    public static let scheduledAtKey = "scheduled-at"
    public static let operationTypeKey = "operation-type"
    public static let originalResourceInfoKey = "original-resource-info"
    /// Sandman's own key, ignored by kube-green: the replicas a partial sleep kept, so that the
    /// wake judges the workloads by what the sleep did (a plugin may have decided it).
    public static let downtimeReplicasKey = "sandman-downtime-replicas"
    static let legacyDeploymentReplicasKey = "deployment-replicas"
    static let legacyCronJobsKey = "cronjobs-info"
    public static let managedByLabel = "app.kubernetes.io/managed-by"

    public enum Operation: String, Sendable {
        case sleep = "SLEEP"
        case wakeUp = "WAKE_UP"
    }

    /// What a state Secret says.
    public struct Contents: Sendable, Equatable {
        public var scheduledAt: Date?
        public var operation: Operation?
        public var restore: RestoreData
        /// The replicas a partial sleep kept; nil after a full one.
        public var downtimeReplicas: DowntimeReplicas?
    }

    public static func name(forSleepInfo sleepInfo: String) -> String {
        "sleepinfo-\(sleepInfo)"
    }

    /// The Secret to write; owned by the SleepInfo when there is one, so that it goes with it.
    public static func make(
        name: String, namespace: String, owner: JSONValue?, scheduledAt: Date, operation: Operation, restore: RestoreData?,
        downtimeReplicas: DowntimeReplicas? = nil
    ) -> Secret {
        var secret = Secret(name: name, namespace: namespace)
        secret.type = "Opaque"
        var metadata = secret.metadata
        // kube-green's own label, so that kube-green takes over a cluster mid-sleep as if it had
        // written the Secret itself.
        metadata.labels = [managedByLabel: "kube-green"]
        if let owner, let uid = owner[path: ["metadata", "uid"]]?.string {
            metadata.ownerReferences = [OwnerReference(
                apiVersion: owner["apiVersion"]?.string ?? ResourceKind.sleepInfo.apiVersion, kind: "SleepInfo",
                name: owner[path: ["metadata", "name"]]?.string ?? "", uid: uid
            )]
        }
        secret.metadata = metadata
        var data: [String: Data] = [
            scheduledAtKey: Data(KubeTime.format(scheduledAt).utf8),
            operationTypeKey: Data(operation.rawValue.utf8),
        ]
        if let restore, !restore.isEmpty {
            data[originalResourceInfoKey] = Data(restore.serialized.utf8)
        }
        if operation == .sleep, let downtimeReplicas {
            data[downtimeReplicasKey] = Data(downtimeReplicas.description.utf8)
        }
        secret.data = data
        return secret
    }

    /// Reads a state Secret written by Sandman or any kube-green version.
    public static func read(_ secret: Secret) throws(RestoreSecretError) -> Contents {
        let data = secret.data
        var restore = RestoreData()
        if let info = data[originalResourceInfoKey] {
            restore = try RestoreData(serialized: String(decoding: info, as: UTF8.self))
        }
        // Keys of kube-green before 0.6: they replace the kind's entries, as kube-green's
        // convertOldSecretDataToNewFormat (sleepinfodata.go) does; missing fields read as Go's zero values.
        if let legacy = data[legacyDeploymentReplicasKey] {
            restore.replaceEntries(of: "Deployment.apps", with: try legacyEntries(legacy, key: legacyDeploymentReplicasKey) { item in
                ["spec": ["replicas": .int(item["replicas"]?.int ?? 0)]]
            })
        }
        if let legacy = data[legacyCronJobsKey] {
            restore.replaceEntries(of: "CronJob.batch", with: try legacyEntries(legacy, key: legacyCronJobsKey) { item in
                ["spec": ["suspend": .bool(item["suspend"]?.bool ?? false)]]
            })
        }
        let scheduledAt = data[scheduledAtKey].flatMap { KubeTime.parse(String(decoding: $0, as: UTF8.self)) }
        let operation = data[operationTypeKey].flatMap { Operation(rawValue: String(decoding: $0, as: UTF8.self)) }
        var downtimeReplicas: DowntimeReplicas?
        if let text = data[downtimeReplicasKey].map({ String(decoding: $0, as: UTF8.self) }) {
            guard let replicas = DowntimeReplicas(text) else {
                throw RestoreSecretError(key: downtimeReplicasKey, reason: "expected \(DowntimeReplicas.expected), got \"\(text)\"")
            }
            downtimeReplicas = replicas
        }
        return Contents(scheduledAt: scheduledAt, operation: operation, restore: restore, downtimeReplicas: downtimeReplicas)
    }

    /// `secret` with its restore data keyed as kube-green keys it, or nil when it already is
    /// (Sandman once wrote core kinds as `ConfigMap`, which kube-green never finds).
    public static func keyedForKubeGreen(_ secret: Secret) throws(RestoreSecretError) -> Secret? {
        guard let info = secret.data[originalResourceInfoKey] else { return nil }
        let text = String(decoding: info, as: UTF8.self)
        let keys = (try? JSONValue(parsing: text))?.object?.keys
        guard keys?.contains(where: { RestoreData.normalized($0) != $0 }) == true else { return nil }
        var rewritten = secret
        rewritten.data[originalResourceInfoKey] = Data(try RestoreData(serialized: text).serialized.utf8)
        return rewritten
    }

    private static func legacyEntries(_ data: Data, key: String, patch: (JSONValue) -> JSONValue) throws(RestoreSecretError) -> [String: String] {
        guard let value = try? JSONValue(parsing: data), let items = value.isNull ? [] : value.array else {
            throw RestoreSecretError(key: key, reason: "not a JSON list")
        }
        var entries: [String: String] = [:]
        for item in items {
            guard let name = item["name"]?.string, !name.isEmpty else { continue }
            entries[name] = patch(item).serialized()
        }
        return entries
    }
}

/// A state Secret whose contents cannot be read, naming the key.
public struct RestoreSecretError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var reason: String
    public var description: String { "\(key): \(reason)" }
}
