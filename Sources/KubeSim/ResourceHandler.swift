import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore

/// One request on a resource: reads its parameters and body, runs the verb on the store, and
/// shapes the answer (object, list, Table, or a stream of watch events).
struct ResourceHandler {
    let state: SimulatorState
    let request: Request
    let target: ResourceTarget
    let context: SimContext
    let identity: Identity
    /// The query string, read once.
    let parameters: QueryParameters
    /// Warnings for the answer (unknown fields under `fieldValidation=Warn`).
    let warnings = WarningSink()

    private var store: ObjectStore { state.store }
    private var type: ResourceType { target.type }

    init(state: SimulatorState, request: Request, target: ResourceTarget, context: SimContext, identity: Identity) {
        self.state = state
        self.request = request
        self.target = target
        self.context = context
        self.identity = identity
        parameters = QueryParameters(request.uri.query)
    }

    private func query(_ name: String) -> String? {
        parameters[name]
    }

    private var writeContext: WriteContext {
        get throws(APIError) {
            let agent = request.headers[.userAgent].flatMap { $0.split(separator: "/").first.map(String.init) }
            var context = WriteContext(fieldManager: query("fieldManager") ?? agent ?? "unknown", dryRun: query("dryRun") == "All", now: Date())
            if let text = query("fieldValidation") {
                guard let mode = ObjectDecoder.FieldValidation(rawValue: text) else {
                    throw .badRequest("fieldValidation parameter unsupported: \(text)")
                }
                context.fieldValidation = mode
            }
            context.warnings = warnings
            return context
        }
    }

    private var wantsTable: Bool {
        (request.headers[.accept] ?? "").split(separator: ",").first.map { $0.contains("as=Table") } ?? false
    }

