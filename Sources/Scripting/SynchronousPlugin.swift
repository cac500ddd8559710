import Foundation
import JSON
import Logging

/// One plugin run on the calling thread, with the host's limits and result checks: for code that
/// owns its thread and may block it (the test runner, benchmarks). A call stuck inside a C
/// function blocks the caller until it returns; the hub uses ``PluginHost`` instead.
package final class SynchronousPlugin {
    package let file: String
    private let kind: PluginKind
    private let instance: PluginInstance
    private let watchdog: Watchdog
    private let ownsWatchdog: Bool

    /// Loads `file` (relative to `directory`) in a fresh state.
    package convenience init(file: String, directory: String, configuration: PluginHost.Configuration, clock: @escaping @Sendable () -> Date, logger: Logger) throws(PluginError) {
        try self.init(file: file, directory: directory, limits: configuration.limits, clock: clock, logger: logger, watchdog: nil)
    }

    init(file: String, directory: String, limits: PluginSource.Limits, clock: @escaping @Sendable () -> Date, logger: Logger, watchdog: Watchdog?) throws(PluginError) {
        guard let kind = PluginKind(path: file) else {
            throw PluginError(.unavailable, file: file, message: "not a plugin path (policy/*.lua, teams/*.lua, slack/commands.lua, notify/*.lua)")
        }
        let text = try PluginDirectory(root: directory).read(file)
        let source = PluginSource(file: file, kind: kind, text: text, limits: limits, logger: logger, clock: clock)
        self.file = file
        self.kind = kind
        self.watchdog = watchdog ?? Watchdog()
        self.ownsWatchdog = watchdog == nil
        do {
            instance = try PluginInstance(source, watchdog: self.watchdog)
        } catch {
            if ownsWatchdog { self.watchdog.shutdown() }
            throw error
        }
    }

    deinit {
        if ownsWatchdog { watchdog.shutdown() }
    }

    /// The plugin's hook (`decide`, `handle`, `format`).
    package var hook: String { kind.hook }

    /// Calls the hook and returns its result checked and normalized as test cases see it: a
    /// decision as `{action, reason}` or null, a Slack result, a message or null.
    package func call(_ input: JSONValue) throws(PluginError) -> JSONValue {
        try PluginOutput.normalized(try instance.invoke(input, watchdog: watchdog), kind: kind, file: file)
    }
}

@available(*, unavailable)
extension SynchronousPlugin: Sendable {}
