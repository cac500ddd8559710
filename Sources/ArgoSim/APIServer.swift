import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore
import SimulatorKit

/// Answers Argo CD's REST API (`/api/v1`, grpc-gateway): sessions, Applications, sync.
struct APIServer: HTTPResponder {
    typealias Context = ConnectionContext
    let state: ArgoState

    func respond(to request: Request, context: ConnectionContext) async throws -> Response {
        var record = RequestRecord(time: Date(), method: request.method.rawValue, route: "", path: request.uri.description, user: nil, status: 0)
        defer {
            let finished = record
            state.requests.append(finished)
        }
        switch await state.faults.judge() {
        case .proceed:
            break
        case .rateLimited(let retryAfter, _):
            record.status = 429
            return Response(status: .tooManyRequests, headers: [.retryAfter: String(retryAfter), .contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "Too Many Requests\n")))
        case .drop:
            return context.cutResponse()
        case .serverError:
            record.status = 500
            return Self.json(ArgoError(code: .internal, message: "injected server error").body, status: 500)
        }
        let segments = request.uri.path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        let query = Self.query(request.uri.query)
        do {
            var buffer = try await request.body.collect(upTo: 8 << 20)
            let data = buffer.readData(length: buffer.readableBytes) ?? Data()
            let body: JSONValue = data.isEmpty ? .emptyObject : try Self.parse(data)
            let (route, value) = try await route(request, segments: segments, query: query, body: body, record: &record)
            record.route = route
            record.status = 200
            return Self.json(value)
        } catch let error as ArgoError {
            record.status = error.status
            return Self.json(error.body, status: error.status)
        } catch {
            record.status = 500
            return Self.json(ArgoError(code: .internal, message: "\(error)").body, status: 500)
        }
    }

    private static func parse(_ data: Data) throws(ArgoError) -> JSONValue {
        guard let value = try? JSONValue(parsing: data) else {
            throw .invalid("invalid character in request body: not JSON")
        }
        return value
    }

    static func query(_ text: String?) -> [String: String] {
        var values: [String: String] = [:]
        for pair in (text ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            values[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return values
    }

    /// The user of a bearer token or `argocd.token` cookie.
    private func authenticate(_ request: Request) throws(ArgoError) -> String {
        var token: String?
        if let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") {
            token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else if let cookie = request.headers[.cookie] {
            token = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { $0.hasPrefix("argocd.token=") }.map { String($0.dropFirst("argocd.token=".count)) }
        }
        guard let token, !token.isEmpty else { throw .noSession }
        guard let user = state.tokens.withLock({ $0[token] }) else {
            throw ArgoError(code: .unauthenticated, message: "invalid session: token signature is invalid")
        }
        return user
    }

    private func route(_ request: Request, segments: [String], query: [String: String], body: JSONValue, record: inout RequestRecord) async throws -> (String, JSONValue) {
        let method = request.method.rawValue
        guard segments.first == "api" else { throw ArgoError(code: .notFound, message: "Not Found") }
        if segments == ["api", "version"] { return ("GET /api/version", ["Version": "v2.14.0+argosim"]) }
        guard segments.count >= 3, segments[1] == "v1" else { throw ArgoError(code: .notFound, message: "Not Found") }
        let path = Array(segments.dropFirst(2))
        if path == ["session"], method == "POST" {
            guard let username = body["username"]?.string, let password = body["password"]?.string,
                  state.configuration.users[username] == password
            else { throw ArgoError.invalidLogin }
            let token = "argosim." + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            state.tokens.withLock { $0[token] = username }
            record.user = username
            return ("POST /api/v1/session", ["token": .string(token)])
        }
        let user = try authenticate(request)
        record.user = user
        let controller = state.controller
        switch (method, path.first, path.count) {
        case ("GET", "session", 2) where path[1] == "userinfo":
            return ("GET /api/v1/session/userinfo", ["loggedIn": true, "username": .string(user), "iss": "argocd"])
        case ("GET", "applications", 1):
            var items: [JSONValue] = []
            let selected = query["name"]
            for name in await controller.names where selected.map({ $0 == name }) ?? true {
                if let application = await controller.application(name) { items.append(application) }
            }
            return ("GET /api/v1/applications", ["metadata": ["resourceVersion": "1"], "items": .array(items)])
        case ("POST", "applications", 1):
            try authorize(user, "create", body[path: ["metadata", "name"]]?.string ?? "")
            return ("POST /api/v1/applications", try await controller.create(body, upsert: query["upsert"] == "true"))
        case (_, "applications", _) where path.count >= 2:
            return try await applicationRoute(method, name: path[1], rest: Array(path.dropFirst(2)), query: query, body: body, user: user)
        default:
            throw ArgoError(code: .notFound, message: "Not Found")
        }
    }

    private func applicationRoute(_ method: String, name: String, rest: [String], query: [String: String], body: JSONValue, user: String) async throws -> (String, JSONValue) {
        let controller = state.controller
        guard let current = await controller.application(name) else {
            // Without a project in the request, Argo CD does not tell a missing app from a forbidden one.
            if let project = query["project"] ?? query["projects"], !project.isEmpty { throw ArgoError.notFound(name) }
            throw ArgoError.permissionDenied
        }
        switch (method, rest.first) {
        case ("GET", nil):
            guard let refresh = query["refresh"] else { return ("GET /api/v1/applications/{name}", current) }
            guard ["normal", "hard"].contains(refresh) else { throw ArgoError.invalid("invalid refresh type: \(refresh)") }
            return ("GET /api/v1/applications/{name}?refresh", try await controller.refresh(name))
        case ("PUT", nil):
            try authorize(user, "update", name, current)
            guard let spec = body["spec"] else { throw ArgoError.invalid("application spec is required") }
            return ("PUT /api/v1/applications/{name}", try await controller.update(name, spec: spec, metadata: body["metadata"]))
        case ("PUT", "spec"):
            try authorize(user, "update", name, current)
            return ("PUT /api/v1/applications/{name}/spec", try await controller.update(name, spec: body, metadata: nil)["spec"] ?? .null)
        case ("PATCH", nil):
            try authorize(user, "update", name, current)
            let patched = try Self.patch(current, body)
            return ("PATCH /api/v1/applications/{name}", try await controller.update(name, spec: patched["spec"] ?? .null, metadata: patched["metadata"]))
        case ("DELETE", nil):
            try authorize(user, "delete", name, current)
            try await controller.delete(name, cascade: query["cascade"] != "false")
            return ("DELETE /api/v1/applications/{name}", .emptyObject)
        case ("POST", "sync"):
            try authorize(user, "sync", name, current)
            return ("POST /api/v1/applications/{name}/sync", try await controller.requestSync(name, request: body, user: user))
        case ("DELETE", "operation"):
            try authorize(user, "sync", name, current)
            try await controller.terminate(name)
            return ("DELETE /api/v1/applications/{name}/operation", .emptyObject)
        default:
            throw ArgoError(code: .notFound, message: "Not Found")
        }
    }

    /// `ApplicationPatchRequest`: `patch` is a JSON text, `patchType` `merge` (default) or `json`.
    static func patch(_ application: JSONValue, _ request: JSONValue) throws(ArgoError) -> JSONValue {
        guard let text = request["patch"]?.string, let document = try? JSONValue(parsing: text) else {
            throw .invalid("error unmarshaling patch: patch is not JSON")
        }
        switch request["patchType"]?.string ?? "merge" {
        case "merge":
            return MergePatch.apply(document, to: application)
        case "json":
            do {
                return try JSONPatch(document).applied(to: application)
            } catch {
                throw .invalid("error applying patch: \(error)")
            }
        case let other:
            throw .invalid("Patch type '\(other)' is not supported")
        }
    }

    /// Read-only users may get and list; anything else is Argo CD's RBAC denial.
    private func authorize(_ user: String, _ action: String, _ name: String, _ application: JSONValue? = nil) throws(ArgoError) {
        guard state.configuration.readOnlyUsers.contains(user) else { return }
        let project = application?[path: ["spec", "project"]]?.string ?? "default"
        throw ArgoError(code: .permissionDenied, message: "permission denied: applications, \(action), \(project)/\(name), sub: \(user)")
    }

    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.serializedData())))
    }
}