    func handle(verb: String) async throws(APIError) -> Response {
        guard type.verbs.contains(verb) else {
            throw .methodNotAllowed("the server does not allow this method on the requested resource")
        }
        if type.isCreateOnly {
            let review = try await AccessReview(state: state, identity: identity, type: type, namespace: target.namespace).answer(to: try await jsonBody())
            return APIServer.json(review, status: 201)
        }
        switch verb {
        case "get": return try await get()
        case "list": return try await list()
        case "watch": return try await watch()
        case "create": return try await create()
        case "update": return try await update()
        case "patch": return try await patch()
        case "delete": return try await delete()
        case "deletecollection": return try await deleteCollection()
        default: throw .methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    /// The version objects of this resource are stored in.
    private var storageType: ResourceType {
        get async { await store.type(forStorageKey: type.storageKey) ?? type }
    }

    private var subresource: ObjectStore.Subresource? {
        target.subresource.flatMap(ObjectStore.Subresource.init(rawValue:))
    }

    private func requireName() throws(APIError) -> String {
        guard let name = target.name else { throw .methodNotAllowed("a resource name is required") }
        return name
    }

    private func body() async throws(APIError) -> Data {
        do {
            var buffer = try await request.body.collect(upTo: APIServer.maxBodySize)
            return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch {
            throw APIError(code: 413, reason: "RequestEntityTooLarge", message: "the request body is too large or could not be read")
        }
    }

    private func jsonBody() async throws(APIError) -> JSONValue {
        let data = try await body()
        let contentType = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        if contentType == ProtobufDecoder.contentType {
            guard type.builtIn else {
                throw .unsupportedMediaType(contentType, accepted: ["application/json", "application/yaml"])
            }
            do {
                return try ProtobufDecoder.decode(data, type: type)
            } catch {
                throw .badRequest("the object provided is unrecognized (must be of type \(type.kind)): \(error)")
            }
        }
        do {
            return try JSONValue(parsing: data)
        } catch {
            // kubectl and people also send YAML.
            guard let yaml = try? JSONValue(yaml: String(decoding: data, as: UTF8.self)), case .object = yaml else {
                throw .badRequest("the object provided is unrecognized: \(error)")
            }
            return yaml
        }
    }

    /// The body with the request's apiVersion and kind where it names none, for conversion.
    private func typedBody() async throws(APIError) -> JSONValue {
        Self.typed(try await jsonBody(), type)
    }

    private static func typed(_ body: JSONValue, _ type: ResourceType) -> JSONValue {
        guard case .object = body else { return body }
        var typed = body
        if typed["apiVersion"]?.string?.isEmpty ?? true { typed["apiVersion"] = .string(type.groupVersion) }
        if typed["kind"]?.string?.isEmpty ?? true { typed["kind"] = .string(type.kind) }
        return typed
    }

    private func respond(_ stored: JSONValue, status: Int = 200) -> Response {
        let object = Conversion.convert(stored, to: type)
        var response: Response
        if wantsTable, object["kind"]?.string == type.kind {
            response = APIServer.json(TablePrinter.table(for: type, objects: [object], resourceVersion: object[path: ["metadata", "resourceVersion"]]?.string, includeObject: query("includeObject") ?? "Metadata", now: Date()), status: status)
        } else {
            response = APIServer.json(object, status: status)
        }
        for warning in warnings.all {
            response.headers.append(HTTPField(name: HTTPField.Name("Warning")!, value: "299 - \"\(warning.replacingOccurrences(of: "\"", with: "\\\""))\""))
        }
        return response
    }

    // MARK: Reads

    private func get() async throws(APIError) -> Response {
        let name = try requireName()
        if subresource == .scale {
            return APIServer.json(try await store.scaleObject(type, namespace: target.namespace, name: name))
        }
        return respond(try await store.object(type, namespace: target.namespace, name: name))
    }

    private func selectors() throws(APIError) -> (LabelSelector, FieldSelector) {
        let labels = try query("labelSelector").map { text throws(APIError) in try LabelSelector(parsing: text) } ?? .everything
        let fields = try query("fieldSelector").map { text throws(APIError) in try FieldSelector(parsing: text, kind: type.kind) } ?? .everything
        return (labels, fields)
    }

    private func list() async throws(APIError) -> Response {
        let (labels, fields) = try selectors()
        var limit: Int?
        if let text = query("limit") {
            guard let value = Int(text), value >= 0 else { throw .badRequest("limit must be a non-negative integer, got \(text)") }
            limit = value == 0 ? nil : value
        }
        var result = try await store.list(type, namespace: target.namespace, labels: labels, fields: fields, limit: limit, continueToken: query("continue"), now: Date())
        result.items = result.items.map { Conversion.convert($0, to: type) }
        var metadata: JSONValue = ["resourceVersion": .string(String(result.resourceVersion))]
        if let token = result.continueToken { metadata["continue"] = .string(token) }
        if let remaining = result.remainingItemCount { metadata["remainingItemCount"] = .int(Int64(remaining)) }
        if wantsTable {
            var table = TablePrinter.table(for: type, objects: result.items, resourceVersion: String(result.resourceVersion), includeObject: query("includeObject") ?? "Metadata", now: Date())
            table["metadata"] = metadata
            return APIServer.json(table)
        }
        // kube-apiserver leaves kind and apiVersion out of the items of built-in lists.
        let items = type.builtIn ? result.items.map { item -> JSONValue in
            var item = item
            item["kind"] = nil
            item["apiVersion"] = nil
            return item
        } : result.items
        return APIServer.json(["kind": .string(type.listKind), "apiVersion": .string(type.groupVersion), "metadata": metadata, "items": .array(items)])
    }

    private func watch() async throws(APIError) -> Response {
        let (labels, fields) = try selectors()
        var filter = WatchFilter(storageKey: type.storageKey, namespace: target.namespace, labels: labels, fields: fields)
        if let name = target.name {
            filter.fields.requirements.append(.init(path: ["metadata", "name"], value: name, negated: false))
        }
        var from: Int64?
        if let text = query("resourceVersion") {
            guard let version = Int64(text) else { throw .badRequest("invalid resource version \"\(text)\"") }
            from = version
        }
        let timeout = query("timeoutSeconds").flatMap(Int.init).map { Duration.seconds($0) }
        let bookmarks = ["1", "true"].contains(query("allowWatchBookmarks") ?? "")
        let events = await store.watch(filter, from: from, bookmarks: bookmarks, kind: type.kind, apiVersion: type.groupVersion)
        let table = wantsTable
        let includeObject = query("includeObject") ?? "Metadata"
        let channel = context.channel
        let type = self.type
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: ResponseBody { writer in
                let (merged, sink) = AsyncStream.makeStream(of: WatchSignal.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await signal in events { sink.yield(signal) }
                        sink.finish()
                    }
                    if let timeout {
                        group.addTask {
                            try await Task.sleep(for: timeout)
                            sink.finish()
                        }
                    }
                    for await signal in merged {
                        switch signal {
                        case .dropConnection:
                            group.cancelAll()
                            try? await channel.close()
                            return
                        case .event(var event):
                            event.object = Conversion.convert(event.object, to: type)
                            if table, event.kind != .error, event.kind != .bookmark {
                                event.object = TablePrinter.table(for: type, objects: [event.object], resourceVersion: event.object[path: ["metadata", "resourceVersion"]]?.string, includeObject: includeObject, now: Date())
                            }
                            var line = event.line.serializedData()
                            line.append(0x0A)
                            try await writer.write(ByteBuffer(bytes: line))
                        }
                    }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            }
        )
    }

