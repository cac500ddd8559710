import JSON

/// One entry of the change history, and what a watcher receives.
struct WatchEvent: Sendable {
    enum Kind: String, Sendable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR"
    }

    var kind: Kind
    var object: JSONValue

    var line: JSONValue { ["type": .string(kind.rawValue), "object": object] }
}

/// What a watch stream carries: events, or an instruction to cut the connection (fault injection).
enum WatchSignal: Sendable {
    case event(WatchEvent)
    case dropConnection
}

/// A change recorded in the history, with enough to filter it for any watcher.
struct HistoryEntry: Sendable {
    var resourceVersion: Int64
    var storageKey: String
    var namespace: String?
    var kind: WatchEvent.Kind
    var object: JSONValue
    /// The object before the change (for selector transitions); nil for additions.
    var previous: JSONValue?
}

/// Which changes a watcher wants.
struct WatchFilter: Sendable {
    var storageKey: String
    var namespace: String?
    var labels: LabelSelector
    var fields: FieldSelector

    func matches(_ object: JSONValue) -> Bool {
        labels.matches(object) && fields.matches(object)
    }

    /// The event this watcher sees for a change, following objects into and out of its selection
    /// as kube-apiserver does; nil when the change is not visible to it.
    func event(for entry: HistoryEntry) -> WatchEvent? {
        guard entry.storageKey == storageKey, namespace == nil || entry.namespace == namespace else { return nil }
        let now = matches(entry.object)
        let before = entry.previous.map(matches) ?? false
        switch entry.kind {
        case .added: return now ? WatchEvent(kind: .added, object: entry.object) : nil
        case .deleted: return now || before ? WatchEvent(kind: .deleted, object: entry.object) : nil
        case .modified:
            switch (before, now) {
            case (true, true): return WatchEvent(kind: .modified, object: entry.object)
            case (false, true): return WatchEvent(kind: .added, object: entry.object)
            case (true, false):
                // The last state that matched, at the change's resourceVersion (kube-apiserver's cacher).
                var last = entry.previous ?? entry.object
                last[path: ["metadata", "resourceVersion"]] = entry.object[path: ["metadata", "resourceVersion"]]
                return WatchEvent(kind: .deleted, object: last)
            case (false, false): return nil
            }
        case .bookmark, .error: return nil
        }
    }
}
