import Foundation
import JSON

/// What to list or watch.
public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Page size; lists follow `continue` to the end whatever it is.
    public var pageSize: Int = 500

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, pageSize: Int = 500) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.pageSize = pageSize
    }

    var query: [(String, String)] {
        var query: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        return query
    }
}

/// Every item of a list, and the resourceVersion to watch from.
public struct ObjectList: Sendable {
    public var items: [JSONValue]
    public var resourceVersion: String
}

/// A change to send with PATCH, by content type.
public enum Patch: Sendable {
    /// RFC 6902 operations (`application/json-patch+json`).
    case json(JSONValue)
    /// RFC 7386 (`application/merge-patch+json`).
    case merge(JSONValue)
    /// Built-in kinds only (`application/strategic-merge-patch+json`).
    case strategic(JSONValue)
    /// Server-side apply of a configuration (`application/apply-patch+yaml`).
    case apply(JSONValue, force: Bool)

    var contentType: String {
        switch self {
        case .json: "application/json-patch+json"
        case .merge: "application/merge-patch+json"
        case .strategic: "application/strategic-merge-patch+json"
        case .apply: "application/apply-patch+yaml"
        }
    }

    var document: JSONValue {
        switch self {
        case .json(let value), .merge(let value), .strategic(let value), .apply(let value, _): value
        }
    }
}

public enum PropagationPolicy: String, Sendable {
    case background = "Background", foreground = "Foreground", orphan = "Orphan"
}

extension KubeClient {
    /// The field manager Sandman writes with unless told otherwise.
    public static let fieldManager = "sandman"

    public func get(_ kind: ResourceKind, namespace: String?, name: String, subresource: String? = nil) async throws -> JSONValue {
        let resource = try await resource(for: kind)
        return try await json(Request(verb: "get", method: .get, path: resource.path(namespace: namespace, name: name, subresource: subresource)))
    }

    /// Every object of `kind` (in `namespace`, or all namespaces when nil), following `continue`
    /// page after page; a continue token that expires midway restarts the list.
    public func list(_ kind: ResourceKind, namespace: String? = nil, options: ListOptions = .init()) async throws -> ObjectList {
        let resource = try await resource(for: kind)
        var restarts = 0
        while true {
            do {
                return try await listPages(resource, namespace: namespace, options: options)
            } catch let error as KubeError where error.isGone && restarts < 3 {
                restarts += 1
            } catch let error as KubeError where error.isNotFound {
                // A collection is not found only when its resource is no longer served.
                await mapper.forget(kind.apiVersion)
                throw error
            }
        }
    }

