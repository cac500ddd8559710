import Foundation
import JSON

/// Who writes, how, and when: what every write verb needs besides the object.
struct WriteContext: Sendable {
    var fieldManager: String
    var dryRun: Bool
    var now: Date {
        didSet { timestamp = Timestamp.format(now) }
    }
    /// `now` as RFC 3339, formatted once per request.
    private(set) var timestamp: String
    /// What to do with unknown fields (the `fieldValidation` parameter; Warn when absent).
    var fieldValidation: ObjectDecoder.FieldValidation = .warn
    /// Collects the warnings the answer carries as `Warning` headers.
    var warnings: WarningSink?

    init(fieldManager: String, dryRun: Bool = false, now: Date) {
        self.fieldManager = fieldManager
        self.dryRun = dryRun
        self.now = now
        self.timestamp = Timestamp.format(now)
    }
}

enum Timestamp {
    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    static func parse(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }

    /// With milliseconds: for the request log, to see requests overlap.
    static func formatWithMilliseconds(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
    }
}

/// Patch formats of the PATCH verb, by content type.
enum PatchFormat: String, Sendable, CaseIterable {
    case json = "application/json-patch+json"
    case merge = "application/merge-patch+json"
    case strategic = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"
}

extension ObjectStore {
    // MARK: Create

    /// Creates an object; with `appliedConfiguration` (server-side apply) its manager owns those
    /// fields as an apply, otherwise it owns everything it set as an update.
    func create(_ type: ResourceType, namespace: String?, body: JSONValue, context: WriteContext, appliedConfiguration: JSONValue? = nil) throws(APIError) -> JSONValue {
        guard case .object = body else { throw .badRequest("the request body must be a JSON object") }
        try checkTypeMeta(body, type)
        if let version = body[path: ["metadata", "resourceVersion"]]?.string, let number = Int64(version), number != 0 {
            // etcd3's store refuses it with a plain error, which kube-apiserver answers as a 500.
            throw APIError(code: 500, reason: "", message: "resourceVersion should not be set on objects to be created")
        }
        var object = body
        if let bodyNamespace = object[path: ["metadata", "namespace"]]?.string, !bodyNamespace.isEmpty, type.namespaced, bodyNamespace != namespace {
            throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        var name = object[path: ["metadata", "name"]]?.string ?? ""
        if name.isEmpty, let prefix = object[path: ["metadata", "generateName"]]?.string, !prefix.isEmpty {
            name = prefix + Self.randomSuffix()
        }
        guard !name.isEmpty else { throw .invalid(type, "", FieldError(.required, "metadata.name", detail: "name or generateName is required")) }
        if type.namespaced {
            guard let namespace else { throw .badRequest("a namespace is required for \(type.qualifiedName)") }
            guard let namespaceObject = objects["/namespaces"]?[Self.key(namespace: nil, name: namespace)] else {
                throw APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found", details: ["name": .string(namespace), "kind": "namespaces"])
            }
            if namespaceObject[path: ["metadata", "deletionTimestamp"]] != nil {
                throw APIError(code: 403, reason: "Forbidden", message: "\(type.qualifiedName) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated")
            }
        }
        let storedNamespace = type.namespaced ? namespace : nil
        if objects[type.storageKey]?[Self.key(namespace: storedNamespace, name: name)] != nil {
            throw .alreadyExists(type, name)
        }
        object["apiVersion"] = .string(type.groupVersion)
        object["kind"] = .string(type.kind)
        var metadata = object["metadata"]?.object ?? [:]
        metadata["name"] = .string(name)
        metadata["namespace"] = storedNamespace.map(JSONValue.string)
        metadata["uid"] = .string(UUID().uuidString.lowercased())
        metadata["creationTimestamp"] = .string(context.timestamp)
        metadata["generation"] = 1
        for field in ["deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink", "managedFields"] {
            metadata[field] = nil
        }
        object["metadata"] = .object(metadata)
        // Status is written through its subresource: a create's is dropped (PrepareForCreate),
        // except for the kinds whose creators report it at once.
        if type.hasStatus, !["Pod", "Node", "Namespace", "CustomResourceDefinition"].contains(type.kind) {
            object["status"] = nil
        }
        Defaulting.prepareForCreate(type, &object)
        object = try admit(type, object, old: nil, context: context)
        var ownership = FieldOwnership(object: .emptyObject, schema: type.schema)
        if let appliedConfiguration {
            do {
                _ = try ownership.apply(appliedConfiguration, to: .emptyObject, manager: context.fieldManager, apiVersion: type.groupVersion, time: context.timestamp, subresource: "", force: true)
            } catch {}
        } else {
            ownership.recordUpdate(from: .emptyObject, to: object, manager: context.fieldManager, apiVersion: type.groupVersion, time: context.timestamp, subresource: "")
        }
        object[path: ["metadata", "managedFields"]] = ownership.managedFields
        if context.dryRun { return object }
        let stored = commit(type, namespace: storedNamespace, name: name, object: object, kind: .added, previous: nil)
        didWrite(type, namespace: storedNamespace, name: name, previous: nil, current: stored, context: context)
        return objects[type.storageKey]?[Self.key(namespace: storedNamespace, name: name)] ?? stored
    }

    private func checkTypeMeta(_ body: JSONValue, _ type: ResourceType) throws(APIError) {
        if let apiVersion = body["apiVersion"]?.string, !apiVersion.isEmpty, apiVersion != type.groupVersion {
            throw .badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(type.groupVersion))")
        }
        if let kind = body["kind"]?.string, !kind.isEmpty, kind != type.kind {
            throw .badRequest("the kind in the data (\(kind)) does not match the expected kind (\(type.kind))")
        }
    }

