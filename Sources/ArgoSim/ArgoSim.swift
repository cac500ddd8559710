import Foundation
import JSON
import Kube
import Logging
import SimulatorKit
import Synchronization
import Transport

/// A simulated Argo CD (API v1 and the application controller), in-process, for tests, the demo
/// and `sandman sim argocd`. Its controller reads manifests from GitLab through the GitLab API
/// and applies them to Kubernetes clusters through the Kubernetes API (server-side apply, field
/// manager `argocd-controller`), with auto-sync and self-heal as Argo CD does them.
///
/// ```swift
/// var configuration = ArgoSim.Configuration()
/// configuration.gitlabURL = gitlab.url
/// configuration.gitlabToken = "glpat-argocd"
/// configuration.clusters = [.init(name: "in-cluster", server: ArgoSim.inCluster, access: access)]
/// let argocd = try await ArgoSim.start(configuration)
/// try await argocd.createApplication(yaml: applicationManifest)
/// await argocd.shutdown()
/// ```
public final class ArgoSim: Sendable {
    /// How managed objects are marked (`application.resourceTrackingMethod`).
    public enum TrackingMethod: String, Sendable {
        /// Label `app.kubernetes.io/instance: <app>` (Argo CD 2.x's default).
        case label
        /// Annotation `argocd.argoproj.io/tracking-id: <app>:<group>/<kind>:<namespace>/<name>`.
        case annotation
        case annotationAndLabel = "annotation+label"
    }

    /// A destination cluster: the `server` URL or `name` Applications use, and how to reach it.
    public struct Cluster: Sendable {
        public var name: String
        public var server: String
        public var access: ClusterAccess

        public init(name: String, server: String, access: ClusterAccess) {
            self.name = name
            self.server = server
            self.access = access
        }
    }

    /// The server URL of the cluster Argo CD runs in.
    public static let inCluster = "https://kubernetes.default.svc"

    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 0
        /// Local users and their passwords, for `POST /api/v1/session`.
        public var users: [String: String] = ["admin": "password"]
        /// Bearer tokens (API keys) and their users.
        public var tokens: [String: String] = [:]
        /// Users with `role:readonly`: writes and syncs are denied.
        public var readOnlyUsers: Set<String> = []
        /// GitLab's base URL (`http://host:port`) and the token the repo server reads with.
        public var gitlabURL = ""
        public var gitlabToken: String?
        public var clusters: [Cluster] = []
        /// Repository polling (`timeout.reconciliation`), 180 s in Argo CD.
        public var reconciliationInterval: Duration = .seconds(180)
        /// Wait after a sync before self-heal syncs drift again (`--self-heal-timeout-seconds`), 5 s in Argo CD.
        public var selfHealTimeout: Duration = .seconds(5)
        public var trackingMethod: TrackingMethod = .label
        /// How often the controller looks for changes to the objects it manages (Argo CD watches
        /// them); a change is compared at once, and self-heal follows.
        public var liveCheckInterval: Duration = .seconds(1)
        /// How long an operation stays `Running` before it applies, to test clients against
        /// operations in progress.
        public var syncDelay: Duration = .zero
        public var faults = Faults()

