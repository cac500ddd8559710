import Foundation

/// One loaded version of a plugin file, serving calls through its executor.
final class LoadedPlugin: Sendable {
    let file: String
    let kind: PluginKind
    let version: String
    let loadedAt: Date
    let executor: PluginExecutor

    init(executor: PluginExecutor, loadedAt: Date) {
        self.file = executor.source.file
        self.kind = executor.source.kind
        self.version = executor.source.version
        self.loadedAt = loadedAt
        self.executor = executor
    }
}

/// What the host knows about its plugin files: the serving version of each, why a newer one did
/// not load, when a load that ran out of time is tried again, and failure counts. A value type
/// kept behind the host's lock; no I/O.
struct PluginRegistry: Sendable {
    struct Entry: Sendable {
        var kind: PluginKind
        var serving: LoadedPlugin?
        /// The `stat` signature and content hash of the file as last read.
        var signature: FileSignature?
        var fileVersion: String?
        var loadError: PluginError?
        var lastCallError: PluginError?
        var failureCount = 0
        var loadFailureCount = 0
        /// When a load that timed out (or was refused for lack of threads) is tried again,
        /// although the file did not change.
        var retry: Retry?
    }

    /// The next attempt at loading a file whose last load timed out.
    struct Retry: Sendable, Equatable {
        /// Failed attempts in a row.
        var attempts: Int
        var at: ContinuousClock.Instant
    }

    /// What one reload found for one file.
    enum Change: Sendable {
        /// The file changed on disk but not in content.
        case touched(path: String, signature: FileSignature)
        case loaded(LoadedPlugin, signature: FileSignature)
        case failed(path: String, kind: PluginKind, error: PluginError, signature: FileSignature?, fileVersion: String?)
        case removed(path: String)
    }

    /// The longest wait between two attempts at loading a file that keeps timing out.
    static let maximumRetryDelay: Duration = .seconds(300)

    private(set) var entries: [String: Entry] = [:]
    /// Serving plugins by role, rebuilt after every change.
    private(set) var policies: [LoadedPlugin] = []
    private(set) var teams: [String: LoadedPlugin] = [:]
    private(set) var slackCommands: LoadedPlugin?
    private(set) var notifiers: [LoadedPlugin] = []

    /// How long to wait before attempt `attempts + 1` at a load that timed out `attempts` times
    /// in a row: twice the load timeout, doubling each time, at most ``maximumRetryDelay``.
    static func retryDelay(afterAttempts attempts: Int, loadTimeout: Duration) -> Duration {
        let doublings = min(max(attempts - 1, 0), 20)
        return min(loadTimeout * 2 * (1 << doublings), maximumRetryDelay)
    }

    /// Whether a load of the file at `path` is to be tried again now although it did not change.
    func retryIsDue(_ path: String, now: ContinuousClock.Instant) -> Bool {
        guard let retry = entries[path]?.retry else { return false }
        return retry.at <= now
    }

    /// The plugins to ask for a namespace of `team`: every policy by file name, then the team's.
    func decisionChain(team: String?) -> [LoadedPlugin] {
        guard let team, let plugin = teams[team] else { return policies }
        return policies + [plugin]
    }

    /// Applies `changes` found at `now` and returns the versions they retired (to be shut down).
    mutating func apply(_ changes: [Change], now: ContinuousClock.Instant, loadTimeout: Duration) -> [LoadedPlugin] {
        var retired: [LoadedPlugin] = []
        for change in changes {
            switch change {
            case .touched(let path, let signature):
                entries[path]?.signature = signature
            case .loaded(let plugin, let signature):
                var entry = entries[plugin.file] ?? Entry(kind: plugin.kind)
                if let previous = entry.serving { retired.append(previous) }
                entry.kind = plugin.kind
                entry.serving = plugin
                entry.signature = signature
                entry.fileVersion = plugin.version
                entry.loadError = nil
                entry.retry = nil
                entries[plugin.file] = entry
            case .failed(let path, let kind, let error, let signature, let fileVersion):
                var entry = entries[path] ?? Entry(kind: kind)
                let sameVersion = entry.fileVersion == fileVersion && fileVersion != nil
                entry.signature = signature
                entry.fileVersion = fileVersion
                entry.loadError = error
                entry.loadFailureCount += 1
                entry.retry = nil
                if error.retriesLoad {
                    let attempts = (sameVersion ? entries[path]?.retry?.attempts ?? 0 : 0) + 1
                    entry.retry = Retry(attempts: attempts, at: now + Self.retryDelay(afterAttempts: attempts, loadTimeout: loadTimeout))
                }
                entries[path] = entry
            case .removed(let path):
                if let previous = entries[path]?.serving { retired.append(previous) }
                entries[path] = nil
            }
        }
        rebuildRoles()
        return retired
    }

    /// Counts a failed call of `file`.
    mutating func recordFailure(_ error: PluginError, file: String) {
        entries[file]?.failureCount += 1
        entries[file]?.lastCallError = error
    }

    /// Every plugin's status, sorted by kind then file; `abandoned` counts each file's threads
    /// left running past a deadline.
    func statuses(abandoned: (String) -> Int) -> [PluginStatus] {
        entries.map { file, entry in
            let disabledError = entry.serving?.executor.disabledError
            let state: PluginStatus.State =
                if entry.serving == nil { .failed }
                else if disabledError != nil { .disabled }
                else if entry.loadError == nil { .loaded }
                else { .stale }
            return PluginStatus(
                file: file,
                kind: entry.kind,
                state: state,
                version: entry.serving?.version,
                loadedAt: entry.serving?.loadedAt,
                loadError: entry.loadError,
                disabledError: disabledError,
                lastCallError: entry.lastCallError,
                failureCount: entry.failureCount,
                loadFailureCount: entry.loadFailureCount,
                abandonedStates: abandoned(file)
            )
        }
        .sorted { ($0.kind, $0.file) < ($1.kind, $1.file) }
    }

    private mutating func rebuildRoles() {
        let serving = entries.values.compactMap(\.serving).sorted { $0.file < $1.file }
        policies = serving.filter { $0.kind == .policy }
        notifiers = serving.filter { $0.kind == .notify }
        slackCommands = serving.first { $0.kind == .slackCommands }
        teams = [:]
        for plugin in serving where plugin.kind == .team {
            let name = String(plugin.file.dropFirst("teams/".count).dropLast(".lua".count))
            teams[name] = plugin
        }
    }
}

extension PluginError {
    /// Whether a load that failed this way is tried again although the file did not change: it
    /// ran out of time (the machine may have been busy), or no thread could be started for it.
    var retriesLoad: Bool {
        switch reason {
        case .timeout, .unavailable: true
        default: false
        }
    }
}
