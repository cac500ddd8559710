import Foundation
import JSON
import Kube

/// kube-green v0.7.1's reconciler, reduced to what one sleep or one wake-up does to a namespace,
/// re-written from its Go sources so that tests can move a namespace between kube-green and
/// Sandman in both directions. Each function names the Go function it mirrors, all under
/// internal/controller/sleepinfo/ unless said otherwise. It lists through the API server with
/// the same label and field selectors, so KubeSim does the filtering as kube-apiserver would.
public struct KubeGreen {
    public let client: KubeClient

    public init(client: KubeClient) {
        self.client = client
    }

    /// kube-green's `ManagerName`, the Secret's `app.kubernetes.io/managed-by` label.
    public static let managerName = "kube-green"

    /// One target kind and its patch: `v1alpha1.Patch`.
    public struct Patch: Sendable {
        public var group: String
        public var kind: String
        public var patch: JSONPatch
        /// `PatchTarget.String()`: `fmt.Sprintf("%s.%s", p.Kind, p.Group)`.
        public var key: String { "\(kind).\(group)" }
    }

    // MARK: api/v1alpha1/sleepinfo_types.go

    /// `SleepInfo.GetPatches`: the defaults (defaultpatches.go), then the user's patches.
    public static func patches(of sleepInfo: JSONValue) throws -> [Patch] {
        let spec = sleepInfo["spec"] ?? .emptyObject
        let scaleToZero = try JSONPatch(JSONValue(yaml: "- op: add\n  path: /spec/replicas\n  value: 0"))
        var patches: [Patch] = []
        if spec["suspendDeployments"]?.bool ?? true { patches.append(Patch(group: "apps", kind: "Deployment", patch: scaleToZero)) }
        if spec["suspendStatefulSets"]?.bool ?? true { patches.append(Patch(group: "apps", kind: "StatefulSet", patch: scaleToZero)) }
        if spec["suspendCronJobs"]?.bool ?? false {
            patches.append(Patch(group: "batch", kind: "CronJob", patch: try JSONPatch(JSONValue(yaml: "- op: add\n  path: /spec/suspend\n  value: true"))))
        }
        for item in spec["patches"]?.array ?? [] {
            patches.append(Patch(
                group: item[path: ["target", "group"]]?.string ?? "", kind: item[path: ["target", "kind"]]?.string ?? "",
                patch: try JSONPatch(JSONValue(yaml: item["patch"]?.string ?? ""))
            ))
        }
        // `NewResources` keys its resources by target: a later patch for a kind replaces an earlier one.
        return patches.enumerated().filter { index, patch in !patches[(index + 1)...].contains { $0.key == patch.key } }.map(\.element)
    }

    // MARK: jsonpatch/genericresources.go

    /// `getListOptions`: names of this target's kind into a field selector, every label pair
    /// into a label selector, all ANDed.
    public static func listOptions(for target: Patch, sleepInfo: JSONValue) -> ListOptions {
        let include = sleepInfo[path: ["spec", "includeRef"]]?.array ?? []
        let exclude = sleepInfo[path: ["spec", "excludeRef"]]?.array ?? []
        /// `matchPatchTargetAndFilterRef`
        func names(_ refs: [JSONValue]) -> [String] {
            refs.filter { ($0["apiVersion"]?.string ?? "").hasPrefix("\(target.group)/") && $0["kind"]?.string == target.kind }
                .compactMap { $0["name"]?.string }.filter { !$0.isEmpty }
        }
        func pairs(_ refs: [JSONValue], _ op: String) -> [String] {
            refs.flatMap { ($0["matchLabels"]?.object ?? [:]).map { "\($0.key)\(op)\($0.value.string ?? "")" } }
        }
        let fields = names(include).map { "metadata.name==\($0)" } + names(exclude).map { "metadata.name!=\($0)" }
        let labels = pairs(include, "==") + pairs(exclude, "!=")
        return ListOptions(labelSelector: labels.joined(separator: ","), fieldSelector: fields.joined(separator: ","))
    }

