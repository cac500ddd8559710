import Config
import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore
import Scheduling
import Store

/// The request context of the hub's HTTP server: who is asking, once authenticated.
public struct HubRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// What the plugins look like from the API (the plugin host provides it).
public protocol PluginStatusProvider: Sendable {
    func pluginStatuses() async -> JSONValue
    func reloadPlugins() async -> JSONValue
}

/// The hub's HTTP surface: `/api/v1` (JSON, bearer tokens), `/metrics`, `/healthz`, `/readyz`.
public enum HubAPI {
    public static func router(hub: Hub, plugins: (any PluginStatusProvider)? = nil, slack: SlackGateway? = nil, ready: @escaping @Sendable () -> Bool = { true }) -> Router<HubRequestContext> {
        let router = Router(context: HubRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(metrics: hub.metrics))
        router.add(middleware: ErrorMiddleware())
        router.get("healthz") { _, _ in "ok" }
        router.get("readyz") { _, _ -> Response in
            ready() ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "starting")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: hub.metrics.exposition())))
        }
        router.get("api/v1/openapi.yaml") { _, _ -> Response in
            guard let document = OpenAPIDocument.yaml else { throw HubError.internal("the API description was not installed with the binary (sandman_Hub.resources)") }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }

        if let slack {
            let endpoints: [(String, @Sendable (Data, String?, String?) async -> SlackGateway.Reply)] = [
                ("slack/commands", slack.command), ("slack/interactions", slack.interaction), ("slack/events", slack.event),
            ]
            for (path, handle) in endpoints {
                router.post(RouterPath(stringLiteral: path)) { request, _ -> Response in
                    var request = request
                    // Read a little past Slack's limit, so that an oversized body is told apart.
                    let buffer = (try? await request.collectBody(upTo: SlackVerifier.maximumBodySize + 1)) ?? ByteBuffer(repeating: 0, count: SlackVerifier.maximumBodySize + 1)
                    let reply = await handle(Data(buffer.readableBytesView), request.headers[HTTPField.Name("X-Slack-Request-Timestamp")!], request.headers[HTTPField.Name("X-Slack-Signature")!])
                    guard let body = reply.body else { return Response(status: .init(code: reply.status)) }
                    return json(body, status: .init(code: reply.status))
                }
            }
        }

        if let gitops = hub.gitops {
            // Authenticated by its `X-Gitlab-Token`, not by an API token.
            router.post("gitlab/webhook") { request, _ -> Response in
                var request = request
                let buffer = try await request.collectBody(upTo: 1 << 20)
                let reply = await gitops.receiveWebhook(
                    Data(buffer.readableBytesView), token: request.headers[HTTPField.Name("X-Gitlab-Token")!],
                    event: request.headers[HTTPField.Name("X-Gitlab-Event")!]
                )
                return json(reply.body, status: .init(code: reply.status))
            }
        }

        let api = router.group("api/v1").add(middleware: TokenAuthMiddleware(store: hub.store))
        api.get("clusters") { _, context in
            let principal = try context.requirePrincipal()
            var items: [JSONValue] = []
            for status in await hub.clusterStatuses() where principal.mayRead(status.name) {
                items.append(Representation.cluster(status, savings: await hub.savings(cluster: status.name), now: hub.clock.now))
            }
            return json(["clusters": .array(items)])
        }
        api.get("clusters/:cluster") { _, context in
            let name = try context.parameters.require("cluster")
            let principal = try context.requirePrincipal()
            _ = try hub.cluster(name)
            guard principal.mayRead(name), let agent = hub.agents[name] else { throw HubError.forbidden("\(principal.name) may not read cluster \(name)") }
            let status = await agent.status()
            var body = Representation.cluster(status, savings: await hub.savings(cluster: name), now: hub.clock.now)
            body["namespaces"] = .array(status.namespaces.map { Representation.namespace($0, now: hub.clock.now) })
            return json(body)
        }
        api.get("clusters/:cluster/namespaces") { _, context in
            let name = try context.parameters.require("cluster")
            let principal = try context.requirePrincipal()
            _ = try hub.cluster(name)
            guard principal.mayRead(name), let agent = hub.agents[name] else { throw HubError.forbidden("\(principal.name) may not read cluster \(name)") }
            return json(["cluster": .string(name), "namespaces": .array(await agent.status().namespaces.map { Representation.namespace($0, now: hub.clock.now) })])
        }
        for action in [Transition.Kind.sleep, .wake] {
            api.post("clusters/:cluster/\(action.rawValue)") { request, context in
                let name = try context.parameters.require("cluster")
                let body = try await jsonBody(request, allowEmpty: true)
                let namespaces = try stringList(body["namespaces"], field: "namespaces")
                let duration = try positiveDuration(body["duration"])
                let reason = try optionalString(body["reason"], field: "reason")
                let operation = try await hub.request(action, cluster: name, namespaces: namespaces, duration: duration, reason: reason, by: try context.requirePrincipal(), source: source(of: request))
                return json(["operation": Representation.operation(operation)], status: .accepted)
            }
        }
        api.get("operations") { request, context in
            let principal = try context.requirePrincipal()
            let cluster = request.uri.queryParameters["cluster"].map(String.init)
            let limit = try limitParameter(request, default: 100)
            let operations = try await hubCall { try await hub.store.operations(cluster: cluster, limit: limit) }
            return json(["operations": .array(operations.filter { principal.mayRead($0.cluster) }.map(Representation.operation))])
        }
        api.get("operations/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let operation = try await hubCall({ try await hub.store.operation(id: id) }), try context.requirePrincipal().mayRead(operation.cluster) else {
                throw HubError.notFound("operation \(id) not found", field: "id")
            }
            return json(["operation": Representation.operation(operation)])
        }
        api.get("overrides") { request, context in
            let principal = try context.requirePrincipal()
            let cluster = request.uri.queryParameters["cluster"].map(String.init)
            let overrides = try await hubCall { try await hub.store.activeOverrides(at: hub.clock.now, cluster: cluster) }
            return json(["overrides": .array(overrides.filter { principal.mayRead($0.cluster) }.map(Representation.override))])
        }
        api.post("overrides") { request, context in
            let body = try await jsonBody(request, allowEmpty: false)
            guard let cluster = body["cluster"]?.string else { throw HubError.badRequest("cluster is required", field: "cluster") }
            guard let kindText = body["kind"]?.string, let kind = OverrideRecord.Kind(rawValue: kindText) else {
                throw HubError.badRequest("kind must be one of wake, sleep, skip", field: "kind")
            }
            let now = hub.clock.now
            if body["until"] != nil, body["duration"] != nil { throw HubError.badRequest("give until or duration, not both", field: "duration") }
            var until: Date?
            if let text = try optionalString(body["until"], field: "until") {
                guard let date = try? Date(text, strategy: .iso8601) else { throw HubError.badRequest("until must be an RFC 3339 time", field: "until") }
                until = date
            } else if let duration = try positiveDuration(body["duration"]) {
                until = now.addingTimeInterval(duration.inSeconds)
            }
            if body["namespace"] != nil, body["namespaces"] != nil { throw HubError.badRequest("give namespace or namespaces, not both", field: "namespaces") }
            var namespaces = try stringList(body["namespaces"], field: "namespaces")
            if let namespace = try optionalString(body["namespace"], field: "namespace") { namespaces = [namespace] }
            let records = try await hub.createOverride(
                cluster: cluster, namespaces: namespaces, kind: kind, until: until,
                reason: try optionalString(body["reason"], field: "reason"), by: try context.requirePrincipal(), source: source(of: request)
            )
            var reply: JSONValue = ["override": Representation.override(records[0]), "overrides": .array(records.map(Representation.override))]
            // GitOps: proposed in a merge request, in force once merged and synced.
            guard let pending = await hub.gitopsOperation(carrying: records[0].id) else { return json(reply, status: .created) }
            reply["operation"] = Representation.operation(pending)
            return json(reply, status: .accepted)
        }
        api.delete("overrides/:id") { request, context in
            let pending = try await hub.deleteOverride(id: try context.parameters.require("id"), by: try context.requirePrincipal(), source: source(of: request))
            guard let pending else { return Response(status: .noContent) }
            return json(["operation": Representation.operation(pending)], status: .accepted)
        }
        api.get("audit") { request, context in
            let principal = try context.requirePrincipal()
            let query = request.uri.queryParameters
            func time(_ name: String) throws(HubError) -> Date? {
                guard let text = query[Substring(name)].map(String.init) else { return nil }
                if let date = try? Date(text, strategy: .iso8601) { return date }
                if let ago = try? DurationText.parse(text) { return hub.clock.now.addingTimeInterval(-ago.inSeconds) }
                throw .badRequest("\(name) must be an RFC 3339 time or a duration such as 24h", field: name)
            }
            let entries = try await hubCall {
                try await hub.store.auditEntries(AuditQuery(since: try time("since"), until: try time("until"), actor: query["actor"].map(String.init), cluster: query["cluster"].map(String.init), limit: try limitParameter(request, default: 500)))
            }
            return json(["entries": .array(entries.filter { $0.cluster.map(principal.mayRead) ?? true }.map(Representation.audit))])
        }
        api.get("plugins") { _, context in
            _ = try context.requirePrincipal()
            return json(await plugins?.pluginStatuses() ?? ["plugins": []])
        }
        api.post("plugins/reload") { request, context in
            let principal = try context.requirePrincipal()
            guard principal.role == .admin else {
                await hub.audit(principal, source: source(of: request), action: "plugins-reload", cluster: nil, namespaces: [], result: "denied", detail: "needs the admin role")
                throw HubError.forbidden("reloading plugins needs the admin role")
            }
            let statuses = await plugins?.reloadPlugins() ?? ["plugins": []]
            await hub.audit(principal, source: source(of: request), action: "plugins-reload", cluster: nil, namespaces: [], result: "ok", detail: "")
            return json(statuses)
        }
        return router
    }

    // MARK: Helpers

    /// A `duration` field: a positive duration such as "2h", or absent.
    static func positiveDuration(_ value: JSONValue?) throws(HubError) -> Duration? {
        guard let value, value != .null else { return nil }
        guard let text = value.string else { throw .badRequest("duration must be a string such as \"2h\"", field: "duration") }
        let duration: Duration
        do { duration = try DurationText.parse(text) } catch { throw .badRequest("\(error)", field: "duration") }
        guard duration > .zero else { throw .badRequest("duration must be positive", field: "duration") }
        return duration
    }

    /// The `limit` query parameter, 1 to 1000.
    static func limitParameter(_ request: Request, default fallback: Int) throws(HubError) -> Int {
        guard let text = request.uri.queryParameters["limit"] else { return fallback }
        guard let limit = Int(text), (1...1000).contains(limit) else { throw .badRequest("limit must be a number from 1 to 1000", field: "limit") }
        return limit
    }

    /// Who made a request, for the audit: the `sandman` CLI says so in its user agent.
    static func source(of request: Request) -> String {
        request.headers[.userAgent]?.hasPrefix("sandman-cli") == true ? "cli" : "api"
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.serializedData())))
    }

    static func jsonBody(_ request: Request, allowEmpty: Bool) async throws -> JSONValue {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        if buffer.readableBytes == 0 {
            if allowEmpty { return .emptyObject }
            throw HubError.badRequest("a JSON object body is required")
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: Data(buffer.readableBytesView))
        } catch {
            throw HubError.badRequest("malformed JSON body: \(error)")
        }
        guard case .object = value else { throw HubError.badRequest("the body must be a JSON object") }
        return value
    }

    static func stringList(_ value: JSONValue?, field: String) throws(HubError) -> [String] {
        guard let value, value != .null else { return [] }
        guard let items = value.array, items.allSatisfy({ $0.string != nil }) else { throw .badRequest("\(field) must be a list of strings", field: field) }
        return items.compactMap(\.string)
    }

    static func optionalString(_ value: JSONValue?, field: String) throws(HubError) -> String? {
        guard let value, value != .null else { return nil }
        guard let text = value.string else { throw .badRequest("\(field) must be a string", field: field) }
        return text
    }

    /// Store failures are the hub's problem, not the caller's.
    static func hubCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as HubError {
            throw error
        } catch {
            throw HubError.internal("\(error)")
        }
    }
}

