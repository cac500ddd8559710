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

        public init(
            directory: String,
            callTimeout: Duration = .milliseconds(50),
            memoryLimitBytes: Int = 32 << 20,
            reloadInterval: Duration = .seconds(2),
            instructionLimit: Int = 10_000_000,
            loadTimeout: Duration = .seconds(1)
        ) {
            self.directory = directory
            self.callTimeout = callTimeout
            self.memoryLimitBytes = memoryLimitBytes
            self.reloadInterval = reloadInterval
            self.instructionLimit = instructionLimit
            self.loadTimeout = loadTimeout
        }

        var limits: PluginSource.Limits {
            .init(callTimeout: callTimeout, loadTimeout: loadTimeout, memoryBytes: memoryLimitBytes, instructions: instructionLimit)
        }
    }

    public let configuration: Configuration
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private let watchdog = Watchdog()
    private let loader = SerialThread(name: "sandman-plugin-loader")
    private let registry = Mutex(PluginRegistry())

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
        let chain = registry.withLock { $0.decisionChain(team: team) }
        var outcome = PolicyOutcome()
        var context = context
        for plugin in chain {
            if let decision = outcome.decision { context["proposal"] = decision.json }
            outcome.consulted.append(plugin.file)
            do throws(PluginError) {
                let value = try await plugin.executor.call(context).get()
                guard let decision = try PolicyDecision.validate(value, file: plugin.file) else { continue }
                outcome.opinions.append(decision)
                outcome.decision = decision
            } catch {
                outcome.failures.append(error)
                recordFailure(error, of: plugin)
            }
        }
        return outcome
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
        registry.withLock { $0.statuses }
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
    /// compiled and validated, and replace the serving version only if they load; removed files
    /// are unloaded. Runs on a thread of the host's own, one reload at a time.
    public func reload() async {
        await loader.perform { [self] in reloadNow() }
    }

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

    private func reloadNow() {
        let directory = PluginDirectory(root: configuration.directory)
        guard directory.exists else {
            logger.warning("plugin directory missing; keeping what is loaded", metadata: ["directory": "\(configuration.directory)"])
            return
        }
        let files = directory.scan()
        let known = registry.withLock { $0.entries.mapValues { ($0.signature, $0.fileVersion) } }
        var changes: [PluginRegistry.Change] = []
        for file in files where known[file.path]?.0 != file.signature {
            let text: String
            do {
                text = try directory.read(file.path)
            } catch {
                changes.append(.failed(path: file.path, kind: file.kind, error: error, signature: file.signature, fileVersion: nil))
                continue
            }
            let source = PluginSource(file: file.path, kind: file.kind, text: text, limits: configuration.limits, logger: logger, clock: clock)
            let version = source.version
            if known[file.path]?.1 == version {
                changes.append(.touched(path: file.path, signature: file.signature))
                continue
            }
            do {
                let instance = try PluginInstance(source, watchdog: watchdog)
                let executor = PluginExecutor(source: source, loaded: instance, watchdog: watchdog)
                changes.append(.loaded(LoadedPlugin(executor: executor, loadedAt: clock()), signature: file.signature))
            } catch {
                changes.append(.failed(path: file.path, kind: file.kind, error: error, signature: file.signature, fileVersion: version))
            }
        }
        let present = Set(files.map(\.path))
        for path in known.keys where !present.contains(path) {
            changes.append(.removed(path: path))
        }
        guard !changes.isEmpty else { return }
        let (retired, serving) = registry.withLock { registry in
            let retired = registry.apply(changes)
            return (retired, registry.entries.mapValues { $0.serving?.version })
        }
        for plugin in retired { plugin.executor.shutdown() }
        log(changes, serving: serving)
    }

    private func log(_ changes: [PluginRegistry.Change], serving: [String: String?]) {
        for change in changes {
            switch change {
            case .touched:
                continue
            case .loaded(let plugin, _):
                logger.info("plugin loaded", metadata: ["plugin": "\(plugin.file)", "plugin.version": "\(plugin.version)", "plugin.kind": "\(plugin.kind.rawValue)"])
            case .failed(let path, _, let error, _, _):
                let previous = serving[path].flatMap { $0 }
                logger.error("plugin failed to load", metadata: [
                    "plugin": "\(path)", "error.reason": "\(error.reasonName)", "error": "\(error.description)",
                    "plugin.serving": "\(previous ?? "none")",
                ])
            case .removed(let path):
                logger.info("plugin removed", metadata: ["plugin": "\(path)"])
            }
        }
    }
}
