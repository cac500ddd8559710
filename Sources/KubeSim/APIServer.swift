import Foundation
import HTTPTypes
import Hummingbird
import JSON
import LocalPKI
import NIOCore
import NIOSSL
import X509

/// The request context: Hummingbird's, plus the connection (for client certificates and for
/// dropping connections on purpose).
struct SimContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Answers every request of the simulated API server: faults, authentication, authorization,
/// then discovery or a resource verb.
struct APIServer: HTTPResponder {
    typealias Context = SimContext
    let state: SimulatorState
    static let maxBodySize = 16 << 20

    private static let publicPaths: Set<String> = ["/healthz", "/readyz", "/livez", "/version"]

    func respond(to request: Request, context: SimContext) async throws -> Response {
        let path = request.uri.path
        if path.hasPrefix(ControlEndpoint.prefix) {
            return await ControlEndpoint(state: state).respond(to: request)
        }
        let started = Date()
        var record = KubeSim.RequestRecord(time: started, method: request.method.rawValue, verb: "other", resource: path, path: request.uri.description, user: "", status: 0)
        defer {
            let finished = record
            state.requests.withLock { $0.append(finished) }
        }
        let faults = state.faults.withLock { $0 }
        if faults.latency > .zero { try? await Task.sleep(for: faults.latency) }

        let identity: Identity
        if let authenticated = await authenticate(request, context: context) {
            identity = authenticated
        } else if state.configuration.allowAnonymous || Self.publicPaths.contains(path) {
            identity = Identity(user: "system:anonymous", groups: ["system:unauthenticated"])
        } else {
            record.status = 401
            return Self.json(APIError.unauthorized.status, status: 401)
        }
        record.user = identity.user

        do {
            let response = try await route(request, path: path, identity: identity, faults: faults, context: context, record: &record)
            record.status = response.status.code
            return response
        } catch {
            record.status = error.code
            var response = Self.json(error.status, status: error.code)
            if let retryAfter = error.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
    }

    // MARK: Authentication

    /// The user a request authenticates as (bearer token, basic auth or client certificate).
    private func authenticate(_ request: Request, context: SimContext) async -> Identity? {
        if let authorization = request.headers[.authorization] {
            if authorization.hasPrefix("Bearer ") {
                let token = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
                return state.tokens.withLock { $0[token] }.map { Identity(user: $0, groups: []) }
            }
            if authorization.hasPrefix("Basic "), let data = Data(base64Encoded: String(authorization.dropFirst(6))),
               let pair = String(data: data, encoding: .utf8), let colon = pair.firstIndex(of: ":") {
                let name = String(pair[..<colon])
                return state.configuration.passwords[name] == String(pair[pair.index(after: colon)...]) ? Identity(user: name, groups: []) : nil
            }
            return nil
        }
        guard state.configuration.tls, let certificate = try? await context.channel.nioSSL_peerCertificate().get(),
              let der = try? certificate.toDERBytes()
        else { return nil }
        if let known = state.certificateIdentities.withLock({ $0[der] }) { return known }
        let identity = (try? Certificate(derEncoded: der))?.kubernetesIdentity.map { Identity(user: $0.user, groups: $0.groups) }
        state.certificateIdentities.withLock { known in
            if known.count >= 1024 { known.removeAll() }
            known[der] = identity
        }
        return identity
    }

    // MARK: Routing

    private func route(_ request: Request, path: String, identity: Identity, faults: KubeSim.Faults, context: SimContext, record: inout KubeSim.RequestRecord) async throws(APIError) -> Response {
        switch path {
        case "/healthz", "/readyz", "/livez":
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
        case "/version":
            return Self.json(Discovery.version(state.configuration.gitVersion))
        default:
            break
        }
        let segments = path.split(separator: "/").map(String.init)
        if let discovery = await Discovery.document(for: segments, store: state.store) {
            return Self.json(discovery)
        }
        if segments.first == "openapi" {
            guard let document = OpenAPI.document(for: segments, types: await state.store.types) else { throw .pathNotFound(path) }
            return Self.json(document)
        }
        guard let target = await ResourceTarget.parse(segments, store: state.store) else {
            throw .pathNotFound(path)
        }
        let verb = target.verb(for: request)
        record.verb = verb
        record.resource = target.type.qualifiedName + (target.subresource.map { "/\($0)" } ?? "")

        if let retryAfter = state.rateLimiter.withLock({ $0.take() }) {
            throw .tooManyRequests(retryAfter: retryAfter)
        }
        if faults.dropRate > 0, Double.random(in: 0..<1) < faults.dropRate {
            // The head goes out, then the connection closes mid-body: the client sees it cut.
            let channel = context.channel
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { _ in try await channel.close() })
        }
        if faults.errorRate > 0, faults.errorVerbs.map({ $0.contains(verb) }) ?? true,
           faults.errorResources.map({ $0.contains(target.type.qualifiedName) }) ?? true,
           faults.errorUsers.map({ $0.contains(identity.user) }) ?? true, Double.random(in: 0..<1) < faults.errorRate {
            throw .injected(status: faults.errorStatus, identity: identity, verb: verb, target: target)
        }
        if !state.authorizer.allows(identity, verb: verb, type: target.type) {
            throw .forbidden(user: identity.user, verb: verb, type: target.type, name: target.name, namespace: target.namespace)
        }
        return try await ResourceHandler(state: state, request: request, target: target, context: context, identity: identity).handle(verb: verb)
    }

    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response(
            status: .init(code: status),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.serializedData()))
        )
    }
}

/// The resource a request addresses: kind, namespace, name and subresource.
struct ResourceTarget: Sendable {
    var type: ResourceType
    var namespace: String?
    var name: String?
    var subresource: String?

    /// Reads `/api/v1/...` and `/apis/{group}/{version}/...` paths; nil for unknown kinds and shapes.
    static func parse(_ segments: [String], store: ObjectStore) async -> ResourceTarget? {
        let groupVersion: String
        var rest: ArraySlice<String>
        if segments.first == "api", segments.count >= 3 {
            groupVersion = segments[1]
            rest = segments[2...]
        } else if segments.first == "apis", segments.count >= 4 {
            groupVersion = "\(segments[1])/\(segments[2])"
            rest = segments[3...]
        } else {
            return nil
        }
        var namespace: String?
        // /namespaces/{ns}/{resource}/..., but /namespaces/{ns} and /namespaces/{ns}/status are the namespace itself.
        if rest.first == "namespaces", rest.count >= 3, !["status", "finalize"].contains(rest[rest.startIndex + 2]) || rest.count > 3 {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let plural = rest.first, rest.count <= 3,
              let type = await store.resourceType(groupVersion: groupVersion, plural: plural)
        else { return nil }
        if namespace != nil, !type.namespaced { return nil }
        let name = rest.count >= 2 ? rest[rest.startIndex + 1] : nil
        let subresource = rest.count == 3 ? rest[rest.startIndex + 2] : nil
        if let subresource {
            guard (subresource == "status" && type.hasStatus) || (subresource == "scale" && type.hasScale) || (subresource == "finalize" && type.kind == "Namespace") else { return nil }
        }
        return ResourceTarget(type: type, namespace: type.namespaced ? namespace : nil, name: name, subresource: subresource)
    }

    func verb(for request: Request) -> String {
        let watching = QueryParameters(request.uri.query).flag("watch")
        switch request.method {
        case .get: return name == nil ? (watching ? "watch" : "list") : "get"
        case .post: return "create"
        case .put: return "update"
        case .patch: return "patch"
        case .delete: return name == nil ? "deletecollection" : "delete"
        default: return "other"
        }
    }
}
