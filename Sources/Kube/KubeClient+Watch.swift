import Foundation
import JSON

/// A change to an object, as a watch reports it.
public enum WatchEvent<Object: Sendable>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)

    public var object: Object {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object
        }
    }

    public func map<Other: Sendable>(_ transform: (Object) -> Other) -> WatchEvent<Other> {
        switch self {
        case .added(let object): .added(transform(object))
        case .modified(let object): .modified(transform(object))
        case .deleted(let object): .deleted(transform(object))
        }
    }
}

extension KubeClient {
    /// Every object of `kind` as ADDED, then each change, for as long as the stream is read.
    ///
    /// Like client-go's reflector: it lists, then watches from the list's resourceVersion with
    /// bookmarks on; a watch that ends or drops is resumed from the last version seen (after a
    /// jittered backoff when it failed); a 410 Gone relists and reports only the differences,
    /// so no change is lost or reported twice (a deletion found by a relist carries the object's
    /// kind, name, namespace, uid and resourceVersion only). Stop reading (or cancel the task) to stop it.
    public func watch(_ kind: ResourceKind, namespace: String? = nil, options: ListOptions = .init(), serverTimeout: Duration = .seconds(300)) -> AsyncThrowingStream<WatchEvent<JSONValue>, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent<JSONValue>.self)
        let task = Task {
            var reflector = Reflector(client: self, kind: kind, namespace: namespace, options: options, serverTimeout: serverTimeout)
            do {
                try await reflector.run { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    public func watch<R: KubeResource>(_ type: R.Type, namespace: String? = nil, options: ListOptions = .init()) -> AsyncThrowingStream<WatchEvent<R>, any Error> {
        let events = watch(R.kind, namespace: namespace, options: options)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent<R>.self)
        let task = Task {
            do {
                for try await event in events { continuation.yield(event.map(R.init(object:))) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// The state of one watch: what is known, and from which version to resume.
struct Reflector {
    let client: KubeClient
    let kind: ResourceKind
    let namespace: String?
    let options: ListOptions
    let serverTimeout: Duration
    /// The identity and version of every object seen, by namespace/name (`slim`): all a relist
    /// needs to tell what changed, where whole objects would hold every watched object in memory.
    private var known: [String: JSONValue] = [:]
    private var resourceVersion = ""
    private var failures = 0

    init(client: KubeClient, kind: ResourceKind, namespace: String?, options: ListOptions, serverTimeout: Duration) {
        self.client = client
        self.kind = kind
        self.namespace = namespace
        self.options = options
        self.serverTimeout = serverTimeout
    }

    private static func key(_ object: JSONValue) -> String {
        "\(object[path: ["metadata", "namespace"]]?.string ?? "")/\(object[path: ["metadata", "name"]]?.string ?? "")"
    }

    private static func version(_ object: JSONValue) -> String? {
        object[path: ["metadata", "resourceVersion"]]?.string
    }

    /// `object` reduced to its kind, name, namespace, uid and resourceVersion.
    static func slim(_ object: JSONValue) -> JSONValue {
        var metadata: [String: JSONValue] = [:]
        for field in ["name", "namespace", "uid", "resourceVersion"] {
            metadata[field] = object[path: ["metadata", field]]
        }
        var slim: JSONValue = ["metadata": .object(metadata)]
        slim["apiVersion"] = object["apiVersion"]
        slim["kind"] = object["kind"]
        return slim
    }

    mutating func run(emit: (WatchEvent<JSONValue>) -> Void) async throws {
        try await relist(emit: emit)
        while !Task.isCancelled {
            do {
                let outcome = try await watchOnce(emit: emit)
                failures = 0
                if outcome == .expired { try await relist(emit: emit) }
            } catch let error as KubeError where error.reason == .cancelled || Task.isCancelled {
                return
            } catch let error as KubeError where error.isGone {
                try await relist(emit: emit)
            } catch let error as KubeError where [.unauthorized, .forbidden, .notFound].contains(error.reason) {
                throw error
            } catch {
                failures += 1
                let delay = client.configuration.retry.backoff(min(failures, 8))
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Lists everything and reports the differences with what was known.
    private mutating func relist(emit: (WatchEvent<JSONValue>) -> Void) async throws {
        let list = try await client.list(kind, namespace: namespace, options: options)
        var current: [String: JSONValue] = [:]
        for item in list.items { current[Self.key(item)] = item }
        for (key, item) in current.sorted(by: { $0.key < $1.key }) {
            if let previous = known[key] {
                if Self.version(previous) != Self.version(item) { emit(.modified(item)) }
            } else {
                emit(.added(item))
            }
        }
        for (key, item) in known.sorted(by: { $0.key < $1.key }) where current[key] == nil {
            emit(.deleted(item))
        }
        known = current.mapValues(Self.slim)
        resourceVersion = list.resourceVersion
    }

    private enum Outcome { case ended, expired }

    /// One watch request, until the server ends it or it fails.
    private mutating func watchOnce(emit: (WatchEvent<JSONValue>) -> Void) async throws -> Outcome {
        let resource = try await client.resource(for: kind)
        var query = options.query
        query += [("watch", "1"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"), ("timeoutSeconds", String(Int(serverTimeout.components.seconds)))]
        let response = try await client.openStream(KubeClient.Request(verb: "watch", method: .get, path: resource.path(namespace: namespace), query: query))
        for try await line in response.lines where !line.isEmpty {
            guard let event = try? JSONValue(parsing: line), let type = event["type"]?.string, let object = event["object"] else {
                throw KubeError(reason: .decoding, cluster: client.name, verb: "watch", message: "undecodable watch event")
            }
            if let version = Self.version(object), type != "ERROR" { resourceVersion = version }
            let key = Self.key(object)
            switch type {
            case "ADDED", "MODIFIED":
                // A replay of a version already reported is dropped.
                if let previous = known[key], Self.version(previous) == Self.version(object) { continue }
                emit(known[key] == nil ? .added(object) : .modified(object))
                known[key] = Self.slim(object)
            case "DELETED":
                known[key] = nil
                emit(.deleted(object))
            case "BOOKMARK":
                continue
            case "ERROR":
                if KubeStatus(object)?.code == 410 { return .expired }
                throw KubeError(reason: .status(Int(object["code"]?.int ?? 500)), cluster: client.name, verb: "watch", status: KubeStatus(object), message: KubeStatus(object)?.message ?? "watch error")
            default:
                continue
            }
        }
        return .ended
    }
}