    private func listPages(_ resource: APIResource, namespace: String?, options: ListOptions) async throws -> ObjectList {
        var items: [JSONValue] = []
        var token: String?
        var resourceVersion = ""
        repeat {
            var query = options.query
            query.append(("limit", String(options.pageSize)))
            if let token { query.append(("continue", token)) }
            let page = try await json(Request(verb: "list", method: .get, path: resource.path(namespace: namespace), query: query))
            let kind = resource.kind
            // Items of built-in lists come without kind and apiVersion; give them back.
            items += (page["items"]?.array ?? []).map { item in
                var item = item
                if item["kind"] == nil { item["kind"] = .string(kind.kind) }
                if item["apiVersion"] == nil { item["apiVersion"] = .string(kind.apiVersion) }
                return item
            }
            if resourceVersion.isEmpty { resourceVersion = page[path: ["metadata", "resourceVersion"]]?.string ?? "" }
            token = page[path: ["metadata", "continue"]]?.string.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return ObjectList(items: items, resourceVersion: resourceVersion)
    }

    /// Creates `object`; its namespace comes from `metadata.namespace` unless given.
    public func create(_ object: JSONValue, namespace: String? = nil, fieldManager: String = KubeClient.fieldManager, dryRun: Bool = false) async throws -> JSONValue {
        let (resource, objectNamespace, _) = try await locate(object)
        var query = [("fieldManager", fieldManager)]
        if dryRun { query.append(("dryRun", "All")) }
        return try await json(Request(
            verb: "create", method: .post, path: resource.path(namespace: namespace ?? objectNamespace), query: query,
            body: object.serializedData(), contentType: "application/json", idempotent: false
        ))
    }

    /// Replaces `object` (PUT); a stale `metadata.resourceVersion` fails with `.conflict`.
    /// `subresource: "status"` replaces only the status.
    public func update(_ object: JSONValue, subresource: String? = nil, fieldManager: String = KubeClient.fieldManager) async throws -> JSONValue {
        let (resource, namespace, name) = try await locate(object)
        guard let name else { throw KubeError(reason: .badRequest, cluster: self.name, verb: "update", message: "object has no metadata.name") }
        return try await json(Request(
            verb: "update", method: .put, path: resource.path(namespace: namespace, name: name, subresource: subresource),
            query: [("fieldManager", fieldManager)], body: object.serializedData(), contentType: "application/json"
        ))
    }

    public func updateStatus(_ object: JSONValue, fieldManager: String = KubeClient.fieldManager) async throws -> JSONValue {
        try await update(object, subresource: "status", fieldManager: fieldManager)
    }

    public func patch(_ kind: ResourceKind, namespace: String?, name: String, _ patch: Patch, subresource: String? = nil, fieldManager: String = KubeClient.fieldManager) async throws -> JSONValue {
        try await json(patchRequest(kind, namespace: namespace, name: name, patch, subresource: subresource, fieldManager: fieldManager))
    }

    /// Patches an object when the caller needs nothing of the result: its body is not parsed,
    /// several percent of the hub's CPU in a whole-cluster sleep.
    public func patchIgnoringResult(_ kind: ResourceKind, namespace: String?, name: String, _ patch: Patch) async throws {
        _ = try await perform(patchRequest(kind, namespace: namespace, name: name, patch, subresource: nil, fieldManager: KubeClient.fieldManager))
    }

    private func patchRequest(_ kind: ResourceKind, namespace: String?, name: String, _ patch: Patch, subresource: String?, fieldManager: String) async throws -> Request {
        let resource = try await resource(for: kind)
        var query = [("fieldManager", fieldManager)]
        if case .apply(_, let force) = patch, force { query.append(("force", "true")) }
        return Request(
            verb: "patch", method: .patch, path: resource.path(namespace: namespace, name: name, subresource: subresource),
            query: query, body: patch.document.serializedData(), contentType: patch.contentType
        )
    }

    /// Deletes an object; with `resourceVersion` or `uid`, only if it is still that version or object.
    public func delete(_ kind: ResourceKind, namespace: String?, name: String, propagation: PropagationPolicy = .background, resourceVersion: String? = nil, uid: String? = nil) async throws {
        let resource = try await resource(for: kind)
        var options: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": .string(propagation.rawValue)]
        if let resourceVersion { options[path: ["preconditions", "resourceVersion"]] = .string(resourceVersion) }
        if let uid { options[path: ["preconditions", "uid"]] = .string(uid) }
        _ = try await perform(Request(
            verb: "delete", method: .delete, path: resource.path(namespace: namespace, name: name),
            body: options.serializedData(), contentType: "application/json"
        ))
    }

    /// The replicas of a scalable object (Deployment, StatefulSet, ReplicaSet).
    public func scale(_ kind: ResourceKind, namespace: String, name: String) async throws -> Scale {
        Scale(object: try await get(kind, namespace: namespace, name: name, subresource: "scale"))
    }

    /// Sets the replicas through the scale subresource; with a resourceVersion, only if unchanged.
    public func setScale(_ kind: ResourceKind, namespace: String, name: String, replicas: Int, resourceVersion: String? = nil) async throws -> Scale {
        var body: JSONValue = ["kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": ["replicas": .int(Int64(replicas))]]
        if let resourceVersion { body[path: ["metadata", "resourceVersion"]] = .string(resourceVersion) }
        let resource = try await resource(for: kind)
        return Scale(object: try await json(Request(
            verb: "update", method: .put, path: resource.path(namespace: namespace, name: name, subresource: "scale"),
            query: [("fieldManager", KubeClient.fieldManager)], body: body.serializedData(), contentType: "application/json"
        )))
    }

    private func locate(_ object: JSONValue) async throws -> (APIResource, String?, String?) {
        guard let apiVersion = object["apiVersion"]?.string, let kindName = object["kind"]?.string else {
            throw KubeError(reason: .badRequest, cluster: name, message: "object has no apiVersion or kind")
        }
        let resource = try await resource(for: ResourceKind(apiVersion: apiVersion, kind: kindName))
        return (resource, object[path: ["metadata", "namespace"]]?.string, object[path: ["metadata", "name"]]?.string)
    }

    /// Runs a read-modify-write `body` again when it fails with a conflict, up to `attempts` times.
    public static func retryOnConflict<T: Sendable>(attempts: Int = 5, _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let error as KubeError where error.isConflict && attempt < attempts {
                try await Task.sleep(for: .milliseconds(10 * attempt))
            }
        }
    }
}
