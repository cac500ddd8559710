import Foundation
import JSON
import Synchronization
import Transport

/// A client of one cluster's API server, over libcurl: credentials from a kubeconfig context
/// (refreshed as they rotate or expire), a pace that follows the server's throttling, retries of throttled and
/// failed requests, and discovery of where each kind is served.
///
/// ```swift
/// let access = try Kubeconfig(path: "~/.kube/config").access(context: "staging")
/// let client = try KubeClient(name: "staging", access: access)
/// let deployments = try await client.list(.deployment, namespace: "shop")
/// ```
public final class KubeClient: Sendable {
    public struct Configuration: Sendable {
        /// A hard client-side rate limit (requests per second and burst) on top of the pace the
        /// server's throttling sets; nil: none.
        public var qps: Double?
        public var burst: Int = 100
        /// Timeout of one request (watches excepted).
        public var timeout: Duration = .seconds(30)
        public var connectTimeout: Duration = .seconds(10)
        public var retry = RetryPolicy()
        public var maxConnectionsPerHost = 16
        /// Patches in flight: where the count starts, and the bounds it adapts within (see
        /// ``ConcurrencyLimit``; the sleep executor sends its objects' patches at this count).
        public var writes = (initial: 16, bounds: 2...64)
        public var userAgent = "sandman"
        /// How long a token read from a `tokenFile` is used before the file is read again.
        public var tokenFileLifetime: TimeInterval = 60
        /// The time credentials expire against (a seam for tests).
        public var now: @Sendable () -> Date = Date.init

        public init() {}
    }

    /// The cluster's name in errors and logs.
    public let name: String
    public let access: ClusterAccess
    public let configuration: Configuration
    let server: String
    private let authenticator: Authenticator
    private let pacer: AdaptivePacer
    /// The count of patches in flight that the cluster's answers allow, and how many are.
    private let writes: Mutex<(limit: ConcurrencyLimit, inFlight: Int)>
    private let baseTLS: TLSConfiguration
    /// The transport of the current client identity; replaced when an exec plugin hands out a new certificate.
    private let transport: Mutex<(identity: Authenticator.Material?, client: HTTPClient)?> = Mutex(nil)
    private let mapperStorage: Mutex<RESTMapper?> = Mutex(nil)

