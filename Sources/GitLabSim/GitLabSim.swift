import Foundation
import JSON
import Logging
import SimulatorKit
import Synchronization
import Transport

/// A simulated GitLab (REST API v4, the part a GitOps bot uses), in-process, for tests, the demo
/// and `sandman sim gitlab`: faithful enough that python-gitlab works against it (see
/// docs/simulators.md for what is and is not simulated).
///
/// ```swift
/// var configuration = GitLabSim.Configuration()
/// configuration.tokens = ["glpat-bot": .init(username: "root")]
/// let gitlab = try await GitLabSim.start(configuration)
/// let project = try await gitlab.createProject(path: "platform/deploy", files: ["README.md": "hello\n"])
/// // ... python-gitlab: gitlab.Gitlab(gitlab.url, private_token="glpat-bot")
/// await gitlab.shutdown()
/// ```
public final class GitLabSim: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port.
        public var port = 0
        /// Users known to the server; the first is the default author of fixtures.
        public var users = [User(id: 1, username: "root", name: "Administrator")]
        /// Personal access tokens and whose they are.
        public var tokens: [String: AccessToken] = [:]
        /// How long GitLab's asynchronous mergeability check takes: until then a new merge
        /// request is `preparing` (or `checking` after a push) and merging it answers 405.
        public var mergeabilityCheckDelay: Duration = .milliseconds(500)
        /// The status of a merge that finds conflicts at merge time: 406 in GitLab's merge API
        /// table and before 17.x; newer GitLab answers 422. Known conflicts answer 405.
        public var conflictStatus = 406
        /// Attempts per webhook call (the first plus retries) and the delay before the first retry (doubling).
        public var webhookAttempts = 3
        public var webhookRetryDelay: Duration = .milliseconds(500)
        public var webhookTimeout: Duration = .seconds(10)
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
    let state: GitLabState
    /// The server, the webhook sender and the auto-merge loop.
    private let tasks: [Task<Void, any Error>]

    /// Starts a server and returns once it accepts connections.
    public static func start(_ configuration: Configuration = .init(), logger: Logger = Logger(label: "gitlabsim")) async throws -> GitLabSim {
        let (events, eventSink) = AsyncStream.makeStream(of: WebhookEvent.self)
        let store = GitLabStore(
            settings: .init(mergeabilityCheckDelay: configuration.mergeabilityCheckDelay, conflictStatus: configuration.conflictStatus),
            users: configuration.users, webhooks: eventSink
        )
        let state = GitLabState(configuration: configuration, store: store)
        let server: SimulatorServer.Running
        do {
            server = try await SimulatorServer.start(APIServer(state: state), host: configuration.host, port: configuration.port, logger: logger)
        } catch {
            throw GitLabSimError.couldNotStart("\(error)")
        }
        let url = server.url
        await store.setBaseURL(url)
        let delivering = Task<Void, any Error> { await WebhookSender(state: state, instance: url).run(events) }
        // GitLab's background work: auto-merges whose checks have finished.
        let merging = Task<Void, any Error> {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                await store.runDueAutoMerges()
            }
        }
        return GitLabSim(url: url, port: server.port, configuration: configuration, state: state, tasks: [server.task, delivering, merging])
    }

    private init(url: String, port: Int, configuration: Configuration, state: GitLabState, tasks: [Task<Void, any Error>]) {
        self.url = url
        self.port = port
        self.configuration = configuration
        self.state = state
        self.tasks = tasks
    }

    /// Stops serving, abandons webhook calls still being retried and pending auto-merges.
    public func shutdown() async {
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }
    }

    // MARK: Faults and counters

    public var faults: Faults { state.faults.faults }

    public func setFaults(_ faults: Faults) {
        state.faults.set(faults)
    }

    public var requests: [RequestRecord] { state.requests.all }

    /// Requests counted by route, e.g. `"PUT /projects/:id/merge_requests/:iid/merge"`.
    public var requestCounts: [String: Int] { state.requests.counts }

    public func resetRequests() {
        state.requests.reset()
    }

    /// Finishes every pending mergeability check now, as if `mergeabilityCheckDelay` had passed:
    /// tests set a long delay and call this instead of waiting on the clock.
    public func finishMergeabilityChecks() async {
        await state.store.finishChecks()
    }

    /// Every webhook attempt so far, oldest first.
    public var webhookDeliveries: [WebhookDelivery] { state.deliveries.withLock { $0 } }

    // MARK: Users and tokens

    public func addUser(_ user: User) async {
        state.users.withLock { $0[user.username] = user }
        await state.store.addUser(user)
    }

    /// Adds or replaces a token (to rotate or revoke credentials mid-test, pass nil).
    public func setToken(_ token: String, _ access: AccessToken?) {
        state.tokens.withLock { $0[token] = access }
    }

    // MARK: Projects

    /// Creates a project whose default branch holds `files` (path → content) as its first commit.
    @discardableResult
    public func createProject(path: String, defaultBranch: String = "main", files: [String: String] = [:]) async throws -> Int {
        try await createProject(path: path, defaultBranch: defaultBranch, data: files.mapValues { Data($0.utf8) })
    }

    @discardableResult
    public func createProject(path: String, defaultBranch: String = "main", data: [String: Data]) async throws -> Int {
        guard let author = configuration.users.first else { throw GitLabSimError.invalidFixture(source: path, reason: "no users configured") }
        do {
            return try await state.store.createProject(path: path, defaultBranch: defaultBranch, files: data, author: author)
        } catch {
            throw GitLabSimError.invalidFixture(source: path, reason: "\(error.body["message"]?.string ?? "\(error.body)")")
        }
    }

    /// Creates a project whose first commit is every file under `directory` (hidden files skipped).
    @discardableResult
    public func loadProject(path: String, directory: String, defaultBranch: String = "main") async throws -> Int {
        try await createProject(path: path, defaultBranch: defaultBranch, data: try Self.files(under: directory))
    }

    static func files(under directory: String) throws -> [String: Data] {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue,
              let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else { throw GitLabSimError.invalidFixture(source: directory, reason: "not a readable directory") }
        var files: [String: Data] = [:]
        for case let file as URL in enumerator where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let relative = String(file.standardizedFileURL.path.dropFirst(root.path.count + 1))
            files[relative] = try Data(contentsOf: file)
        }
        return files
    }

    /// Commits `files` (path → content, nil deletes) to `branch` as `username`, as a push would.
    @discardableResult
    public func commit(project: String, branch: String, message: String, files: [String: String?], username: String? = nil) async throws -> String {
        let store = state.store
        guard let author = await store.user(named: username ?? configuration.users.first?.username ?? "") else {
            throw GitLabSimError.invalidFixture(source: project, reason: "unknown user \(username ?? "")")
        }
        let current = try? await store.project(project).repository.head(of: branch)?.tree
        let actions: [FileAction] = files.keys.sorted().map { path in
            guard let content = files[path] ?? nil else { return .delete(path: path, lastCommitID: nil) }
            return current?[path] == nil ? .create(path: path, data: Data(content.utf8)) : .update(path: path, data: Data(content.utf8), lastCommitID: nil)
        }
        do {
            return try await store.createCommit(project, branch: branch, startBranch: nil, message: message, actions: actions, author: author).commit.sha
        } catch {
            throw GitLabSimError.rejected(status: error.status, body: error.body)
        }
    }

    /// A file's content on a ref, for test assertions; nil when absent.
    public func file(project: String, path: String, ref: String = "main") async -> String? {
        guard let data = try? await state.store.rawFile(project, path: path, ref: ref) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The commit a branch points at.
    public func head(project: String, branch: String) async -> String? {
        try? await state.store.project(project).repository.branches[branch]
    }

    /// The merge request as the API shows it.
    public func mergeRequest(project: String, iid: Int) async -> JSONValue? {
        try? await state.store.mergeRequestEntity(project, iid: iid)
    }

    /// Protects `branch` and requires `approvals` approvals from `approvers` (anyone but the
    /// author when empty) before merge requests into it merge.
    public func requireApprovals(project: String, branch: String, approvals: Int, approvers: [String] = []) async throws {
        let store = state.store
        do {
            let protected = try await store.protectBranch(project, name: branch)
            _ = try await store.addApprovalRule(
                project, name: "\(branch) approvers", approvalsRequired: approvals, usernames: approvers, userIDs: [],
                protectedBranchIDs: [Int(protected["id"]?.int ?? 0)], appliesToAllProtectedBranches: false
            )
        } catch {
            throw GitLabSimError.rejected(status: error.status, body: error.body)
        }
    }

    /// Registers a project webhook for merge request events.
    @discardableResult
    public func addWebhook(project: String, url: String, token: String?) async throws -> Int {
        do {
            return Int(try await state.store.addHook(project, url: url, token: token, mergeRequestsEvents: true, pushEvents: false)["id"]?.int ?? 0)
        } catch {
            throw GitLabSimError.rejected(status: error.status, body: error.body)
        }
    }
}

