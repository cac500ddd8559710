import Foundation

/// How one plugin file is doing, for `sandman plugins list`, the API and metrics.
public struct PluginStatus: Sendable, Equatable {
    public enum State: String, Sendable {
        /// The file on disk is the version serving calls.
        case loaded
        /// The file on disk does not load (see ``PluginStatus/loadError``); the previous version
        /// keeps serving.
        case stale
        /// The file does not load and no earlier version exists: nothing serves it.
        case failed
        /// A call of the serving version could not be stopped at its deadline (see
        /// ``PluginStatus/disabledError``): nothing serves it until the file changes.
        case disabled
    }

    /// Relative to the plugin directory: `policy/default.lua`.
    public var file: String
    public var kind: PluginKind
    public var state: State
    /// Content hash of the serving version.
    public var version: String?
    /// When the serving version was loaded (hub clock).
    public var loadedAt: Date?
    /// Why the file on disk is not serving, while ``state`` is `stale` or `failed`.
    public var loadError: PluginError?
    /// Why the serving version was disabled, while ``state`` is `disabled`.
    public var disabledError: PluginError?
    /// The last failed call (error, wrong result, timeout), if any.
    public var lastCallError: PluginError?
    /// Calls that failed since the hub started, across versions of the file.
    public var failureCount: Int
    /// Versions of the file that failed to load since the hub started.
    public var loadFailureCount: Int
    /// Threads of this file's loads and calls that were abandoned at their deadline and are
    /// still running, each holding a Lua state (see docs/plugins.md, "Limits").
    public var abandonedStates: Int

    /// The most recent problem: the load error, else why it is disabled, else the last call error.
    public var lastError: PluginError? { loadError ?? disabledError ?? lastCallError }
}
