import Foundation
import JSON
import Kube

/// For each slept object, the RFC 7386 merge patch that restores it, keyed as kube-green keys
/// it: `{"Deployment.apps": {"api": "{\"spec\":{\"replicas\":3}}"}}`.
public struct RestoreData: Sendable, Equatable {
    public private(set) var patches: [String: [String: String]]

    public init(patches: [String: [String: String]] = [:]) {
        self.patches = patches.filter { !$0.value.isEmpty }
    }

    public var isEmpty: Bool { patches.values.allSatisfy(\.isEmpty) }
    public var count: Int { patches.values.reduce(0) { $0 + $1.count } }

    public func patch(groupKind: String, name: String) -> String? {
        patches[groupKind]?[name]
    }

    public mutating func set(_ patch: String?, groupKind: String, name: String) {
        patches[groupKind, default: [:]][name] = patch
        if patches[groupKind]?.isEmpty == true { patches[groupKind] = nil }
    }

    /// The entries of `other` that this data does not have yet: an entry already saved is
    /// never replaced (it may hold the original of an object that is asleep now).
    public func adding(_ other: RestoreData) -> RestoreData {
        var merged = self
        for (groupKind, entries) in other.patches {
            for (name, patch) in entries where merged.patch(groupKind: groupKind, name: name) == nil {
                merged.set(patch, groupKind: groupKind, name: name)
            }
        }
        return merged
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
            guard case .object(let byName) = entries else {
                throw RestoreSecretError(key: RestoreSecret.originalResourceInfoKey, reason: "\(groupKind) is not an object of restore patches")
            }
            patches[groupKind] = byName.compactMapValues(\.string)
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
    }

    public static func name(forSleepInfo sleepInfo: String) -> String {
        "sleepinfo-\(sleepInfo)"
    }

    /// The Secret to write; owned by the SleepInfo when there is one, so that it goes with it.
    public static func make(name: String, namespace: String, owner: JSONValue?, scheduledAt: Date, operation: Operation, restore: RestoreData?) -> Secret {
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
        if let legacy = data[legacyDeploymentReplicasKey] {
            restore = restore.adding(try legacyEntries(legacy, key: legacyDeploymentReplicasKey, groupKind: "Deployment.apps") { item in
                guard let replicas = item["replicas"]?.int else { return nil }
                return ["spec": ["replicas": .int(replicas)]]
            })
        }
        if let legacy = data[legacyCronJobsKey] {
            restore = restore.adding(try legacyEntries(legacy, key: legacyCronJobsKey, groupKind: "CronJob.batch") { item in
                ["spec": ["suspend": .bool(item["suspend"]?.bool ?? false)]]
            })
        }
        let scheduledAt = data[scheduledAtKey].flatMap { KubeTime.parse(String(decoding: $0, as: UTF8.self)) }
        let operation = data[operationTypeKey].flatMap { Operation(rawValue: String(decoding: $0, as: UTF8.self)) }
        return Contents(scheduledAt: scheduledAt, operation: operation, restore: restore)
    }

    private static func legacyEntries(_ data: Data, key: String, groupKind: String, patch: (JSONValue) -> JSONValue?) throws(RestoreSecretError) -> RestoreData {
        guard let value = try? JSONValue(parsing: data), let items = value.array else {
            throw RestoreSecretError(key: key, reason: "not a JSON list")
        }
        var restore = RestoreData()
        for item in items {
            guard let name = item["name"]?.string, let restorePatch = patch(item) else { continue }
            restore.set(restorePatch.serialized(), groupKind: groupKind, name: name)
        }
        return restore
    }
}

/// A state Secret whose contents cannot be read, naming the key.
public struct RestoreSecretError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var reason: String
    public var description: String { "\(key): \(reason)" }
}
