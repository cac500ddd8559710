import Foundation
import JSON
import Logging
import Synchronization

/// Loads the Lua plugins of a directory, keeps them current, and calls them for the hub.
///
/// Every call is bounded (memory, instructions, a wall-clock deadline) and never fails: a plugin
/// that errs, returns the wrong shape or is too slow counts as "no opinion" (policies), a generic
/// reply (Slack) or silence (notifications), and the failure is reported in the outcome, logged,
/// and counted in ``statuses()``.
///
/// ```swift
/// let host = PluginHost(configuration: .init(directory: "/etc/sandman/plugins"), clock: { Date() }, logger: logger)
/// await host.reload()                       // load and validate everything once
/// async let reloading: Void = host.run()    // then follow changes until cancelled
/// let outcome = await host.decide(ctx, team: "payments")
/// ```
///
/// Each plugin file runs in its own Lua state on its own thread, one call at a time (see
/// docs/plugins.md, "Concurrency"); calls to different plugins run in parallel.
public final class PluginHost: Sendable {
    /// Where the plugins are and how they are bounded.
    public struct Configuration: Sendable {
        /// The plugin directory (with `policy/`, `teams/`, `slack/`, `notify/`).
        public var directory: String
        /// Wall-clock budget of one call (decision, Slack command, notification).
        public var callTimeout: Duration
        /// Memory cap of each plugin's Lua state.
        public var memoryLimitBytes: Int
        /// How often the directory is checked for changes by ``run()``.
        public var reloadInterval: Duration
        /// Lua instructions one call may run once it has taken longer than a millisecond; 0 turns
        /// the budget off (the deadline still applies).
        public var instructionLimit: Int
        /// Wall-clock budget for running a file's top level when it loads.
        public var loadTimeout: Duration
        /// How long past its deadline a load or call may still be running (somewhere nothing can
        /// interrupt it) before the plugin is disabled.
        public var deadlineGrace: Duration

        public init(
            directory: String,
            callTimeout: Duration = .milliseconds(50),
            memoryLimitBytes: Int = 32 << 20,
            reloadInterval: Duration = .seconds(2),
            instructionLimit: Int = 10_000_000,
            loadTimeout: Duration = .seconds(1),
            deadlineGrace: Duration = defaultDeadlineGrace
        ) {
            self.directory = directory
            self.callTimeout = callTimeout
            self.memoryLimitBytes = memoryLimitBytes
            self.reloadInterval = reloadInterval
            self.instructionLimit = instructionLimit
            self.loadTimeout = loadTimeout
            self.deadlineGrace = deadlineGrace
        }

        /// Every interruptible path ends within microseconds of its deadline, and the longest step
        /// that checks nothing within about 0.1 s; two seconds leave room for a machine so busy
        /// that a thread waits that long for a core, since disabling a plugin is for good.
        public static let defaultDeadlineGrace: Duration = .seconds(2)

        var limits: PluginSource.Limits {
            .init(
                callTimeout: callTimeout, loadTimeout: loadTimeout, memoryBytes: memoryLimitBytes, instructions: instructionLimit,
                grace: deadlineGrace
            )
        }
    }

    public let configuration: Configuration
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private let watchdog = Watchdog()
    private let abandonedStates = AbandonedStates()
    /// Runs reloads, one at a time, off the cooperative pool: reading files, and waiting for the
    /// loads (each on the thread of its own executor).
    private let loader = SerialThread(name: "sandman-plugin-loader")
    private let registry = Mutex(PluginRegistry())
    /// Whether the missing directory was reported: once, not at every reload.
    private let missingDirectoryReported = Mutex(false)
    private let reloads = Atomic<Int>(0)

    /// A host for `configuration.directory`. Nothing is loaded until ``reload()`` or ``run()``.
    /// `clock` is what plugins see as `sandman.time.now()`; `logger` receives the host's events
    /// and the plugins' own logs (with a `plugin` metadata key).
    public init(configuration: Configuration, clock: @escaping @Sendable () -> Date, logger: Logger) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    deinit {
        let retired = registry.withLock { registry in
            registry.entries.values.compactMap(\.serving)
        }
        for plugin in retired { plugin.executor.shutdown() }
        loader.shutdown()
        watchdog.shutdown()
    }

    // MARK: - Hooks

    /// Asks the policy plugins (in file order), then `team`'s plugin, about one namespace.
    /// Each plugin sees the decision so far as `ctx.proposal`; the last opinion wins.
    public func decide(_ context: JSONValue, team: String?) async -> PolicyOutcome {
        await decide([PolicyQuestion(context: context, team: team)])[0]
    }

