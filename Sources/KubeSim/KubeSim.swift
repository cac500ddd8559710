import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import JSON
import LocalPKI
import Logging
import NIOCore
import NIOSSL
import Scheduling
import ServiceLifecycle
import Synchronization

/// A simulated Kubernetes API server, in-process, for tests, the demo and benchmarks: faithful
/// enough that `kubectl` works against it (see docs/kubesim.md for what is and is not simulated).
///
/// ```swift
/// let sim = try await KubeSim.start()
/// try sim.kubeconfig(user: "admin").write(toFile: path, atomically: true, encoding: .utf8)
/// // ... kubectl --kubeconfig path get deployments -A
/// await sim.shutdown()
/// ```
public final class KubeSim: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port.
        public var port = 0
        /// HTTPS with its own CA and client-certificate authentication; plain HTTP when false.
        public var tls = true
        /// Names and addresses the server certificate is valid for.
        public var serverNames = ["localhost", "kubesim"]
        public var serverAddresses = ["127.0.0.1", "::1"]
        /// The CA that signs the server and client certificates; generated when nil.
        public var certificateAuthority: CertificateAuthority?
        /// Bearer tokens and the users they authenticate.
        public var tokens: [String: String] = [:]
        /// Basic-auth users and their passwords.
        public var passwords: [String: String] = [:]
        /// Users that may only read (get, list, watch); they get 403 on writes.
        public var readOnlyUsers: Set<String> = []
        /// Requests without credentials act as `system:anonymous` instead of getting 401.
        public var allowAnonymous = false
        public var historyLimit = 10_000
        public var continueTokenLifetime: Duration = .seconds(300)
        /// Delay before Deployments, StatefulSets and ReplicaSets report their new replicas ready.
        public var workloadReadyDelay: Duration = .zero
        /// How often watches that asked for bookmarks get one.
        public var bookmarkInterval: Duration = .seconds(5)
        /// What `/version` reports; kubectl's version dispatch and clients' feature checks read it.
        public var gitVersion = "v1.32.0"
        public var faults = Faults()

        public init() {}
    }

    /// Misbehaviour to inject, changeable while the server runs.
    public struct Faults: Sendable, Equatable {
        /// Added before every request is answered.
        public var latency: Duration = .zero
        /// Server-side token bucket: requests beyond it get 429 with `Retry-After`.
        public var rateLimit: RateLimit?
        /// Fraction of API requests answered 500.
        public var errorRate: Double = 0
        /// When set, `errorRate` applies to these verbs only (`patch`, `list`, ...).
        public var errorVerbs: Set<String>?
        /// When set, `errorRate` applies to these resources only, named as in RBAC with their
        /// group: `deployments.apps`, `leases.coordination.k8s.io`, `secrets`.
        public var errorResources: Set<String>?
        /// When set, `errorRate` applies to requests of these users only (a client certificate's
        /// common name, a token's user name).
        public var errorUsers: Set<String>?
        /// The answer of an injected error, as kube-apiserver words it: 403 Forbidden, 404
        /// NotFound, 409 Conflict, 422 Invalid, 500 InternalError or 503 ServiceUnavailable.
        public var errorStatus: Int = 500
        public static let errorStatuses = [403, 404, 409, 422, 500, 503]
        /// Fraction of API requests whose connection is closed without an answer.
        public var dropRate: Double = 0

        public struct RateLimit: Sendable, Equatable {
            public var qps: Double
            public var burst: Int
            public var retryAfterSeconds: Int

            public init(qps: Double, burst: Int, retryAfterSeconds: Int = 1) {
                self.qps = qps
                self.burst = burst
                self.retryAfterSeconds = retryAfterSeconds
            }
        }

        public init(
            latency: Duration = .zero, rateLimit: RateLimit? = nil, errorRate: Double = 0, errorVerbs: Set<String>? = nil,
            errorStatus: Int = 500, errorResources: Set<String>? = nil, errorUsers: Set<String>? = nil, dropRate: Double = 0
        ) {
            self.latency = latency
            self.rateLimit = rateLimit
            self.errorRate = errorRate
            self.errorVerbs = errorVerbs
            self.errorResources = errorResources
            self.errorUsers = errorUsers
            self.errorStatus = errorStatus
            self.dropRate = dropRate
        }
    }

    /// One request as the server saw it.
    public struct RequestRecord: Sendable {
        public var time: Date
        public var method: String
        /// get, list, watch, create, update, patch, delete, deletecollection, or `other`.
        public var verb: String
        /// `deployments.apps`, `deployments.apps/scale`, or the path for non-resource requests.
        public var resource: String
        public var path: String
        public var user: String
        public var status: Int
    }

    public let url: String
    public let port: Int
    public let certificateAuthority: CertificateAuthority
    public let configuration: Configuration
    let state: SimulatorState
    private let serving: Task<Void, any Error>
    /// Runs the server, so that shutdown is graceful: cancelling the server instead drops
    /// connections accepted but not yet handled, which NIO treats as a programming error.
    private let services: ServiceGroup
    private let bookmarks: Task<Void, Never>

    /// Starts a server and returns once it accepts connections.
    public static func start(_ configuration: Configuration = .init(), logger: Logger = Logger(label: "kubesim")) async throws -> KubeSim {
        let authority = try configuration.certificateAuthority ?? CertificateAuthority(commonName: "kubesim-ca")
        let store = ObjectStore(settings: .init(
            historyLimit: configuration.historyLimit,
            continueTokenLifetime: configuration.continueTokenLifetime,
            workloadReadyDelay: configuration.workloadReadyDelay,
            gitVersion: configuration.gitVersion
        ))
        await store.createSystemNamespaces()
        let state = SimulatorState(configuration: configuration, store: store)
        // Hummingbird reports its own cancellation at shutdown as an error; keep the server quiet.
        var quietLogger = logger
        quietLogger.logLevel = .critical
        let server: HTTPServerBuilder
        if configuration.tls {
            let identity = try authority.issueServerCertificate(commonName: "kubesim", dnsNames: configuration.serverNames, ipAddresses: configuration.serverAddresses)
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
            )
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(authority.certificatePEM.utf8)))
            tls.certificateVerification = .optionalVerification
            // Like kube-apiserver, close at shutdown without waiting for the peer's close_notify:
            // an idle client (a connection pool) never answers, and NIOSSL would wait 5 s.
            tls.shutdownTimeout = .milliseconds(100)
            server = try .tls(.http1(), tlsConfiguration: tls)
        } else {
            server = .http1()
        }
        let (started, startedContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: APIServer(state: state),
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                startedContinuation.yield(channel.localAddress?.port ?? 0)
                startedContinuation.finish()
            },
            logger: quietLogger
        )
        let services = ServiceGroup(configuration: .init(services: [app], logger: quietLogger))
        let serving = Task { try await services.run() }
        var boundPort: Int?
        for await port in started { boundPort = port }
        guard let boundPort, boundPort > 0 else {
            serving.cancel()
            _ = await serving.result
            throw KubeSimError.couldNotStart("no port bound on \(configuration.host):\(configuration.port)")
        }
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return KubeSim(
            url: "\(configuration.tls ? "https" : "http")://\(host):\(boundPort)",
            port: boundPort, authority: authority, configuration: configuration, state: state, serving: serving, services: services
        )
    }

    private init(url: String, port: Int, authority: CertificateAuthority, configuration: Configuration, state: SimulatorState, serving: Task<Void, any Error>, services: ServiceGroup) {
        self.url = url
        self.port = port
        self.certificateAuthority = authority
        self.configuration = configuration
        self.state = state
        self.serving = serving
        self.services = services
        let interval = configuration.bookmarkInterval
        let store = state.store
        self.bookmarks = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await store.sendBookmarks()
            }
        }
    }

    /// Stops serving: open watches end, the port closes.
    public func shutdown() async {
        bookmarks.cancel()
        await state.store.shutdown()
        await services.triggerGracefulShutdown()
        // A connection that never ends (a client's watch still open) must not hold the shutdown:
        // every other answer is in memory and ends within moments.
        let deadline = Task {
            try await Task.sleep(for: .seconds(1))
            serving.cancel()
        }
        _ = await serving.result
        deadline.cancel()
    }

    // MARK: Faults and counters

    public var faults: Faults {
        get { state.faults.withLock { $0 } }
        set { state.faults.withLock { $0 = newValue } }
    }

    public func setFaults(_ faults: Faults) {
        state.setFaults(faults)
    }

    public var requests: [RequestRecord] { state.requests.withLock { $0 } }

    /// Replaces the accepted bearer tokens (to revoke or rotate credentials mid-test).
    public func setTokens(_ tokens: [String: String]) {
        state.tokens.withLock { $0 = tokens }
    }

    /// Requests counted by `"<verb> <resource>"`, e.g. `"list deployments.apps"`.
    public var requestCounts: [String: Int] {
        state.requests.withLock { records in
            records.reduce(into: [:]) { counts, record in counts["\(record.verb) \(record.resource)", default: 0] += 1 }
        }
    }

    public func resetRequests() {
        state.requests.withLock { $0.removeAll() }
    }

    /// Ends every open watch with a 410 ERROR event and forgets the change history.
    public func expireWatches() async {
        await state.store.expireWatches()
    }

    /// Closes every open watch connection abruptly.
    public func dropWatches() async {
        await state.store.dropWatches()
    }

    /// Forgets the change history: watches from older resourceVersions and old continue tokens get 410.
    public func compactHistory() async {
        await state.store.compactHistory()
    }

    public var openWatchCount: Int {
        get async { await state.store.watcherCount }
    }

    // MARK: Objects

    /// Creates or replaces the objects of a multi-document YAML text, namespaces and CRDs first;
    /// namespaces that objects name are created when missing.
    /// Creates the objects of `text`, as created at `time` (their creationTimestamp).
    public func load(manifests text: String, source: String = "manifests", createdAt time: Date = Date()) async throws {
        try await Fixtures.load(text, source: source, at: time, into: state.store)
    }

    /// Loads the CustomResourceDefinitions Sandman ships (the SleepInfo CRD).
    public func loadBundledCustomResourceDefinitions() async throws {
        for (file, text) in Self.bundledCustomResourceDefinitions.sorted(by: { $0.key < $1.key }) {
            try await load(manifests: text, source: file)
        }
    }

    /// Loads every `.yaml`/`.yml`/`.json` file under `directory`, in path order.
    public func load(directory: String) async throws {
        try await Fixtures.load(directory: directory, into: state.store)
    }

    /// The stored object, for test assertions.
    public func object(apiVersion: String, kind: String, namespace: String?, name: String) async -> JSONValue? {
        let store = state.store
        guard let type = await store.resourceType(apiVersion: apiVersion, kind: kind) else { return nil }
        return try? await store.object(type, namespace: type.namespaced ? namespace : nil, name: name)
    }

    /// The stored objects of a kind, optionally in one namespace, sorted by namespace and name.
    public func objects(apiVersion: String, kind: String, namespace: String? = nil) async -> [JSONValue] {
        let store = state.store
        guard let type = await store.resourceType(apiVersion: apiVersion, kind: kind) else { return [] }
        return (try? await store.list(type, namespace: namespace, labels: .everything, fields: .everything, limit: nil, continueToken: nil, now: Date()).items) ?? []
    }

    // MARK: Kubeconfig

    /// A kubeconfig with the CA and a fresh client certificate for `user` embedded.
    public func kubeconfig(user: String = "admin", groups: [String] = ["system:masters"], contextName: String = "kubesim") throws -> String {
        var credentials: [String: String] = [:]
        if configuration.tls {
            let identity = try certificateAuthority.issueClientCertificate(user: user, groups: groups)
            credentials["client-certificate-data"] = Self.base64(identity.certificatePEM)
            credentials["client-key-data"] = Self.base64(identity.privateKeyPEM)
        }
        return kubeconfig(contextName: contextName, userName: user, credentials: credentials)
    }

    /// A kubeconfig authenticating with a bearer token.
    public func kubeconfig(token: String, userName: String = "token-user", contextName: String = "kubesim") -> String {
        kubeconfig(contextName: contextName, userName: userName, credentials: ["token": token])
    }

    private func kubeconfig(contextName: String, userName: String, credentials: [String: String]) -> String {
        var lines = ["apiVersion: v1", "kind: Config", "clusters:", "- name: \(contextName)", "  cluster:", "    server: \(url)"]
        if configuration.tls { lines.append("    certificate-authority-data: \(Self.base64(certificateAuthority.certificatePEM))") }
        lines += ["users:", "- name: \(contextName)-\(userName)", "  user:"]
        lines += credentials.keys.sorted().map { "    \($0): \(credentials[$0]!)" }
        lines += [
            "contexts:", "- name: \(contextName)", "  context:", "    cluster: \(contextName)",
            "    user: \(contextName)-\(userName)", "    namespace: default", "current-context: \(contextName)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    private static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }
}

public enum KubeSimError: Error, CustomStringConvertible {
    case couldNotStart(String)
    case invalidFixture(source: String, reason: String)

    public var description: String {
        switch self {
        case .couldNotStart(let reason): "KubeSim could not start: \(reason)"
        case .invalidFixture(let source, let reason): "\(source): \(reason)"
        }
    }
}

/// What the request handlers share: the store, the configuration, faults and counters.
final class SimulatorState: Sendable {
    let configuration: KubeSim.Configuration
    let store: ObjectStore
    let faults: Mutex<KubeSim.Faults>
    let rateLimiter: Mutex<TokenBucket>
    let requests = Mutex<[KubeSim.RequestRecord]>([])
    /// Bearer tokens in force: the configured ones, changeable at run time.
    let tokens: Mutex<[String: String]>
    /// Client certificates seen, by their DER bytes, with who they say the client is: parsing
    /// one at every request was a twentieth of the simulator's time.
    let certificateIdentities = Mutex<[[UInt8]: Identity?]>([:])
    let authorizer: Authorizer

    init(configuration: KubeSim.Configuration, store: ObjectStore) {
        self.configuration = configuration
        self.store = store
        self.tokens = Mutex(configuration.tokens)
        self.faults = Mutex(configuration.faults)
        self.rateLimiter = Mutex(TokenBucket(limit: configuration.faults.rateLimit))
        self.authorizer = Authorizer(readOnlyUsers: configuration.readOnlyUsers)
    }

    func setFaults(_ faults: KubeSim.Faults) {
        self.faults.withLock { $0 = faults }
        rateLimiter.withLock { $0 = TokenBucket(limit: faults.rateLimit) }
    }
}

/// Server-side rate limiting as API Priority and Fairness appears to a client.
struct TokenBucket: Sendable {
    private let limit: KubeSim.Faults.RateLimit?
    private var tokens: Double
    private var updated = ContinuousClock.now

    init(limit: KubeSim.Faults.RateLimit?) {
        self.limit = limit
        self.tokens = Double(limit?.burst ?? 0)
    }

    /// True when the request may go ahead; otherwise the seconds to send as `Retry-After`.
    mutating func take() -> Int? {
        guard let limit else { return nil }
        let now = ContinuousClock.now
        let elapsed = now - updated
        updated = now
        tokens = min(Double(limit.burst), tokens + elapsed.inSeconds * limit.qps)
        guard tokens >= 1 else { return limit.retryAfterSeconds }
        tokens -= 1
        return nil
    }
}