extension HubRequestContext {
    func requirePrincipal() throws(HubError) -> Principal {
        guard let principal else { throw HubError(kind: .unauthorized, message: "a bearer token is required") }
        return principal
    }
}

/// Authenticates `Authorization: Bearer <token>` against the hashed tokens in the store.
struct TokenAuthMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let store: Store

    func handle(_ request: Request, context: HubRequestContext, next: (Request, HubRequestContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw HubError(kind: .unauthorized, message: "a bearer token is required (Authorization: Bearer <token>)")
        }
        let secret = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let principal = try await HubAPI.hubCall({ try await APITokens.principal(for: secret, in: store) }) else {
            throw HubError(kind: .unauthorized, message: "unknown or revoked token")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}

/// Turns errors into `{"error": {"code", "message", "field"}}` with the right status.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    func handle(_ request: Request, context: HubRequestContext, next: (Request, HubRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HubError {
            let status: HTTPResponse.Status = switch error.kind {
            case .badRequest: .badRequest
            case .unauthorized: .unauthorized
            case .forbidden: .forbidden
            case .notFound: .notFound
            case .conflict: .conflict
            case .unavailable: .serviceUnavailable
            case .internalError: .internalServerError
            }
            var body: JSONValue = ["code": .string(error.kind.rawValue), "message": .string(error.message)]
            if let field = error.field { body["field"] = .string(field) }
            var response = HubAPI.json(["error": body], status: status)
            if error.kind == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
            return response
        } catch let error as HTTPError {
            return HubAPI.json(["error": ["code": .string(error.status.code == 404 ? "not_found" : "http_\(error.status.code)"), "message": .string(error.body ?? error.status.reasonPhrase)]], status: error.status)
        }
    }
}

/// Counts requests and their duration by route and status.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let metrics: HubMetrics

    func handle(_ request: Request, context: HubRequestContext, next: (Request, HubRequestContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            let route = context.endpointPath ?? "unmatched"
            metrics.recordHTTPRequest(method: request.method.rawValue, route: route, status: (error as? HTTPError)?.status.code ?? 500, seconds: (ContinuousClock.now - start).inSeconds)
            throw error
        }
        metrics.recordHTTPRequest(method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: response.status.code, seconds: (ContinuousClock.now - start).inSeconds)
        return response
    }
}