    /// ``decide(_:team:)`` for many namespaces at once, answered in order: each plugin gets the
    /// questions it is asked as one batch (one hand-over to its thread instead of one per
    /// namespace), each still a separate call with its own deadline and failure.
    public func decide(_ questions: [PolicyQuestion]) async -> [PolicyOutcome] {
        let (policies, teams) = registry.withLock { registry in
            (registry.policies, Dictionary(questions.compactMap(\.team).map { ($0, registry.teams[$0]) }) { first, _ in first })
        }
        var asking = PolicyRound(questions)
        for plugin in policies {
            await ask(plugin, asking.indices, &asking)
        }
        let byTeam = Dictionary(grouping: asking.indices) { questions[$0].team ?? "" }
        for (team, indices) in byTeam.sorted(by: { $0.key < $1.key }) {
            guard let plugin = teams[team] ?? nil else { continue }
            await ask(plugin, indices, &asking)
        }
        return asking.outcomes
    }

    private func ask(_ plugin: LoadedPlugin, _ indices: [Int], _ round: inout PolicyRound) async {
        let replies = await plugin.executor.call(batch: indices.map { round.context(asking: $0, plugin: plugin.file) })
        for (index, reply) in zip(indices, replies) {
            do throws(PluginError) {
                guard let decision = try PolicyDecision.validate(reply.get(), file: plugin.file) else { continue }
                round.outcomes[index].opinions.append(decision)
                round.outcomes[index].decision = decision
            } catch {
                round.outcomes[index].failures.append(error)
                recordFailure(error, of: plugin)
            }
        }
    }

    /// Lets `slack/commands.lua` handle a slash command; the generic fallback reply when it is
    /// missing, fails or is too slow.
    public func handleSlackCommand(_ command: JSONValue) async -> SlackCommandOutcome {
        guard let plugin = registry.withLock({ $0.slackCommands }) else {
            return .fallback(PluginError(.unavailable, file: "slack/commands.lua", message: "no Slack command plugin is loaded"))
        }
        do throws(PluginError) {
            let value = try await plugin.executor.call(command).get()
            return try SlackCommandOutcome.validate(value, file: plugin.file).outcome
        } catch {
            recordFailure(error, of: plugin)
            return .fallback(error)
        }
    }

    /// Lets every `notify/*.lua` format `event`, in file order.
    public func format(_ event: JSONValue) async -> NotificationOutcome {
        let plugins = registry.withLock { $0.notifiers }
        var outcome = NotificationOutcome()
        for plugin in plugins {
            do throws(PluginError) {
                let value = try await plugin.executor.call(event).get()
                if let message = try NotificationOutcome.validate(value, file: plugin.file) {
                    outcome.messages.append(.init(plugin: plugin.file, message: message))
                }
            } catch {
                outcome.failures.append(error)
                recordFailure(error, of: plugin)
            }
        }
        return outcome
    }

    /// Every plugin file's state, sorted by kind then file.
    public func statuses() -> [PluginStatus] {
        let abandonedStates = self.abandonedStates
        return registry.withLock { $0.statuses(abandoned: abandonedStates.count(of:)) }
    }

    /// Plugin threads abandoned at a deadline and still running, host-wide (each holds a Lua
    /// state), and how many the host tolerates before it starts no new plugin thread.
    public var abandonedStateCount: (running: Int, maximum: Int) {
        (abandonedStates.total, abandonedStates.maximum)
    }

    private func recordFailure(_ error: PluginError, of plugin: LoadedPlugin) {
        registry.withLock { $0.recordFailure(error, file: plugin.file) }
        logger.warning("plugin call failed", metadata: [
            "plugin": "\(plugin.file)", "plugin.version": "\(plugin.version)",
            "error.reason": "\(error.reasonName)", "error": "\(error.description)",
        ])
    }

    // MARK: - Loading

    /// Loads what changed in the directory since the last reload: new and modified files are
    /// loaded, each on a thread of its own and within the load timeout, and replace the serving
    /// version only if they load; removed files are unloaded; loads that timed out are tried
    /// again when their backoff has passed. One reload at a time; a reload takes about the load
    /// timeout at most, however its files behave.
    public func reload() async {
        await loader.perform { [self] in reloadNow() }
    }

    /// Reloads finished since the host was made. A reload that starts after a file was written
    /// sees it, so the second reload finished after a write has seen the write.
    var completedReloads: Int { reloads.load(ordering: .acquiring) }

