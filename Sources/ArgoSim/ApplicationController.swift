import Foundation
import JSON
import Kube
import Transport

/// The Applications and Argo CD's application controller acting on them: compare git with the
/// cluster (status), run sync operations with server-side apply, and auto-sync / self-heal.
actor ApplicationController {
    struct Settings: Sendable {
        var reconciliationInterval: Duration
        var selfHealTimeout: Duration
        var trackingMethod: ArgoSim.TrackingMethod
        var syncDelay: Duration
        var liveCheckInterval: Duration
    }

    /// A resource an Application manages.
    struct ResourceKey: Hashable, Sendable {
        var apiVersion: String
        var kind: String
        var namespace: String?
        var name: String
    }

    struct Record: Sendable {
        var application: JSONValue
        var managed: Set<ResourceKey> = []
        var reconciledAt: ContinuousClock.Instant?
        var lastSyncFinished: ContinuousClock.Instant?
        var busy = false
        var generation = 1
        /// What the last comparison read from git, reused when only the cluster changed.
        var compared: (revision: String, desired: [Desired])?
        /// The resourceVersion of each managed object at the last comparison ("" when absent).
        var liveVersions: [ResourceKey: String] = [:]
        var liveCheckedAt: ContinuousClock.Instant?
    }

    static let fieldManager = "argocd-controller"
    let settings: Settings
    private let source: ManifestSource
    private let clusters: [String: ArgoSim.Cluster]
    private var clients: [String: KubeClient] = [:]
    private(set) var records: [String: Record] = [:]
    private var resourceVersion = 1

    init(settings: Settings, source: ManifestSource, clusters: [ArgoSim.Cluster]) {
        self.settings = settings
        self.source = source
        var byKey: [String: ArgoSim.Cluster] = [:]
        for cluster in clusters {
            byKey["server:\(cluster.server)"] = cluster
            byKey["name:\(cluster.name)"] = cluster
        }
        self.clusters = byKey
    }

    // MARK: Applications

    func application(_ name: String) -> JSONValue? { records[name]?.application }

    var names: [String] { records.keys.sorted() }

    /// Adds an Application (`upsert` replaces a different spec instead of refusing it).
    func create(_ application: JSONValue, upsert: Bool) throws(ArgoError) -> JSONValue {
        let application = try Self.validate(application)
        let name = application[path: ["metadata", "name"]]!.string!
        if let existing = records[name] {
            if existing.application["spec"] == application["spec"] { return existing.application }
            guard upsert else { throw .invalid("existing application spec is different, use upsert flag to force update") }
            return try update(name, spec: application["spec"]!, metadata: application["metadata"])
        }
        var stored = application
        stored[path: ["metadata", "namespace"]] = stored[path: ["metadata", "namespace"]] ?? "argocd"
        stored[path: ["metadata", "uid"]] = .string(UUID().uuidString.lowercased())
        stored[path: ["metadata", "creationTimestamp"]] = Self.timestamp()
        stored["status"] = ["sync": ["status": "Unknown"], "health": ["status": "Unknown"], "resources": []]
        records[name] = Record(application: stamped(stored))
        return records[name]!.application
    }

    /// Replaces the spec (and labels/annotations when given), as `PUT` and `PATCH` do.
    func update(_ name: String, spec: JSONValue, metadata: JSONValue?) throws(ArgoError) -> JSONValue {
        guard var record = records[name] else { throw .permissionDenied }
        var candidate = record.application
        candidate["spec"] = spec
        if let labels = metadata?["labels"] { candidate[path: ["metadata", "labels"]] = labels }
        if let annotations = metadata?["annotations"] { candidate[path: ["metadata", "annotations"]] = annotations }
        _ = try Self.validate(candidate)
        record.application = stamped(candidate)
        record.generation += 1
        record.reconciledAt = nil
        records[name] = record
        return record.application
    }

    func delete(_ name: String, cascade: Bool) async throws(ArgoError) {
        guard let record = records.removeValue(forKey: name) else { throw .permissionDenied }
        guard cascade, let (client, _) = try? destination(record.application["spec"]) else { return }
        for key in record.managed {
            try? await client.delete(ResourceKind(apiVersion: key.apiVersion, kind: key.kind), namespace: key.namespace, name: key.name)
        }
    }

    /// Sets a sync operation, as `POST /applications/{name}/sync` does; the loop runs it.
    func requestSync(_ name: String, request: JSONValue, user: String) throws(ArgoError) -> JSONValue {
        guard var record = records[name] else { throw .permissionDenied }
        let spec = record.application["spec"] ?? .null
        if record.application["operation"] != nil { throw .operationInProgress }
        let target = spec[path: ["source", "targetRevision"]]?.string ?? "HEAD"
        let revision = request["revision"]?.string ?? ""
        if !revision.isEmpty, revision != (target.isEmpty ? "HEAD" : target), Self.automated(spec) != nil, request["dryRun"]?.bool != true {
            throw ArgoError(code: .failedPrecondition, message: "Cannot sync to \(revision): auto-sync currently set to \(target)")
        }
        var sync: JSONValue = [
            "revision": .string(revision.isEmpty ? target : revision), "prune": .bool(request["prune"]?.bool ?? false),
            "dryRun": .bool(request["dryRun"]?.bool ?? false), "source": spec["source"] ?? .null,
        ]
        if let options = request[path: ["syncOptions", "items"]] ?? spec[path: ["syncPolicy", "syncOptions"]] { sync["syncOptions"] = options }
        if let resources = request["resources"], resources != .null { sync["resources"] = resources }
        record.application["operation"] = ["sync": sync, "initiatedBy": ["username": .string(user)], "retry": .emptyObject]
        record.application[path: ["status", "operationState"]] = nil
        record.application = stamped(record.application)
        records[name] = record
        return record.application
    }

    func terminate(_ name: String) throws(ArgoError) {
        guard var record = records[name] else { throw .permissionDenied }
        guard record.application["operation"] != nil else { throw .invalid("Unable to terminate operation. No operation is in progress") }
        record.application["operation"] = nil
        record.application[path: ["status", "operationState", "phase"]] = "Terminating"
        records[name] = record
    }

    /// Re-reads git and the cluster now (`?refresh=normal|hard`) and returns the refreshed Application.
    func refresh(_ name: String) async throws(ArgoError) -> JSONValue {
        guard records[name] != nil else { throw .permissionDenied }
        while records[name]?.busy == true { try? await Task.sleep(for: .milliseconds(10)) }
        // A pending operation runs first (it ends with a comparison), so refreshing never starves it.
        if records[name]?.application["operation"] != nil {
            await execute(name)
        } else {
            await reconcile(name)
        }
        guard let application = records[name]?.application else { throw .permissionDenied }
        return application
    }

    // MARK: The loop

    /// Reconciles every Application when due (interval, new spec, self-heal timer) and runs
    /// requested operations, until cancelled.
    func run() async {
        while !Task.isCancelled {
            for name in names {
                guard let record = records[name], !record.busy else { continue }
                if record.application["operation"] != nil {
                    await execute(name)
                } else if record.reconciledAt.map({ ContinuousClock.now - $0 >= settings.reconciliationInterval }) ?? true || selfHealDue(record) {
                    await reconcile(name)
                } else if record.liveCheckedAt.map({ ContinuousClock.now - $0 >= settings.liveCheckInterval }) ?? true {
                    await checkLive(name)
                }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Argo CD watches the objects it manages and compares again when one changes; the simulator
    /// looks at their resourceVersions every `liveCheckInterval` and compares with the cached
    /// manifests (git is read again only at the polling interval or on refresh).
    private func checkLive(_ name: String) async {
        guard var record = records[name], let compared = record.compared, let (client, _) = try? destination(record.application["spec"]) else { return }
        record.liveCheckedAt = ContinuousClock.now
        records[name] = record
        var changed = false
        for item in compared.desired {
            let version = (try? await get(item, client: client))?[path: ["metadata", "resourceVersion"]]?.string ?? ""
            if version != record.liveVersions[item.key] {
                changed = true
                break
            }
        }
        guard changed, records[name]?.busy == false else { return }
        await reconcile(name, readGit: false)
    }

    private func selfHealDue(_ record: Record) -> Bool {
        guard let finished = record.lastSyncFinished, Self.automated(record.application["spec"])?["selfHeal"]?.bool == true,
              record.application[path: ["status", "sync", "status"]]?.string == "OutOfSync"
        else { return false }
        return ContinuousClock.now - finished >= settings.selfHealTimeout
    }

    static func automated(_ spec: JSONValue?) -> JSONValue? {
        guard let automated = spec?[path: ["syncPolicy", "automated"]], automated.object != nil else { return nil }
        if automated["enabled"]?.bool == false { return nil }
        return automated
    }

    // MARK: Comparison

    struct Desired: Sendable {
        var object: JSONValue
        var key: ResourceKey
        var kind: ResourceKind
    }

    /// Compares git with the cluster, records the status, then auto-syncs when Argo CD would.
    func reconcile(_ name: String, readGit: Bool = true) async {
        guard var record = records[name] else { return }
        record.busy = true
        records[name] = record
        let generation = record.generation
        let spec = record.application["spec"] ?? .null
        var status = record.application["status"] ?? .emptyObject
        var compared: (revision: String, desired: [Desired])?
        var liveVersions: [ResourceKey: String] = [:]
        do {
            let (client, namespace) = try destination(spec)
            let revision: String, desired: [Desired]
            if !readGit, let cached = record.compared {
                (revision, desired) = cached
            } else {
                (revision, desired) = try await desiredObjects(name: name, spec: spec, revision: nil, client: client, namespace: namespace)
            }
            compared = (revision, desired)
            let pointersRules = Drift.Rule.rules(from: spec)
            var resources: [JSONValue] = []
            var outOfSync = false
            var worst = Health.healthy
            for item in desired {
                let live = try await get(item, client: client)
                liveVersions[item.key] = live?[path: ["metadata", "resourceVersion"]]?.string ?? ""
                let differences = Drift.differences(desired: item.object, live: live ?? .null, ignoring: Drift.ignoredPointers(for: item.object, rules: pointersRules))
                let synced = live != nil && differences.isEmpty
                let health = Health.of(live)
                outOfSync = outOfSync || !synced
                worst = max(worst, health)
                resources.append(Self.resourceStatus(item.key, kind: item.kind, synced: synced, health: health))
            }
            for key in (records[name]?.managed ?? []).subtracting(desired.map(\.key)).sorted(by: { $0.name < $1.name }) {
                let kind = ResourceKind(apiVersion: key.apiVersion, kind: key.kind)
                guard (try? await client.get(kind, namespace: key.namespace, name: key.name)) != nil else { continue }
                outOfSync = true
                var entry = Self.resourceStatus(key, kind: kind, synced: false, health: .healthy)
                entry["requiresPruning"] = true
                resources.append(entry)
            }
            status["sync"] = [
                "status": outOfSync ? "OutOfSync" : "Synced", "revision": .string(revision),
                "comparedTo": ["source": spec["source"] ?? .null, "destination": spec["destination"] ?? .null],
            ]
            status["health"] = ["status": .string(worst.rawValue)]
            status["resources"] = .array(resources)
            status["conditions"] = nil
        } catch {
            status["sync"] = ["status": "Unknown", "comparedTo": ["source": spec["source"] ?? .null, "destination": spec["destination"] ?? .null]]
            status["conditions"] = [["type": "ComparisonError", "message": .string("\(error)"), "lastTransitionTime": Self.timestamp()]]
        }
        status["reconciledAt"] = Self.timestamp()
        status["sourceType"] = "Directory"
        guard var latest = records[name] else { return }
        latest.busy = false
        guard latest.generation == generation else {
            records[name] = latest
            return
        }
        latest.application["status"] = status
        latest.application = stamped(latest.application)
        if readGit { latest.reconciledAt = ContinuousClock.now }
        latest.compared = compared
        latest.liveVersions = liveVersions
        latest.liveCheckedAt = ContinuousClock.now
        records[name] = latest
        autoSync(name)
    }

    /// Argo CD's `autoSync`: a new revision is synced; drift at the synced revision is synced
    /// again only with `selfHeal`, and only `selfHealTimeout` after the last sync finished.
    private func autoSync(_ name: String) {
        guard var record = records[name], record.application["operation"] == nil,
              let automated = Self.automated(record.application["spec"]),
              record.application[path: ["status", "sync", "status"]]?.string == "OutOfSync",
              let revision = record.application[path: ["status", "sync", "revision"]]?.string
        else { return }
        let last = record.application[path: ["status", "operationState"]]
        let syncedRevision = last?[path: ["syncResult", "revision"]]?.string ?? last?[path: ["operation", "sync", "revision"]]?.string
        var resources: JSONValue?
        if syncedRevision == revision {
            // A failed attempt at this revision is not tried again, self-heal or not (no retry strategy).
            guard automated["selfHeal"]?.bool == true, last?["phase"]?.string == "Succeeded" else { return }
            if let finished = record.lastSyncFinished, ContinuousClock.now - finished < settings.selfHealTimeout { return }
            // Self-heal syncs only what drifted.
            resources = .array((record.application[path: ["status", "resources"]]?.array ?? []).filter { $0["status"]?.string == "OutOfSync" }.map { resource in
                ["group": resource["group"] ?? "", "kind": resource["kind"] ?? "", "name": resource["name"] ?? "", "namespace": resource["namespace"] ?? ""]
            })
        }
        var sync: JSONValue = [
            "revision": .string(revision), "prune": .bool(automated["prune"]?.bool ?? false), "source": record.application[path: ["spec", "source"]] ?? .null,
        ]
        if let options = record.application[path: ["spec", "syncPolicy", "syncOptions"]] { sync["syncOptions"] = options }
        if let resources { sync["resources"] = resources }
        record.application["operation"] = ["sync": sync, "initiatedBy": ["automated": true], "retry": ["limit": 5]]
        record.application = stamped(record.application)
        records[name] = record
    }

    // MARK: Sync

    /// What one operation did: its phase and message, the revision, one result per resource.
    private struct Outcome {
        var phase = "Succeeded"
        var message = "successfully synced (all tasks run)"
        var revision = ""
        var results: [JSONValue] = []
        var applied: Set<ResourceKey> = []
    }

    /// Runs the Application's operation: apply (server-side, force, manager `argocd-controller`)
    /// what git says at the revision, prune when asked, record the result.
    func execute(_ name: String) async {
        guard var record = records[name], let operation = record.application["operation"] else { return }
        record.busy = true
        let started = Self.timestamp()
        record.application[path: ["status", "operationState"]] = ["operation": operation, "phase": "Running", "message": "", "startedAt": started]
        record.application = stamped(record.application)
        records[name] = record
        if settings.syncDelay > .zero { try? await Task.sleep(for: settings.syncDelay) }
        let spec = record.application["spec"] ?? .null
        let sync = operation["sync"] ?? .null
        var outcome = Outcome()
        do {
            try await runSync(name, spec: spec, sync: sync, into: &outcome)
        } catch {
            outcome.phase = "Error"
            outcome.message = "\(error)"
        }
        guard var latest = records[name] else { return }
        let finished = Self.timestamp()
        latest.busy = false
        latest.application["operation"] = nil
        latest.application[path: ["status", "operationState"]] = [
            "operation": operation, "phase": .string(outcome.phase), "message": .string(outcome.message), "startedAt": started,
            "finishedAt": finished,
            "syncResult": ["revision": .string(outcome.revision), "resources": .array(outcome.results), "source": spec["source"] ?? .null],
        ]
        if outcome.phase == "Succeeded", sync["dryRun"]?.bool != true {
            var history = latest.application[path: ["status", "history"]]?.array ?? []
            history.append([
                "id": .int(Int64(history.count)), "revision": .string(outcome.revision), "deployStartedAt": started, "deployedAt": finished,
                "source": spec["source"] ?? .null, "initiatedBy": operation["initiatedBy"] ?? .null,
            ])
            latest.application[path: ["status", "history"]] = .array(history)
            if sync["resources"] == nil { latest.managed = outcome.applied } else { latest.managed.formUnion(outcome.applied) }
        }
        latest.lastSyncFinished = ContinuousClock.now
        latest.application = stamped(latest.application)
        records[name] = latest
        await reconcile(name)
    }

    /// Applies the selected resources at the operation's revision, then prunes (or reports) what left git.
    private func runSync(_ name: String, spec: JSONValue, sync: JSONValue, into outcome: inout Outcome) async throws {
        let dryRun = sync["dryRun"]?.bool ?? false
        let respectIgnored = (sync["syncOptions"]?.array ?? []).contains("RespectIgnoreDifferences=true")
        let rules = Drift.Rule.rules(from: spec)
        let (client, namespace) = try destination(spec)
        let desired: [Desired]
        (outcome.revision, desired) = try await desiredObjects(name: name, spec: spec, revision: sync["revision"]?.string, client: client, namespace: namespace)
        let only = sync["resources"]?.array
        for item in desired where only.map({ filters in filters.contains { Self.selects($0, item) } }) ?? true {
            var object = item.object
            if respectIgnored {
                let pointers = Drift.ignoredPointers(for: item.object, rules: rules)
                object = Drift.respectingIgnored(object, live: try await get(item, client: client), pointers: pointers)
            }
            var result = Self.resourceStatus(item.key, kind: item.kind, synced: true, health: nil)
            result["hookPhase"] = "Running"
            result["syncPhase"] = "Sync"
            result["message"] = .string("\(Self.resourceName(item.kind, item.key.name)) serverside-applied\(dryRun ? " (dry run)" : "")")
            if !dryRun {
                do {
                    _ = try await client.patch(item.kind, namespace: item.key.namespace, name: item.key.name, .apply(object, force: true), fieldManager: Self.fieldManager)
                } catch {
                    result["status"] = "SyncFailed"
                    result["message"] = .string("\(error)")
                    outcome.phase = "Failed"
                    outcome.message = "one or more objects failed to apply, reason: \(error)"
                }
            }
            outcome.applied.insert(item.key)
            outcome.results.append(result)
        }
        guard only == nil else { return }
        let prune = sync["prune"]?.bool ?? false
        for key in (records[name]?.managed ?? []).subtracting(desired.map(\.key)) {
            let kind = ResourceKind(apiVersion: key.apiVersion, kind: key.kind)
            var result = Self.resourceStatus(key, kind: kind, synced: !prune, health: nil)
            if prune, !dryRun {
                try? await client.delete(kind, namespace: key.namespace, name: key.name)
                result["message"] = "pruned"
                result["status"] = "Pruned"
            } else {
                result["message"] = "ignored (requires pruning)"
                result["status"] = "PruneSkipped"
                outcome.applied.insert(key)
            }
            outcome.results.append(result)
        }
    }

    /// `deployment.apps/api`, as kubectl and Argo CD's messages name objects.
    static func resourceName(_ kind: ResourceKind, _ name: String) -> String {
        "\(kind.kind.lowercased())\(kind.group.isEmpty ? "" : ".\(kind.group)")/\(name)"
    }

    private static func selects(_ filter: JSONValue, _ item: Desired) -> Bool {
        (filter["kind"]?.string ?? "") == item.kind.kind && (filter["group"]?.string ?? "") == item.kind.group
            && (filter["name"]?.string ?? "") == item.key.name
            && ((filter["namespace"]?.string ?? "").isEmpty || filter["namespace"]?.string == item.key.namespace)
    }

    // MARK: Git and cluster access

    private func destination(_ spec: JSONValue?) throws -> (KubeClient, String?) {
        let destination = spec?["destination"]
        let key = destination?["server"]?.string.map { "server:\($0)" } ?? destination?["name"]?.string.map { "name:\($0)" } ?? ""
        guard let cluster = clusters[key] else {
            throw ManifestSource.Failure(description: "cluster \(key.split(separator: ":", maxSplits: 1).last ?? "") has not been configured")
        }
        if let client = clients[cluster.name] { return (client, destination?["namespace"]?.string) }
        let client = try KubeClient(name: cluster.name, access: cluster.access)
        clients[cluster.name] = client
        return (client, destination?["namespace"]?.string)
    }

    private func desiredObjects(name: String, spec: JSONValue, revision: String?, client: KubeClient, namespace: String?) async throws -> (String, [Desired]) {
        let source = spec["source"] ?? .null
        guard let repoURL = source["repoURL"]?.string, let project = ManifestSource.projectPath(repoURL: repoURL) else {
            throw ManifestSource.Failure(description: "repository URL \(source["repoURL"]?.string ?? "(none)") is not a GitLab project URL")
        }
        let sha = try await self.source.resolve(project: project, revision: revision ?? source["targetRevision"]?.string ?? "HEAD")
        let objects = try await self.source.manifests(project: project, path: source["path"]?.string ?? "", sha: sha)
        var desired: [Desired] = []
        for object in objects {
            guard let apiVersion = object["apiVersion"]?.string, let kindName = object["kind"]?.string,
                  let objectName = object[path: ["metadata", "name"]]?.string
            else { throw ManifestSource.Failure(description: "a manifest lacks apiVersion, kind or metadata.name") }
            let kind = ResourceKind(apiVersion: apiVersion, kind: kindName)
            let resource = try await client.resource(for: kind)
            var item = object
            let objectNamespace = resource.namespaced ? (object[path: ["metadata", "namespace"]]?.string ?? namespace ?? "default") : nil
            if let objectNamespace { item[path: ["metadata", "namespace"]] = .string(objectNamespace) }
            let key = ResourceKey(apiVersion: apiVersion, kind: kindName, namespace: objectNamespace, name: objectName)
            switch settings.trackingMethod {
            case .label:
                item[path: ["metadata", "labels", "app.kubernetes.io/instance"]] = .string(name)
            case .annotation:
                item[path: ["metadata", "annotations", "argocd.argoproj.io/tracking-id"]] = .string(Self.trackingID(name, key, kind))
            case .annotationAndLabel:
                item[path: ["metadata", "labels", "app.kubernetes.io/instance"]] = .string(name)
                item[path: ["metadata", "annotations", "argocd.argoproj.io/tracking-id"]] = .string(Self.trackingID(name, key, kind))
            }
            desired.append(Desired(object: item, key: key, kind: kind))
        }
        return (sha, desired)
    }

    /// `<app>:<group>/<kind>:<namespace>/<name>`, Argo CD's annotation tracking id.
    static func trackingID(_ application: String, _ key: ResourceKey, _ kind: ResourceKind) -> String {
        "\(application):\(kind.group)/\(kind.kind):\(key.namespace ?? "")/\(key.name)"
    }

    private func get(_ item: Desired, client: KubeClient) async throws -> JSONValue? {
        do {
            return try await client.get(item.kind, namespace: item.key.namespace, name: item.key.name)
        } catch let error as KubeError where error.reason == .notFound {
            return nil
        }
    }

    // MARK: Helpers

    static func resourceStatus(_ key: ResourceKey, kind: ResourceKind, synced: Bool, health: Health?) -> JSONValue {
        var entry: JSONValue = [
            "group": .string(kind.group), "version": .string(kind.version), "kind": .string(kind.kind),
            "name": .string(key.name), "status": synced ? "Synced" : "OutOfSync",
        ]
        if let namespace = key.namespace { entry["namespace"] = .string(namespace) }
        if let health { entry["health"] = ["status": .string(health.rawValue)] }
        return entry
    }

    private func stamped(_ application: JSONValue) -> JSONValue {
        resourceVersion += 1
        var application = application
        application[path: ["metadata", "resourceVersion"]] = .string(String(resourceVersion))
        return application
    }

    static func timestamp() -> JSONValue {
        .string(Date().formatted(.iso8601))
    }

    /// The checks Argo CD's API makes before accepting an Application.
    static func validate(_ application: JSONValue) throws(ArgoError) -> JSONValue {
        guard let name = application[path: ["metadata", "name"]]?.string, !name.isEmpty else {
            throw .invalid("application spec is invalid: metadata.name is required")
        }
        guard let spec = application["spec"], spec.object != nil else { throw .invalid("application spec for \(name) is invalid: spec is required") }
        guard let repoURL = spec[path: ["source", "repoURL"]]?.string, !repoURL.isEmpty else {
            throw .invalid("application spec for \(name) is invalid: InvalidSpecError: spec.source.repoURL and either spec.source.path, spec.source.chart, or spec.source.ref are required")
        }
        guard spec[path: ["destination", "server"]]?.string != nil || spec[path: ["destination", "name"]]?.string != nil else {
            throw .invalid("application destination spec for \(name) is invalid: an application destination should have either server or name")
        }
        var normalized = application
        normalized["apiVersion"] = "argoproj.io/v1alpha1"
        normalized["kind"] = "Application"
        if normalized[path: ["spec", "project"]] == nil { normalized[path: ["spec", "project"]] = "default" }
        return normalized
    }
}
