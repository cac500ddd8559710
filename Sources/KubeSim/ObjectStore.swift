import Foundation
import JSON
import Scheduling

/// The simulated cluster's state: objects by resource, a global resourceVersion, the change
/// history watches resume from, and the watchers themselves. Every write goes through `commit`,
/// which numbers it, records it and tells the watchers.
actor ObjectStore {
    struct Settings: Sendable {
        /// Changes kept for watches resuming from an older resourceVersion.
        var historyLimit = 10_000
        /// Age after which a `continue` token answers 410 Gone.
        var continueTokenLifetime: Duration = .seconds(300)
        /// Delay before a workload's status follows its spec.replicas.
        var workloadReadyDelay: Duration = .zero
        var gitVersion = "v1.32.0"
    }

    struct Watcher {
        var filter: WatchFilter
        var wantsBookmarks: Bool
        var continuation: AsyncStream<WatchSignal>.Continuation
    }

    var settings: Settings
    private(set) var types: [ResourceType] = ResourceType.builtIns
    /// storageKey → "namespace/name" → object.
    private(set) var objects: [String: [String: JSONValue]] = [:]
    private(set) var lastResourceVersion: Int64 = 0
    private var history: [HistoryEntry] = []
    /// Changes after this resourceVersion are in `history`.
    private var historyFloor: Int64 = 0
    private var watchers: [Int: Watcher] = [:]
    private var nextWatcherID = 0
    private var settleTasks: [Task<Void, Never>] = []
    /// The pod template each Deployment's current revision was made from (as its ReplicaSet would be).
    var templateHashes: [String: String] = [:]

    init(settings: Settings) {
        self.settings = settings
    }

    /// Creates what every cluster starts with: the system namespaces and one ready node.
    func createSystemNamespaces() {
        let namespaceType = types[0]
        let context = WriteContext(fieldManager: "kube-apiserver", now: Date())
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            _ = try? create(namespaceType, namespace: nil, body: ["metadata": ["name": .string(name)]], context: context)
        }
        if let nodeType = types.first(where: { $0.storageKey == "/nodes" }) {
            let node: JSONValue = [
                "metadata": ["name": "kubesim-node", "labels": ["kubernetes.io/hostname": "kubesim-node", "kubernetes.io/os": "linux"]],
                "status": [
                    "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"]],
                    "nodeInfo": ["kubeletVersion": .string(settings.gitVersion), "operatingSystem": "linux", "architecture": "amd64"],
                    "capacity": ["cpu": "8", "memory": "32Gi", "pods": "110"], "allocatable": ["cpu": "8", "memory": "32Gi", "pods": "110"],
                ],
            ]
            _ = try? create(nodeType, namespace: nil, body: node, context: context)
        }
    }

    // MARK: Types

    func resourceType(groupVersion: String, plural: String) -> ResourceType? {
        types.first { $0.groupVersion == groupVersion && $0.plural == plural }
    }

    func resourceType(apiVersion: String, kind: String) -> ResourceType? {
        types.first { $0.groupVersion == apiVersion && $0.kind == kind }
    }

    func register(_ newTypes: [ResourceType], replacingGroup group: String, plural: String) {
        types.removeAll { $0.group == group && $0.plural == plural && !$0.builtIn }
        types.append(contentsOf: newTypes)
    }

    // MARK: Reads

    static func key(namespace: String?, name: String) -> String {
        "\(namespace ?? "")/\(name)"
    }

    func object(_ type: ResourceType, namespace: String?, name: String) throws(APIError) -> JSONValue {
        guard let object = objects[type.storageKey]?[Self.key(namespace: namespace, name: name)] else {
            throw .notFound(type, name)
        }
        return object
    }

    struct ListResult: Sendable {
        var items: [JSONValue]
        var resourceVersion: Int64
        var continueToken: String?
        var remainingItemCount: Int?
    }

    func list(_ type: ResourceType, namespace: String?, labels: LabelSelector, fields: FieldSelector, limit: Int?, continueToken: String?, now: Date) throws(APIError) -> ListResult {
        var listVersion = lastResourceVersion
        var after: String?
        var issuedAt = now
        if let continueToken {
            let token = try ContinueToken(decoding: continueToken)
            let expired = now.timeIntervalSince(token.issuedAt) > settings.continueTokenLifetime.inSeconds || token.resourceVersion < historyFloor
            if expired {
                throw .gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            }
            listVersion = token.resourceVersion
            after = token.after
            issuedAt = token.issuedAt
        }
        let prefix = namespace.map { "\($0)/" }
        let stored = objects[type.storageKey] ?? [:]
        var keys = stored.keys.filter { key in
            (prefix == nil || key.hasPrefix(prefix!)) && (after == nil || key > after!)
        }
        keys.sort()
        var items: [JSONValue] = []
        var lastKey: String?
        var remaining = 0
        for key in keys {
            let object = stored[key]!
            guard labels.matches(object), fields.matches(object) else { continue }
            if let limit, items.count >= limit {
                remaining += 1
                continue
            }
            items.append(object)
            lastKey = key
        }
        var result = ListResult(items: items, resourceVersion: listVersion)
        if remaining > 0, let lastKey {
            result.continueToken = ContinueToken(resourceVersion: listVersion, after: lastKey, issuedAt: issuedAt).encoded
            result.remainingItemCount = remaining
        }
        return result
    }

    func namespaceExists(_ name: String) -> Bool {
        objects["/namespaces"]?[Self.key(namespace: nil, name: name)] != nil
    }

    // MARK: Commit

    /// Numbers and stores a change (nil `object` with `.deleted` removes), records it, and tells
    /// the watchers. Returns the stored object with its new resourceVersion.
    @discardableResult
    func commit(_ type: ResourceType, namespace: String?, name: String, object: JSONValue, kind: WatchEvent.Kind, previous: JSONValue?) -> JSONValue {
        lastResourceVersion += 1
        var stored = object
        stored[path: ["metadata", "resourceVersion"]] = .string(String(lastResourceVersion))
        let key = Self.key(namespace: namespace, name: name)
        if kind == .deleted {
            objects[type.storageKey]?[key] = nil
        } else {
            objects[type.storageKey, default: [:]][key] = stored
        }
        let entry = HistoryEntry(resourceVersion: lastResourceVersion, storageKey: type.storageKey, namespace: namespace, kind: kind, object: stored, previous: previous)
        history.append(entry)
        if history.count > settings.historyLimit + settings.historyLimit / 4 {
            let dropped = history.count - settings.historyLimit
            historyFloor = history[dropped - 1].resourceVersion
            history.removeFirst(dropped)
        }
        for watcher in watchers.values {
            if let event = watcher.filter.event(for: entry) {
                watcher.continuation.yield(.event(event))
            }
        }
        return stored
    }

    // MARK: Watch

    /// A stream of the changes `filter` selects after `resourceVersion`; nil or 0 starts with
    /// the current objects as ADDED events. A version older than the history gives one ERROR
    /// event (410 Expired), as kube-apiserver does.
    func watch(_ filter: WatchFilter, from resourceVersion: Int64?, bookmarks: Bool, kind: String, apiVersion: String) -> AsyncStream<WatchSignal> {
        let (stream, continuation) = AsyncStream.makeStream(of: WatchSignal.self)
        if let resourceVersion, resourceVersion > 0 {
            if resourceVersion < historyFloor {
                continuation.yield(.event(WatchEvent(kind: .error, object: APIError.gone("too old resource version: \(resourceVersion) (\(historyFloor + 1))").status)))
                continuation.finish()
                return stream
            }
            for entry in history where entry.resourceVersion > resourceVersion {
                if let event = filter.event(for: entry) { continuation.yield(.event(event)) }
            }
        } else {
            let prefix = filter.namespace.map { "\($0)/" }
            let stored = objects[filter.storageKey] ?? [:]
            for key in stored.keys.sorted() where prefix == nil || key.hasPrefix(prefix!) {
                let object = stored[key]!
                if filter.matches(object) { continuation.yield(.event(WatchEvent(kind: .added, object: object))) }
            }
        }
        let id = nextWatcherID
        nextWatcherID += 1
        watchers[id] = Watcher(filter: filter, wantsBookmarks: bookmarks, continuation: continuation)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.removeWatcher(id) }
        }
        return stream
    }

    private func removeWatcher(_ id: Int) {
        watchers[id] = nil
    }

    var watcherCount: Int { watchers.count }

    /// Sends a BOOKMARK with the current resourceVersion to every watcher that asked for them.
    func sendBookmarks() {
        for watcher in watchers.values where watcher.wantsBookmarks {
            let type = types.first { $0.storageKey == watcher.filter.storageKey }
            let bookmark: JSONValue = [
                "kind": .string(type?.kind ?? ""), "apiVersion": .string(type?.groupVersion ?? ""),
                "metadata": ["resourceVersion": .string(String(lastResourceVersion))],
            ]
            watcher.continuation.yield(.event(WatchEvent(kind: .bookmark, object: bookmark)))
        }
    }

    /// Ends every watch with a 410 ERROR event and forgets the history, as an etcd compaction does.
    func expireWatches() {
        compactHistory()
        for watcher in watchers.values {
            watcher.continuation.yield(.event(WatchEvent(kind: .error, object: APIError.gone("too old resource version: expired by the server").status)))
            watcher.continuation.finish()
        }
        watchers.removeAll()
    }

    /// Cuts every watch connection without a word.
    func dropWatches() {
        for watcher in watchers.values {
            watcher.continuation.yield(.dropConnection)
            watcher.continuation.finish()
        }
        watchers.removeAll()
    }

    func compactHistory() {
        history.removeAll()
        historyFloor = lastResourceVersion
    }

    func shutdown() {
        for task in settleTasks { task.cancel() }
        settleTasks.removeAll()
        for watcher in watchers.values { watcher.continuation.finish() }
        watchers.removeAll()
    }

    // MARK: Scheduled status changes

    /// Runs `work` on this actor after `delay`; the task is cancelled on shutdown.
    func schedule(after delay: Duration, _ work: @escaping @Sendable (isolated ObjectStore) -> Void) {
        settleTasks.removeAll { $0.isCancelled }
        let task = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled, let self else { return }
            await self.run(work)
        }
        settleTasks.append(task)
    }

    private func run(_ work: @Sendable (isolated ObjectStore) -> Void) {
        work(self)
    }
}