        public init() {}
    }

    /// Misbehaviour to inject (latency, 429s, 500s, cut connections), changeable while it runs.
    public typealias Faults = SimulatorKit.Faults

    /// One request as the server saw it.
    public typealias RequestRecord = SimulatorKit.RequestRecord

    public let url: String
    public let port: Int
    public let configuration: Configuration
    let state: ArgoState
    private let serving: Task<Void, any Error>
    private let controlling: Task<Void, Never>
    private let gitClient: HTTPClient

    public static func start(_ configuration: Configuration = .init(), logger: Logger = Logger(label: "argosim")) async throws -> ArgoSim {
        let gitClient = HTTPClient(configuration: .init(timeout: .seconds(30), userAgent: "argocd-repo-server/argosim"))
        let controller = ApplicationController(
            settings: .init(
                reconciliationInterval: configuration.reconciliationInterval, selfHealTimeout: configuration.selfHealTimeout,
                trackingMethod: configuration.trackingMethod, syncDelay: configuration.syncDelay,
                liveCheckInterval: configuration.liveCheckInterval
            ),
            source: ManifestSource(baseURL: configuration.gitlabURL, token: configuration.gitlabToken, client: gitClient),
            clusters: configuration.clusters
        )
        let state = ArgoState(configuration: configuration, controller: controller)
        let server: SimulatorServer.Running
        do {
            server = try await SimulatorServer.start(APIServer(state: state), host: configuration.host, port: configuration.port, logger: logger)
        } catch {
            gitClient.shutdown()
            throw ArgoSimError.couldNotStart("\(error)")
        }
        let controlling = Task { await controller.run() }
        return ArgoSim(url: server.url, port: server.port, configuration: configuration, state: state, serving: server.task, controlling: controlling, gitClient: gitClient)
    }

    private init(url: String, port: Int, configuration: Configuration, state: ArgoState, serving: Task<Void, any Error>, controlling: Task<Void, Never>, gitClient: HTTPClient) {
        self.url = url
        self.port = port
        self.configuration = configuration
        self.state = state
        self.serving = serving
        self.controlling = controlling
        self.gitClient = gitClient
    }

    public func shutdown() async {
        controlling.cancel()
        serving.cancel()
        _ = await serving.result
        _ = await controlling.value
        gitClient.shutdown()
    }

    // MARK: Applications

    /// Adds an Application (`argoproj.io/v1alpha1` object), as `argocd app create` would.
    @discardableResult
    public func createApplication(_ application: JSONValue) async throws -> JSONValue {
        do {
            return try await state.controller.create(application, upsert: true)
        } catch {
            throw ArgoSimError.invalidApplication(error.message)
        }
    }

    /// Adds every `kind: Application` document of a YAML text.
    public func load(applications text: String, source: String = "applications") async throws {
        let documents: [JSONValue]
        do {
            documents = try JSONValue.documents(yaml: text)
        } catch {
            throw ArgoSimError.invalidApplication("\(source): \(error)")
        }
        for document in documents where document["kind"]?.string == "Application" {
            do {
                _ = try await state.controller.create(document, upsert: true)
            } catch {
                throw ArgoSimError.invalidApplication("\(source): \(error.message)")
            }
        }
    }

    /// The Application as the API shows it.
    public func application(_ name: String) async -> JSONValue? {
        await state.controller.application(name)
    }

    /// Compares git with the cluster now, as `GET ...?refresh=normal` does.
    @discardableResult
    public func refresh(_ name: String) async -> JSONValue? {
        try? await state.controller.refresh(name)
    }

    // MARK: Faults, counters, credentials

    public var faults: Faults { state.faults.faults }

    public func setFaults(_ faults: Faults) {
        state.faults.set(faults)
    }

    public var requests: [RequestRecord] { state.requests.all }

    /// Requests counted by route, e.g. `"POST /api/v1/applications/{name}/sync"`.
    public var requestCounts: [String: Int] { state.requests.counts }

    public func resetRequests() {
        state.requests.reset()
    }

    /// Adds, replaces or (with nil) revokes an API token.
    public func setToken(_ token: String, user: String?) {
        state.tokens.withLock { $0[token] = user }
    }
}

public enum ArgoSimError: Error, CustomStringConvertible {
    case couldNotStart(String)
    case invalidApplication(String)

    public var description: String {
        switch self {
        case .couldNotStart(let reason): "ArgoSim could not start: \(reason)"
        case .invalidApplication(let reason): "invalid Application: \(reason)"
        }
    }
}

final class ArgoState: Sendable {
    let configuration: ArgoSim.Configuration
    let controller: ApplicationController
    let faults: FaultInjector
    let requests = RequestLog()
    /// Session tokens and API keys in force, and their users.
    let tokens: Mutex<[String: String]>

    init(configuration: ArgoSim.Configuration, controller: ApplicationController) {
        self.configuration = configuration
        self.controller = controller
        self.faults = FaultInjector(configuration.faults)
        self.tokens = Mutex(configuration.tokens)
    }
}