    // MARK: Writes

    private func create() async throws(APIError) -> Response {
        guard target.name == nil || type.kind == "Namespace" && target.subresource == nil else {
            throw .methodNotAllowed("POST is not supported on a named \(type.qualifiedName)")
        }
        let storage = await storageType
        let object = try await store.create(storage, namespace: target.namespace, body: Conversion.convert(try await typedBody(), to: storage), context: try writeContext)
        return respond(object, status: 201)
    }

    private func update() async throws(APIError) -> Response {
        let name = try requireName()
        let body = try await jsonBody()
        if subresource == .scale {
            return APIServer.json(try await store.updateScale(type, namespace: target.namespace, name: name, scale: body, context: try writeContext))
        }
        let storage = await storageType
        return respond(try await store.update(storage, namespace: target.namespace, name: name, body: Conversion.convert(Self.typed(body, type), to: storage), subresource: subresource, context: try writeContext))
    }

    private func patch() async throws(APIError) -> Response {
        let name = try requireName()
        let contentType = (request.headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let format = PatchFormat(rawValue: contentType) else {
            throw .unsupportedMediaType(contentType, accepted: PatchFormat.allCases.map(\.rawValue))
        }
        if format == .apply, query("fieldManager") == nil {
            throw .badRequest("PATCH /apply: fieldManager is required")
        }
        let force = ["1", "true"].contains(query("force") ?? "")
        if force, format != .apply {
            throw .badRequest("force is only supported for apply patches")
        }
        let existed = (try? await store.object(type, namespace: target.namespace, name: name)) != nil
        let result = try await store.patch(await storageType, namespace: target.namespace, name: name, format: format, body: try await body(), subresource: subresource, force: force, context: try writeContext)
        // An apply that creates the object answers 201, as a create does.
        return subresource == .scale ? APIServer.json(result) : respond(result, status: existed ? 200 : 201)
    }

    private func deleteOptions() async throws(APIError) -> (ObjectStore.Propagation, (uid: String?, resourceVersion: String?)) {
        let data = try await body()
        let options = data.isEmpty ? JSONValue.emptyObject : ((try? JSONValue(parsing: data)) ?? .emptyObject)
        let policyText = query("propagationPolicy") ?? options["propagationPolicy"]?.string ?? "Background"
        guard let policy = ObjectStore.Propagation(rawValue: policyText) else {
            throw .badRequest("invalid propagationPolicy \"\(policyText)\": Background, Foreground or Orphan")
        }
        return (policy, (options[path: ["preconditions", "uid"]]?.string, options[path: ["preconditions", "resourceVersion"]]?.string))
    }

    private func delete() async throws(APIError) -> Response {
        let name = try requireName()
        if type.storageKey == "/namespaces", ["default", "kube-system", "kube-public"].contains(name) {
            // The NamespaceLifecycle admission plugin.
            throw .forbidden(type, name, "this namespace may not be deleted")
        }
        let (policy, precondition) = try await deleteOptions()
        let result = try await store.delete(type, namespace: target.namespace, name: name, propagation: policy, precondition: precondition, context: try writeContext)
        // Still there (finalizers, a terminating namespace), or a kind that returns what it deleted.
        if result.pending || type.returnsDeletedObject {
            return respond(result.object)
        }
        var details: JSONValue = ["name": .string(name), "kind": .string(type.plural), "uid": result.object[path: ["metadata", "uid"]] ?? ""]
        if !type.group.isEmpty { details["group"] = .string(type.group) }
        return APIServer.json(["kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Success", "details": details])
    }

    private func deleteCollection() async throws(APIError) -> Response {
        let (labels, fields) = try selectors()
        let (policy, _) = try await deleteOptions()
        let context = try writeContext
        let items = try await store.list(type, namespace: target.namespace, labels: labels, fields: fields, limit: nil, continueToken: nil, now: Date()).items
        var deleted: [JSONValue] = []
        for item in items {
            guard let name = item[path: ["metadata", "name"]]?.string else { continue }
            if let result = try? await store.delete(type, namespace: item[path: ["metadata", "namespace"]]?.string, name: name, propagation: policy, context: context) {
                deleted.append(result.object)
            }
        }
        return APIServer.json(["kind": .string(type.listKind), "apiVersion": .string(type.groupVersion), "metadata": .emptyObject, "items": .array(deleted)])
    }
}
