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
/// Bodies and query parameters are read strictly (`RequestBody`): an unknown field is a 400, not
/// a silent default. Every error has the shape `ErrorMiddleware` gives it.
public enum HubAPI {
    /// Largest JSON body accepted.
    static let maximumBodySize = 1 << 20

    public static func router(hub: Hub, plugins: (any PluginStatusProvider)? = nil, slack: SlackGateway? = nil, ready: @escaping @Sendable () -> Bool = { true }) -> Router<HubRequestContext> {
        let router = Router(context: HubRequestContext.self)
        let routes = RouteTable()
        router.add(middleware: RequestMetricsMiddleware(metrics: hub.metrics))
        router.add(middleware: ErrorMiddleware(routes: routes))
        router.get("healthz") { _, _ in "ok" }
        router.get("readyz") { _, _ -> Response in
            ready() ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok"))) : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "starting")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: await hub.metricsExposition())))
        }
        router.get("api/v1/openapi.yaml") { _, _ -> Response in
            guard let document = OpenAPIDocument.yaml else { throw HubError.internal("the API description was not installed with the binary (sandman_Hub.resources)") }
            return Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: document)))
        }
        if let slack { addSlackRoutes(to: router, slack: slack) }

        // Authenticated by its `X-Gitlab-Token`, not by an API token.
        router.post("gitlab/webhook") { request, _ -> Response in
            guard let gitops = hub.gitops else { throw HubError.notFound("GitOps is not enabled on this hub (gitops.enabled)") }
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            let reply = await gitops.receiveWebhook(
                Data(buffer.readableBytesView), token: request.headers[HTTPField.Name("X-Gitlab-Token")!],
                event: request.headers[HTTPField.Name("X-Gitlab-Event")!]
            )
            return json(reply.body, status: .init(code: reply.status))
        }

        let api = router.group("api/v1").add(middleware: TokenAuthMiddleware(store: hub.store))
        api.get("clusters") { request, context in
            let principal = try context.requirePrincipal()
            _ = try queryParameters(request, allowed: [])
            var items: [JSONValue] = []
            for status in await hub.clusterStatuses() where principal.mayRead(status.name) {
                items.append(Representation.cluster(status, savings: await hub.savings(cluster: status.name), now: hub.clock.now))
            }
            return json(["clusters": .array(items)])
        }
        api.get("clusters/:cluster") { request, context in
            let status = try await readableCluster(hub, request: request, context: context)
            var body = Representation.cluster(status, savings: await hub.savings(cluster: status.name), now: hub.clock.now)
            body["namespaces"] = .array(status.namespaces.map { Representation.namespace($0, now: hub.clock.now) })
            return json(body)
        }
        api.get("clusters/:cluster/namespaces") { request, context in
            let status = try await readableCluster(hub, request: request, context: context)
            return json(["cluster": .string(status.name), "namespaces": .array(status.namespaces.map { Representation.namespace($0, now: hub.clock.now) })])
        }
        for action in [Transition.Kind.sleep, .wake] {
            api.post("clusters/:cluster/\(action.rawValue)") { request, context in
                let name = try context.parameters.require("cluster")
                let principal = try context.requirePrincipal()
                _ = try queryParameters(request, allowed: [])
                var body = try await jsonBody(request, allowEmpty: true)
                let namespaces = try body.strings("namespaces")
                let all = try body.bool("all") ?? false
                let duration = try body.duration("duration")
                let reason = try body.string("reason")
                try body.finish()
                let operation = try await hub.request(
                    action, cluster: name, namespaces: namespaces, all: all, duration: duration, reason: reason, by: principal, source: source(of: request)
                )
                return json(["operation": Representation.operation(operation)], status: .accepted)
            }
        }
        api.get("operations") { request, context in
            let principal = try context.requirePrincipal()
            let query = try queryParameters(request, allowed: ["cluster", "limit"])
            let cluster = try query["cluster"].map { name throws(HubError) in try hub.cluster(name).name }
            let limit = try limitParameter(query, default: 100)
            let operations = try await hubCall { try await hub.store.operations(cluster: cluster, limit: limit) }
            return json(["operations": .array(operations.filter { principal.mayRead($0.cluster) }.map(Representation.operation))])
        }
        api.get("operations/:id") { request, context in
            let id = try context.parameters.require("id")
            let principal = try context.requirePrincipal()
            let query = try queryParameters(request, allowed: ["wait"])
            let wait = try waitParameter(query)
            guard var operation = try await hubCall({ try await hub.store.operation(id: id) }), principal.mayRead(operation.cluster) else {
                throw HubError.notFound("operation \(id) not found", field: "id")
            }
            if let wait, operation.finishedAt == nil {
                // Answers as soon as the operation finishes: whoever waits on it reads no summary meanwhile.
                let deadline = ContinuousClock.now + wait
                while try await hubCall({ try await hub.store.isOperationFinished(id: id) }) == false, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                operation = try await hubCall({ try await hub.store.operation(id: id) }) ?? operation
            }
            return json(["operation": Representation.operation(operation)])
        }
        api.get("overrides") { request, context in
            let principal = try context.requirePrincipal()
            let query = try queryParameters(request, allowed: ["cluster"])
            let cluster = try query["cluster"].map { name throws(HubError) in try hub.cluster(name).name }
            let overrides = try await hubCall { try await hub.store.activeOverrides(at: hub.clock.now, cluster: cluster) }
            return json(["overrides": .array(overrides.filter { principal.mayRead($0.cluster) }.map(Representation.override))])
        }
        api.post("overrides") { request, context in
            let principal = try context.requirePrincipal()
            _ = try queryParameters(request, allowed: [])
            var body = try await jsonBody(request, allowEmpty: false)
            // Every field is read (and typed) before any is required, so that a typo is named first.
            let cluster = try body.string("cluster")
            let kindText = try body.string("kind")
            let namespace = try body.string("namespace")
            var namespaces = try body.strings("namespaces")
            let all = try body.bool("all") ?? false
            let until = try body.time("until")
            let duration = try body.duration("duration")
            let reason = try body.string("reason")
            try body.finish()
            guard let cluster else { throw HubError.badRequest("cluster is required", field: "cluster") }
            guard let kindText else { throw HubError.badRequest("kind is required: wake, sleep or skip", field: "kind") }
            guard let kind = OverrideRecord.Kind(rawValue: kindText) else {
                throw HubError.badRequest("kind must be one of wake, sleep, skip; got \"\(kindText)\"", field: "kind")
            }
            if let namespace {
                guard namespaces.isEmpty else { throw HubError.badRequest("give namespace or namespaces, not both", field: "namespaces") }
                namespaces = [namespace]
            }
            if until != nil, duration != nil { throw HubError.badRequest("give until or duration, not both", field: "duration") }
            if kind == .skip, until != nil || duration != nil {
                throw HubError.badRequest("a skip override ends with the next transition: it takes no until or duration", field: until != nil ? "until" : "duration")
            }
            if let duration { try hub.checkLimits(duration: duration, reason: nil) }
            let end = until ?? duration.map { hub.clock.now.addingTimeInterval($0.inSeconds) }
            let records = try await hub.createOverride(
                cluster: cluster, namespaces: namespaces, all: all, kind: kind, until: end, reason: reason, by: principal, source: source(of: request)
            )
            var reply: JSONValue = ["override": Representation.override(records[0]), "overrides": .array(records.map(Representation.override))]
            // GitOps: proposed in a merge request, in force once merged and synced.
            guard let pending = await hub.gitopsOperation(carrying: records[0].id) else { return json(reply, status: .created) }
            reply["operation"] = Representation.operation(pending)
            return json(reply, status: .accepted)
        }
        api.delete("overrides/:id") { request, context in
            let principal = try context.requirePrincipal()
            _ = try queryParameters(request, allowed: [])
            let pending = try await hub.deleteOverride(id: try context.parameters.require("id"), by: principal, source: source(of: request))
            guard let pending else { return Response(status: .noContent) }
            return json(["operation": Representation.operation(pending)], status: .accepted)
        }
        api.get("audit") { request, context in
            let principal = try context.requirePrincipal()
            let query = try queryParameters(request, allowed: ["since", "until", "actor", "cluster", "limit"])
            func time(_ name: String) throws(HubError) -> Date? {
                guard let text = query[name] else { return nil }
                if let date = try? Date(text, strategy: .iso8601) { return date }
                if let ago = try? DurationText.parse(text) { return hub.clock.now.addingTimeInterval(-ago.inSeconds) }
                throw .badRequest("\(name) must be an RFC 3339 time or a duration such as 24h", field: name)
            }
            let cluster = try query["cluster"].map { name throws(HubError) in try hub.cluster(name).name }
            let filter = AuditQuery(since: try time("since"), until: try time("until"), actor: query["actor"], cluster: cluster, limit: try limitParameter(query, default: 500))
            let entries = try await hubCall { try await hub.store.auditEntries(filter) }
            return json(["entries": .array(entries.filter { $0.cluster.map(principal.mayRead) ?? true }.map(Representation.audit))])
        }
        api.get("plugins") { request, context in
            _ = try context.requirePrincipal()
            _ = try queryParameters(request, allowed: [])
            return json(await plugins?.pluginStatuses() ?? ["plugins": []])
        }
        api.post("plugins/reload") { request, context in
            let principal = try context.requirePrincipal()
            _ = try queryParameters(request, allowed: [])
            guard principal.role == .admin else {
                await hub.audit(principal, source: source(of: request), action: "plugins-reload", cluster: nil, namespaces: [], result: "denied", detail: "needs the admin role")
                throw HubError.forbidden("reloading plugins needs the admin role")
            }
            let statuses = await plugins?.reloadPlugins() ?? ["plugins": []]
            await hub.audit(principal, source: source(of: request), action: "plugins-reload", cluster: nil, namespaces: [], result: "ok", detail: "")
            return json(statuses)
        }
        routes.record(router.routes.map { ($0.path.description, $0.method) })
        return router
    }

    /// `/slack/commands`, `/slack/interactions`, `/slack/events`: the gateway verifies and answers.
    private static func addSlackRoutes(to router: Router<HubRequestContext>, slack: SlackGateway) {
        let endpoints: [(String, @Sendable (SlackGateway.Request) async -> SlackGateway.Reply)] = [
            ("slack/commands", slack.command), ("slack/interactions", slack.interaction), ("slack/events", slack.event),
        ]
        for (path, handle) in endpoints {
            router.post(RouterPath(stringLiteral: path)) { request, _ -> Response in
                var request = request
                // Read a little past Slack's limit, so that an oversized body is told apart.
                let buffer = (try? await request.collectBody(upTo: SlackVerifier.maximumBodySize + 1)) ?? ByteBuffer(repeating: 0, count: SlackVerifier.maximumBodySize + 1)
                let reply = await handle(SlackGateway.Request(
                    body: Data(buffer.readableBytesView),
                    timestamp: request.headers[HTTPField.Name("X-Slack-Request-Timestamp")!],
                    signature: request.headers[HTTPField.Name("X-Slack-Signature")!],
                    retryNumber: request.headers[HTTPField.Name("X-Slack-Retry-Num")!].flatMap { Int($0) }
                ))
                guard let body = reply.body else { return Response(status: .init(code: reply.status)) }
                return json(body, status: .init(code: reply.status))
            }
        }
    }

    // MARK: Helpers

    /// A cluster the principal may read, by the path's `cluster`.
    private static func readableCluster(_ hub: Hub, request: Request, context: HubRequestContext) async throws -> ClusterStatus {
        let name = try context.parameters.require("cluster")
        let principal = try context.requirePrincipal()
        _ = try queryParameters(request, allowed: [])
        _ = try hub.cluster(name)
        guard principal.mayRead(name) else { throw HubError.forbidden("\(principal.name) may not read cluster \(name)") }
        guard let status = await hub.clusterStatuses().first(where: { $0.name == name }) else {
            throw HubError(kind: .unavailable, message: "cluster \(name) has no agent")
        }
        return status
    }

    /// The query parameters, refusing any not in `allowed` (with the closest known name).
    static func queryParameters(_ request: Request, allowed: Set<String>) throws(HubError) -> [String: String] {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                let hint = closestName(to: name, among: allowed).map { "; did you mean \"\($0)\"?" }
                    ?? (allowed.isEmpty ? "; this endpoint takes none" : "; known: \(allowed.sorted().joined(separator: ", "))")
                throw .badRequest("unknown query parameter \"\(name)\"\(hint)", field: name)
            }
            parameters[name] = String(value)
        }
        return parameters
    }

    /// The `limit` query parameter, 1 to 1000.
    static func limitParameter(_ query: [String: String], default fallback: Int) throws(HubError) -> Int {
        guard let text = query["limit"] else { return fallback }
        guard let limit = Int(text), (1...1000).contains(limit) else { throw .badRequest("limit must be a number from 1 to 1000", field: "limit") }
        return limit
    }

    /// `wait`: how long a read may wait for what it waits on, a duration up to 10 s (a hub
    /// stopping lets requests in progress finish).
    static func waitParameter(_ query: [String: String]) throws(HubError) -> Duration? {
        guard let text = query["wait"] else { return nil }
        guard let wait = try? DurationText.parse(text), wait <= .seconds(10) else {
            throw .badRequest("wait must be a duration of at most 10s, such as 5s", field: "wait")
        }
        return wait
    }

    /// Who made a request, for the audit: the `sandman` CLI says so in its user agent.
    static func source(of request: Request) -> String {
        request.headers[.userAgent]?.hasPrefix("sandman-cli") == true ? "cli" : "api"
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: value.serializedData())))
    }

    /// The body as a JSON object to read field by field (an empty one for no body, when allowed).
    static func jsonBody(_ request: Request, allowEmpty: Bool) async throws -> RequestBody {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumBodySize)
        if buffer.readableBytes == 0 {
            if allowEmpty { return RequestBody([:]) }
            throw HubError.badRequest("a JSON object body is required")
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: Data(buffer.readableBytesView))
        } catch {
            throw HubError.badRequest("malformed JSON body: \(error)")
        }
        guard let members = value.object else { throw HubError.badRequest("the body must be a JSON object") }
        return RequestBody(members)
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
        guard let principal else { throw HubError(kind: .unauthorized, message: TokenAuthMiddleware.missingToken) }
        return principal
    }
}

/// Authenticates `Authorization: Bearer <token>` against the hashed tokens in the store.
struct TokenAuthMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let store: Store

    static let missingToken = "a bearer token is required (Authorization: Bearer <token>; the sandman CLI sends $SANDMAN_TOKEN or --token)"

    func handle(_ request: Request, context: HubRequestContext, next: (Request, HubRequestContext) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw HubError(kind: .unauthorized, message: Self.missingToken)
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

/// Counts requests and their duration by route and status. It sits outside `ErrorMiddleware`,
/// so it sees every answer as the client gets it (a 413 is a 413).
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let metrics: HubMetrics

    func handle(_ request: Request, context: HubRequestContext, next: (Request, HubRequestContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context: context, status: response.status.code, since: start)
            return response
        } catch {
            record(request, context: context, status: (error as? any HTTPResponseError)?.status.code ?? 500, since: start)
            throw error
        }
    }

    private func record(_ request: Request, context: HubRequestContext, status: Int, since start: ContinuousClock.Instant) {
        metrics.recordHTTPRequest(method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: status, seconds: (ContinuousClock.now - start).inSeconds)
    }
}