    private static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }

    // MARK: Update

    enum Subresource: String, Sendable {
        case status, scale
    }

    /// Replaces an object (PUT). A non-empty `metadata.resourceVersion` must match the stored one.
    func update(_ type: ResourceType, namespace: String?, name: String, body: JSONValue, subresource: Subresource?, context: WriteContext) throws(APIError) -> JSONValue {
        let current = try object(type, namespace: namespace, name: name)
        guard case .object = body else { throw .badRequest("the request body must be a JSON object") }
        try checkTypeMeta(body, type)
        if let bodyName = body[path: ["metadata", "name"]]?.string, bodyName != name {
            throw .badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        if let version = body[path: ["metadata", "resourceVersion"]]?.string, !version.isEmpty,
           version != current[path: ["metadata", "resourceVersion"]]?.string {
            throw .conflict(type, name)
        }
        var updated: JSONValue
        if subresource == .status {
            updated = current
            updated["status"] = body["status"]
        } else {
            updated = body
            if type.hasStatus { updated["status"] = current["status"] }
        }
        return try store(updated, replacing: current, type, namespace: namespace, name: name, context: context, ownership: .update(subresource: subresource?.rawValue ?? ""))
    }

    enum OwnershipChange {
        /// An ordinary write through the main resource or a subresource (`status`, `scale`).
        case update(subresource: String = "")
        /// Server-side apply: the ownership already worked out by `apply`.
        case applied(FieldOwnership)
    }

    /// Writes `updated` over `current`, keeping what clients may not change, bumping the
    /// generation on spec changes and recording field ownership. No-op writes change nothing.
    func store(_ candidate: JSONValue, replacing current: JSONValue, _ type: ResourceType, namespace: String?, name: String, context: WriteContext, ownership change: OwnershipChange) throws(APIError) -> JSONValue {
        var updated = candidate
        updated["apiVersion"] = .string(type.groupVersion)
        updated["kind"] = .string(type.kind)
        var metadata = updated["metadata"]?.object ?? [:]
        let kept = current["metadata"]?.object ?? [:]
        for field in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion"] {
            metadata[field] = kept[field]
        }
        updated["metadata"] = .object(metadata)
        updated = try admit(type, updated, old: current, context: context)

        var ownership: FieldOwnership
        switch change {
        case .update(let subresource):
            ownership = FieldOwnership(object: current, schema: type.schema)
            ownership.recordUpdate(from: current, to: updated, manager: context.fieldManager, apiVersion: type.groupVersion, time: context.timestamp, subresource: subresource)
        case .applied(let applied):
            ownership = applied
        }
        updated[path: ["metadata", "managedFields"]] = ownership.managedFields

        if Self.specChanged(from: current, to: updated) {
            updated[path: ["metadata", "generation"]] = .int((current[path: ["metadata", "generation"]]?.int ?? 1) + 1)
        }
        guard updated != current else { return current }
        if context.dryRun { return updated }

        let finalizers = updated[path: ["metadata", "finalizers"]]?.array ?? []
        if updated[path: ["metadata", "deletionTimestamp"]] != nil, finalizers.isEmpty {
            return remove(type, namespace: namespace, name: name, object: updated, context: context)
        }
        let stored = commit(type, namespace: namespace, name: name, object: updated, kind: .modified, previous: current)
        didWrite(type, namespace: namespace, name: name, previous: current, current: stored, context: context)
        return objects[type.storageKey]?[Self.key(namespace: namespace, name: name)] ?? stored
    }

    static func specChanged(from old: JSONValue, to new: JSONValue) -> Bool {
        var oldBody = old.object ?? [:], newBody = new.object ?? [:]
        for field in ["metadata", "status", "apiVersion", "kind"] {
            oldBody[field] = nil
            newBody[field] = nil
        }
        return oldBody != newBody
    }

    // MARK: Patch

    func patch(_ type: ResourceType, namespace: String?, name: String, format: PatchFormat, body: Data, subresource: Subresource?, force: Bool, context: WriteContext) throws(APIError) -> JSONValue {
        let document: JSONValue
        do {
            document = format == .apply ? try JSONValue(yaml: String(decoding: body, as: UTF8.self)) : try JSONValue(parsing: body)
        } catch {
            throw .badRequest("error decoding patch: \(error)")
        }
        if format == .strategic, !type.builtIn {
            throw .unsupportedMediaType(format.rawValue, accepted: [PatchFormat.json.rawValue, PatchFormat.merge.rawValue, PatchFormat.apply.rawValue])
        }
        if format == .apply {
            return try apply(type, namespace: namespace, name: name, configuration: document, subresource: subresource, force: force, context: context)
        }
        if subresource == .scale {
            let scale = try scaleObject(type, namespace: namespace, name: name)
            let patched = try Self.patched(scale, with: document, format: format)
            return try updateScale(type, namespace: namespace, name: name, scale: patched, context: context)
        }
        let current = try object(type, namespace: namespace, name: name)
        var patched = try Self.patched(current, with: document, format: format)
        if let version = patched[path: ["metadata", "resourceVersion"]]?.string, version != current[path: ["metadata", "resourceVersion"]]?.string {
            throw .conflict(type, name)
        }
        if subresource == .status {
            var statusOnly = current
            statusOnly["status"] = patched["status"]
            patched = statusOnly
        } else if type.hasStatus {
            patched["status"] = current["status"]
        }
        return try store(patched, replacing: current, type, namespace: namespace, name: name, context: context, ownership: .update(subresource: subresource?.rawValue ?? ""))
    }

    static func patched(_ object: JSONValue, with document: JSONValue, format: PatchFormat) throws(APIError) -> JSONValue {
        switch format {
        case .json:
            do {
                return try JSONPatch(document).applied(to: object)
            } catch {
                throw APIError(code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request: \(error)")
            }
        case .merge:
            guard case .object = document else { throw .badRequest("a merge patch must be a JSON object") }
            return MergePatch.apply(document, to: object)
        case .strategic:
            guard case .object = document else { throw .badRequest("a strategic merge patch must be a JSON object") }
            return try StrategicMergePatch.apply(document, to: object)
        case .apply:
            return MergePatch.apply(document, to: object)
        }
    }

    /// Server-side apply: creates the object when missing; otherwise merges the configuration,
    /// refusing (409) to change fields another manager owns unless `force`.
    private func apply(_ type: ResourceType, namespace: String?, name: String, configuration: JSONValue, subresource: Subresource?, force: Bool, context: WriteContext) throws(APIError) -> JSONValue {
        guard case .object = configuration else { throw .badRequest("an apply configuration must be an object") }
        guard let current = objects[type.storageKey]?[Self.key(namespace: namespace, name: name)] else {
            var object = configuration
            object[path: ["metadata", "name"]] = .string(name)
            return try create(type, namespace: namespace, body: object, context: context, appliedConfiguration: configuration)
        }
        var ownership = FieldOwnership(object: current, schema: type.schema)
        let sub = subresource?.rawValue ?? ""
        var merged: JSONValue
        do {
            merged = try ownership.apply(configuration, to: current, manager: context.fieldManager, apiVersion: type.groupVersion, time: context.timestamp, subresource: sub, force: force)
        } catch {
            throw .applyConflict(type, name, conflicts: error.conflicts)
        }
        if subresource != .status, type.hasStatus { merged["status"] = current["status"] }
        return try store(merged, replacing: current, type, namespace: namespace, name: name, context: context, ownership: .applied(ownership))
    }

    // MARK: Scale

    func scaleObject(_ type: ResourceType, namespace: String?, name: String) throws(APIError) -> JSONValue {
        guard type.hasScale else { throw .pathNotFound("\(type.plural)/\(name)/scale") }
        let object = try object(type, namespace: namespace, name: name)
        let labels = object[path: ["spec", "selector", "matchLabels"]]?.object ?? [:]
        let selector = labels.keys.sorted().map { "\($0)=\(labels[$0]?.string ?? "")" }.joined(separator: ",")
        var metadata: JSONValue = .emptyObject
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            metadata[field] = object[path: ["metadata", field]]
        }
        return [
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata,
            "spec": ["replicas": object[path: ["spec", "replicas"]] ?? 0],
            "status": ["replicas": object[path: ["status", "replicas"]] ?? 0, "selector": .string(selector)],
        ]
    }

    func updateScale(_ type: ResourceType, namespace: String?, name: String, scale: JSONValue, context: WriteContext) throws(APIError) -> JSONValue {
        let current = try object(type, namespace: namespace, name: name)
        guard type.hasScale else { throw .pathNotFound("\(type.plural)/\(name)/scale") }
        if let version = scale[path: ["metadata", "resourceVersion"]]?.string, !version.isEmpty,
           version != current[path: ["metadata", "resourceVersion"]]?.string {
            throw .conflict(type, name)
        }
        guard let replicas = scale[path: ["spec", "replicas"]]?.int, replicas >= 0 else {
            throw .invalid(type, name, .invalid("spec.replicas", scale[path: ["spec", "replicas"]] ?? .null, "must be greater than or equal to 0"))
        }
        var updated = current
        updated[path: ["spec", "replicas"]] = .int(replicas)
        _ = try store(updated, replacing: current, type, namespace: namespace, name: name, context: context, ownership: .update(subresource: "scale"))
        return try scaleObject(type, namespace: namespace, name: name)
    }

    // MARK: Delete

    enum Propagation: String, Sendable {
        case background = "Background", foreground = "Foreground", orphan = "Orphan"
    }

    struct Deletion: Sendable {
        /// The object as deleted, or as marked for deletion.
        var object: JSONValue
        /// True while finalizers (or a namespace's contents) keep it.
        var pending: Bool
    }

    /// Deletes an object, or marks it for deletion while finalizers remain.
    @discardableResult
    func delete(_ type: ResourceType, namespace: String?, name: String, propagation: Propagation = .background, precondition: (uid: String?, resourceVersion: String?) = (nil, nil), context: WriteContext) throws(APIError) -> Deletion {
        let current = try object(type, namespace: namespace, name: name)
        if let uid = precondition.uid, uid != current[path: ["metadata", "uid"]]?.string {
            throw APIError(code: 409, reason: "Conflict", message: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current[path: ["metadata", "uid"]]?.string ?? "")")
        }
        if let version = precondition.resourceVersion, version != current[path: ["metadata", "resourceVersion"]]?.string {
            throw .conflict(type, name)
        }
        if context.dryRun { return Deletion(object: current, pending: false) }
        let finalizers = current[path: ["metadata", "finalizers"]]?.array ?? []
        let isNamespace = type.storageKey == "/namespaces"
        if !finalizers.isEmpty || isNamespace {
            var marked = current
            if marked[path: ["metadata", "deletionTimestamp"]] == nil {
                marked[path: ["metadata", "deletionTimestamp"]] = .string(context.timestamp)
                marked[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
                if isNamespace { marked[path: ["status", "phase"]] = "Terminating" }
                marked = commit(type, namespace: namespace, name: name, object: marked, kind: .modified, previous: current)
            }
            if isNamespace {
                let remaining = terminateNamespace(name, object: marked, context: context)
                return Deletion(object: remaining, pending: namespaceExists(name))
            }
            return Deletion(object: marked, pending: true)
        }
        return Deletion(object: remove(type, namespace: namespace, name: name, object: current, propagation: propagation, context: context), pending: false)
    }

    /// Removes an object for good and lets the controllers react (dependents, namespace, CRD).
    @discardableResult
    func remove(_ type: ResourceType, namespace: String?, name: String, object: JSONValue, propagation: Propagation = .background, context: WriteContext) -> JSONValue {
        let removed = commit(type, namespace: namespace, name: name, object: object, kind: .deleted, previous: object)
        didRemove(type, namespace: namespace, object: removed, propagation: propagation, context: context)
        return removed
    }
}