    public init(name: String, access: ClusterAccess, configuration: Configuration = .init()) throws(KubeError) {
        self.name = name
        self.access = access
        self.configuration = configuration
        var server = access.cluster.server
        while server.hasSuffix("/") { server.removeLast() }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw KubeError(reason: .configuration, cluster: name, message: "server \"\(access.cluster.server)\" is not an http(s) URL")
        }
        self.server = server
        do {
            self.authenticator = try Authenticator(user: access.user, cluster: access.cluster, tokenFileLifetime: configuration.tokenFileLifetime, now: configuration.now)
            self.baseTLS = TLSConfiguration(
                trustRoots: try access.cluster.certificateAuthority?.load(field: "certificate-authority"),
                verifyPeer: !access.cluster.insecureSkipTLSVerify,
                serverName: access.cluster.tlsServerName
            )
        } catch {
            var error = error
            error.cluster = name
            throw error
        }
        self.pacer = AdaptivePacer(ceiling: configuration.qps.map { .init(qps: $0, burst: configuration.burst) })
        self.writes = Mutex((ConcurrencyLimit(initial: configuration.writes.initial, bounds: configuration.writes.bounds), 0))
    }

    /// How many patches may be in flight to the cluster now.
    public var writeLimit: Int { writes.withLock { $0.limit.limit } }

    /// A client for a context of the default kubeconfig (`KUBECONFIG` or `~/.kube/config`).
    public static func fromDefaultKubeconfig(name: String, context: String? = nil, configuration: Configuration = .init()) throws -> KubeClient {
        try KubeClient(name: name, access: Kubeconfig.loadDefault().access(context: context), configuration: configuration)
    }

    deinit {
        transport.withLock { $0?.client.shutdown() }
    }

    var mapper: RESTMapper {
        mapperStorage.withLock { storage in
            if let storage { return storage }
            let mapper = RESTMapper { [weak self] path in
                guard let self else { throw KubeError(reason: .cancelled, message: "client released") }
                return try await self.json(Request(verb: "discover", method: .get, path: path))
            }
            storage = mapper
            return mapper
        }
    }

    /// Where `kind` of `group` is served, at the group's preferred version.
    public func resource(group: String, kind: String) async throws -> APIResource {
        do {
            return try await mapper.resource(group: group, kind: kind)
        } catch var error as KubeError {
            error.cluster = name
            throw error
        }
    }

    /// Where `kind` is served (from discovery, cached).
    public func resource(for kind: ResourceKind) async throws -> APIResource {
        do {
            return try await mapper.resource(for: kind)
        } catch var error as KubeError {
            error.cluster = name
            throw error
        }
    }

    // MARK: Requests

    struct Request: Sendable {
        var verb: String
        var method: HTTPMethod
        var path: String
        var query: [(String, String)] = []
        var body: Data?
        var contentType: String?
        /// Safe to send twice: retried after server errors and lost connections too.
        var idempotent: Bool = true
        var timeout: Duration?

        var pathAndQuery: String {
            guard !query.isEmpty else { return path }
            return path + "?" + query.map { "\($0.0)=\($0.1.queryEscaped)" }.joined(separator: "&")
        }
    }

    private func httpClient(for material: Authenticator.Material) -> HTTPClient {
        transport.withLock { current in
            let identity = Authenticator.Material(clientCertificate: material.clientCertificate, clientKey: material.clientKey)
            if let current, current.identity == identity { return current.client }
            var tls = baseTLS
            tls.clientCertificate = material.clientCertificate
            tls.clientKey = material.clientKey
            let client = HTTPClient(configuration: .init(
                tls: tls, proxy: access.cluster.proxyURL, connectTimeout: configuration.connectTimeout,
                timeout: configuration.timeout, maxConnectionsPerHost: configuration.maxConnectionsPerHost,
                userAgent: configuration.userAgent
            ))
            current?.client.shutdown()
            current = (identity, client)
            return client
        }
    }

    private func headers(_ request: Request, _ material: Authenticator.Material) -> HTTPHeaders {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let authorization = material.authorization { headers["Authorization"] = authorization }
        if let contentType = request.contentType { headers["Content-Type"] = contentType }
        return headers
    }

    private func decorate(_ error: KubeError, _ request: Request) -> KubeError {
        var error = error
        error.cluster = name
        error.verb = request.verb
        error.path = request.path
        return error
    }

    /// Sends a request, rate limited, with credentials refreshed after a 401 and retries per
    /// the policy; returns a 2xx response or throws a `KubeError`.
    func perform(_ request: Request) async throws -> HTTPResponse {
        var attempt = 0
        var refreshedCredentials = false
        while true {
            attempt += 1
            let error: KubeError
            do {
                let generation = try await pacer.acquire()
                let response: HTTPResponse
                let sent = ContinuousClock.now
                let write = request.verb == "patch" ? writes.withLock { $0.inFlight += 1; return $0.inFlight } : nil
                do {
                    let material = try await authenticator.material()
                    response = try await httpClient(for: material).send(HTTPRequest(
                        method: request.method, url: server + request.pathAndQuery, headers: headers(request, material),
                        body: request.body, timeout: request.timeout
                    ))
                } catch {
                    if write != nil { writes.withLock { $0.inFlight -= 1 } }
                    await pacer.finished(generation: generation, status: nil)
                    throw error
                }
                if let write {
                    let answered = ContinuousClock.now
                    writes.withLock { writes in
                        writes.inFlight -= 1
                        if (200..<300).contains(response.status) { writes.limit.answered(after: answered - sent, inFlight: write, at: answered) }
                    }
                }
                await pacer.finished(generation: generation, status: response.status)
                if (200..<300).contains(response.status) { return response }
                let retryAfter = response.headers["Retry-After"].flatMap(Int.init).map { Duration.seconds($0) }
                error = decorate(.from(status: response.status, body: try? JSONValue(parsing: response.body), retryAfter: retryAfter), request)
            } catch let transportError as TransportError {
                error = decorate(.from(transportError), request)
            } catch let kubeError as KubeError {
                error = decorate(kubeError, request)
            } catch {
                throw decorate(KubeError(reason: .cancelled, message: "cancelled"), request)
            }
            if error.reason == .unauthorized, !refreshedCredentials, await authenticator.invalidate() {
                refreshedCredentials = true
                attempt -= 1
                continue
            }
            guard let delay = configuration.retry.delay(after: error, attempt: attempt, idempotent: request.idempotent) else {
                throw error
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw decorate(KubeError(reason: .cancelled, message: "cancelled while waiting to retry: \(error)"), request)
            }
        }
    }

    /// Opens a streamed response (a watch): rate limited and authenticated like `perform`, not retried.
    func openStream(_ request: Request) async throws -> HTTPStreamingResponse {
        let generation = try await pacer.acquire()
        // A stream is not paced once open, nor does its answer judge the pace.
        await pacer.finished(generation: generation, status: nil)
        let material = try await authenticator.material()
        do {
            let response = try await httpClient(for: material).stream(HTTPRequest(
                method: request.method, url: server + request.pathAndQuery, headers: headers(request, material), timeout: .zero
            ))
            guard (200..<300).contains(response.status) else {
                let body = try? await response.collectBody()
                if response.status == 401 { _ = await authenticator.invalidate() }
                throw decorate(.from(status: response.status, body: body.flatMap { try? JSONValue(parsing: $0) }, retryAfter: nil), request)
            }
            return response
        } catch let error as TransportError {
            throw decorate(.from(error), request)
        }
    }

    func json(_ request: Request) async throws -> JSONValue {
        let response = try await perform(request)
        do {
            return try JSONValue(parsing: response.body)
        } catch {
            throw decorate(KubeError(reason: .decoding, message: "response is not JSON: \(error)"), request)
        }
    }
}

extension String {
    var queryEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? self
    }
}