    /// Reloads at once, then every `reloadInterval`, until the task is cancelled.
    public func run() async throws {
        await reload()
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.reloadInterval)
            } catch {
                return
            }
            await reload()
        }
    }

    /// What the registry knew of a file before a reload.
    private struct Known {
        var signature: FileSignature?
        var version: String?
        var retryDue: Bool
    }

    /// What a look at the directory found: changes already known, and versions to load.
    private struct Scan: Sendable {
        var changes: [PluginRegistry.Change] = []
        var loads: [(source: PluginSource, signature: FileSignature)] = []
    }

    private func reloadNow() {
        defer { reloads.add(1, ordering: .releasing) }
        guard let scan = scanDirectory() else { return }
        let changes = scan.changes + load(scan.loads)
        guard !changes.isEmpty else { return }
        let now = ContinuousClock.now
        let loadTimeout = configuration.loadTimeout
        let (retired, after) = registry.withLock { registry in
            let retired = registry.apply(changes, now: now, loadTimeout: loadTimeout)
            return (retired, registry.entries.mapValues { (version: $0.serving?.version, retryIn: $0.retry.map { $0.at - now }) })
        }
        for plugin in retired { plugin.executor.shutdown() }
        log(changes, after: after)
    }

    /// Reads what changed since the last reload; nil when the directory is missing.
    private func scanDirectory() -> Scan? {
        let directory = PluginDirectory(root: configuration.directory)
        guard directory.exists else {
            if !missingDirectoryReported.withLock({ reported in defer { reported = true }; return reported }) {
                logger.warning("plugin directory missing; keeping what is loaded", metadata: ["directory": "\(configuration.directory)"])
            }
            return nil
        }
        missingDirectoryReported.withLock { $0 = false }
        let files = directory.scan()
        let now = ContinuousClock.now
        let known = registry.withLock { registry in
            Dictionary(uniqueKeysWithValues: registry.entries.map { path, entry in
                (path, Known(signature: entry.signature, version: entry.fileVersion, retryDue: registry.retryIsDue(path, now: now)))
            })
        }
        var scan = Scan()
        for file in files {
            let entry = known[file.path]
            // A load that timed out is tried again once its backoff has passed, unless its
            // earlier attempt is still running.
            let retry = entry?.retryDue == true && abandonedStates.count(of: file.path) == 0
            guard entry?.signature != file.signature || retry else { continue }
            let text: String
            do {
                text = try directory.read(file.path)
            } catch {
                scan.changes.append(.failed(path: file.path, kind: file.kind, error: error, signature: file.signature, fileVersion: nil))
                continue
            }
            let source = PluginSource(
                file: file.path, kind: file.kind, text: text, limits: configuration.limits, logger: logger, clock: clock
            )
            if entry?.version == source.version, !retry {
                scan.changes.append(.touched(path: file.path, signature: file.signature))
                continue
            }
            scan.loads.append((source, file.signature))
        }
        let present = Set(files.map(\.path))
        for path in known.keys where !present.contains(path) {
            scan.changes.append(.removed(path: path))
        }
        return scan
    }

    /// Loads each version on a fresh executor of its own, all at once, and waits for them: each
    /// answers by its deadline, however its file behaves.
    private func load(_ loads: [(source: PluginSource, signature: FileSignature)]) -> [PluginRegistry.Change] {
        let outcomes = LoadOutcomes(count: loads.count)
        for (index, load) in loads.enumerated() {
            let executor = PluginExecutor(source: load.source, watchdog: watchdog, abandonedStates: abandonedStates)
            executor.load { error in outcomes.set(index, executor: executor, error: error) }
        }
        return zip(loads, outcomes.wait()).map { load, outcome in
            if let error = outcome.error {
                outcome.executor.shutdown()
                return .failed(
                    path: load.source.file, kind: load.source.kind, error: error, signature: load.signature, fileVersion: load.source.version
                )
            }
            return .loaded(LoadedPlugin(executor: outcome.executor, loadedAt: clock()), signature: load.signature)
        }
    }

    /// The outcomes of loads running side by side, waited for by the loader thread.
    private final class LoadOutcomes: @unchecked Sendable {
        struct Outcome {
            var executor: PluginExecutor
            var error: PluginError?
        }

        private let condition = NSCondition()
        private var outcomes: [Outcome?]

        init(count: Int) {
            outcomes = Array(repeating: nil, count: count)
        }

        func set(_ index: Int, executor: PluginExecutor, error: PluginError?) {
            condition.lock()
            outcomes[index] = Outcome(executor: executor, error: error)
            condition.broadcast()
            condition.unlock()
        }

        func wait() -> [Outcome] {
            condition.lock()
            defer { condition.unlock() }
            while outcomes.contains(where: { $0 == nil }) { condition.wait() }
            return outcomes.map { $0! }
        }
    }

    private func log(_ changes: [PluginRegistry.Change], after: [String: (version: String?, retryIn: Duration?)]) {
        for change in changes {
            switch change {
            case .touched:
                continue
            case .loaded(let plugin, _):
                logger.info("plugin loaded", metadata: ["plugin": "\(plugin.file)", "plugin.version": "\(plugin.version)", "plugin.kind": "\(plugin.kind.rawValue)"])
            case .failed(let path, _, let error, _, _):
                var metadata: Logger.Metadata = [
                    "plugin": "\(path)", "error.reason": "\(error.reasonName)", "error": "\(error.description)",
                    "plugin.serving": "\(after[path]?.version ?? "none")",
                ]
                if let retryIn = after[path]?.retryIn { metadata["plugin.retryIn"] = "\(retryIn.sandmanText)" }
                logger.error("plugin failed to load", metadata: metadata)
            case .removed(let path):
                logger.info("plugin removed", metadata: ["plugin": "\(path)"])
            }
        }
    }
}