    /// `getListByNamespace`: nothing for a kind the cluster does not serve.
    public func list(_ target: Patch, namespace: String, sleepInfo: JSONValue) async throws -> (ResourceKind, [JSONValue])? {
        let resource: APIResource
        do {
            resource = try await client.resource(group: target.group, kind: target.kind)
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
        let list = try await client.list(resource.kind, namespace: namespace, options: Self.listOptions(for: target, sleepInfo: sleepInfo))
        return (resource.kind, list.items)
    }

    // MARK: jsonpatch/jsonpatch.go

    /// `managedResources.Sleep` (with `NewResources`, and `GetOriginalInfoToSave` and
    /// `upsertSecret` of secrets.go for the Secret): returns the restore data it saved.
    @discardableResult
    public func sleep(namespace: String, sleepInfo: JSONValue, now: Date) async throws -> [String: [String: String]] {
        let saved = try await secretData(namespace: namespace, sleepInfo: sleepInfo).restore
        var restore: [String: [String: String]] = [:]
        for target in try Self.patches(of: sleepInfo) {
            guard let (kind, items) = try await list(target, namespace: namespace, sleepInfo: sleepInfo), !items.isEmpty else { continue }
            var patches = saved[target.key] ?? [:]
            for object in items {
                // metav1.GetControllerOfNoCopy: objects run by a controller are left to it.
                if (object[path: ["metadata", "ownerReferences"]]?.array ?? []).contains(where: { $0["controller"]?.bool == true }) { continue }
                // patcher.Exec: evanphx/json-patch with EnsurePathExistsOnAdd and AllowMissingPathOnRemove.
                guard let modified = try? target.patch.applied(to: object, options: .kubeGreen) else { continue }
                let restorePatch = MergePatch.diff(from: modified, to: object).serialized()
                if restorePatch == "{}" { continue }
                let name = object[path: ["metadata", "name"]]?.string ?? ""
                patches[name] = restorePatch
                // SSAPatch of the modified object: the changed fields are what lands.
                _ = try await client.patch(kind, namespace: namespace, name: name, .merge(MergePatch.diff(from: object, to: modified)))
            }
            restore[target.key] = patches
        }
        // `GetOriginalInfoToSave` keeps the kinds that have entries.
        restore = restore.filter { !$0.value.isEmpty }
        try await writeSecret(namespace: namespace, sleepInfo: sleepInfo, now: now, operation: "SLEEP", restore: restore)
        return restore
    }

    /// `managedResources.WakeUp`: restores each listed object of each target that has a restore
    /// patch and is still as the sleep patch leaves it (`patcher.IsResourceChanged`); entries of
    /// other kinds or objects are ignored, and the Secret keeps none of them.
    public func wakeUp(namespace: String, sleepInfo: JSONValue, now: Date) async throws {
        let restore = try await secretData(namespace: namespace, sleepInfo: sleepInfo).restore
        for target in try Self.patches(of: sleepInfo) {
            guard let (kind, items) = try await list(target, namespace: namespace, sleepInfo: sleepInfo) else { continue }
            for object in items {
                let name = object[path: ["metadata", "name"]]?.string ?? ""
                guard let rawPatch = restore[target.key]?[name] else { continue }
                guard let modified = try? target.patch.applied(to: object, options: .kubeGreen), modified == object else { continue }
                let restored = MergePatch.apply(try JSONValue(parsing: rawPatch), to: object)
                // ResourceClient.Patch with client.MergeFrom(old).
                _ = try await client.patch(kind, namespace: namespace, name: name, .merge(MergePatch.diff(from: object, to: restored)))
            }
        }
        try await writeSecret(namespace: namespace, sleepInfo: sleepInfo, now: now, operation: "WAKE_UP", restore: nil)
    }

    // MARK: sleepinfodata.go, secrets.go

    /// `getSleepInfoData`: the restore data (`GetOriginalInfoToRestore`, then
    /// `convertOldSecretDataToNewFormat` for the keys of kube-green before 0.6) and the last operation.
    public func secretData(namespace: String, sleepInfo: JSONValue) async throws -> (restore: [String: [String: String]], lastOperation: String?) {
        let name = "sleepinfo-\(sleepInfo[path: ["metadata", "name"]]?.string ?? "")"
        let secret: Secret
        do {
            secret = try await client.get(Secret.self, namespace: namespace, name: name)
        } catch let error as KubeError where error.isNotFound {
            return ([:], nil)
        }
        var restore: [String: [String: String]] = [:]
        if let data = secret.data["original-resource-info"] {
            for (key, entries) in try JSONValue(parsing: data).object ?? [:] {
                restore[key] = (entries.object ?? [:]).compactMapValues(\.string)
            }
        }
        // deployments.GetOriginalInfoToRestore and cronjobs.GetOriginalInfoToRestore.
        if let data = secret.data["deployment-replicas"] {
            let items = try JSONValue(parsing: data).array ?? []
            restore["Deployment.apps"] = Dictionary(items.compactMap { item in
                item["name"]?.string.map { ($0, #"{"spec":{"replicas":\#(item["replicas"]?.int ?? 0)}}"#) }
            }) { $1 }
        }
        if let data = secret.data["cronjobs-info"] {
            let items = try JSONValue(parsing: data).array ?? []
            restore["CronJob.batch"] = Dictionary(items.compactMap { item in
                item["name"]?.string.map { ($0, #"{"spec":{"suspend":\#(item["suspend"]?.bool ?? false)}}"#) }
            }) { $1 }
        }
        return (restore, secret.string("operation-type"))
    }

    /// `upsertSecret`: a new Secret every time; restore data only after a sleep.
    func writeSecret(namespace: String, sleepInfo: JSONValue, now: Date, operation: String, restore: [String: [String: String]]?) async throws {
        let name = "sleepinfo-\(sleepInfo[path: ["metadata", "name"]]?.string ?? "")"
        var data: [String: JSONValue] = [
            "scheduled-at": .string(Data(KubeTime.format(now).utf8).base64EncodedString()),
            "operation-type": .string(Data(operation.utf8).base64EncodedString()),
        ]
        if let restore {
            let info = JSONValue.object(restore.mapValues { .object($0.mapValues(JSONValue.string)) }).serialized()
            data["original-resource-info"] = .string(Data(info.utf8).base64EncodedString())
        }
        let secret: JSONValue = [
            "apiVersion": "v1", "kind": "Secret",
            "metadata": [
                "name": .string(name), "namespace": .string(namespace), "labels": ["app.kubernetes.io/managed-by": .string(Self.managerName)],
                "ownerReferences": [[
                    "apiVersion": "kube-green.com/v1alpha1", "kind": "SleepInfo",
                    "name": sleepInfo[path: ["metadata", "name"]] ?? "", "uid": sleepInfo[path: ["metadata", "uid"]] ?? "",
                ]],
            ],
            "data": .object(data),
        ]
        do {
            var current = try await client.get(.secret, namespace: namespace, name: name)
            current["data"] = secret["data"]
            current["metadata"]?["labels"] = secret[path: ["metadata", "labels"]]
            _ = try await client.update(current)
        } catch let error as KubeError where error.isNotFound {
            _ = try await client.create(secret, namespace: namespace)
        }
    }
}