public enum GitLabSimError: Error, CustomStringConvertible {
    case couldNotStart(String)
    case invalidFixture(source: String, reason: String)
    /// The simulator refused an administrative call as its API would.
    case rejected(status: Int, body: JSONValue)

    public var description: String {
        switch self {
        case .couldNotStart(let reason): "GitLabSim could not start: \(reason)"
        case .invalidFixture(let source, let reason): "\(source): \(reason)"
        case .rejected(let status, let body): "GitLabSim refused (\(status)): \(body)"
        }
    }
}

/// What the request handlers share: the store, the configuration, faults and counters.
final class GitLabState: Sendable {
    let configuration: GitLabSim.Configuration
    let store: GitLabStore
    let faults: FaultInjector
    let requests = RequestLog()
    let deliveries = Mutex<[WebhookDelivery]>([])
    let tokens: Mutex<[String: AccessToken]>
    let users: Mutex<[String: User]>

    init(configuration: GitLabSim.Configuration, store: GitLabStore) {
        self.configuration = configuration
        self.store = store
        self.faults = FaultInjector(configuration.faults)
        self.tokens = Mutex(configuration.tokens)
        self.users = Mutex(Dictionary(configuration.users.map { ($0.username, $0) }, uniquingKeysWith: { $1 }))
    }
}
