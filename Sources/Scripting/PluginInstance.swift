import JSON

/// One plugin file running in one Lua state: loaded (its top level run under the limits) and
/// checked for its hook. Used by one thread at a time.
final class PluginInstance {
    let source: PluginSource
    let state: LuaState
    private let hook: LuaState.Reference

    /// Starts `source` in a fresh state. `onExpire` is told if loading runs past its deadline.
    init(_ source: PluginSource, watchdog: Watchdog, onExpire: (@Sendable () -> Void)? = nil) throws(PluginError) {
        self.source = source
        let library = HostLibrary(plugin: source.file, logger: source.logger, clock: source.clock)
        state = try LuaState(
            limits: .init(memoryBytes: source.limits.memoryBytes, instructions: source.limits.instructions),
            hostFunctions: library.functions
        )
        let environment = try state.newEnvironment()
        let supervision = LuaState.Supervision(watchdog: watchdog, timeout: source.limits.loadTimeout, onExpire: onExpire)
        let exports = try state.run(source.text, file: source.file, in: environment, supervision: supervision) ?? environment
        guard let hook = try state.function(named: source.kind.hook, in: exports) else {
            let present = try state.hasField(source.kind.hook, in: exports)
            throw PluginError(
                .missingHook(source.kind.hook), file: source.file,
                message: present
                    ? "'\(source.kind.hook)' is not a function"
                    : "a \(source.kind.rawValue) plugin must define function \(source.kind.hook)(\(Self.parameter(source.kind)))"
            )
        }
        self.hook = hook
    }

    /// Calls the hook with `input` within the call timeout; nil when it returned nil.
    func invoke(_ input: JSONValue, watchdog: Watchdog, onExpire: (@Sendable () -> Void)? = nil) throws(PluginError) -> JSONValue? {
        let supervision = LuaState.Supervision(watchdog: watchdog, timeout: source.limits.callTimeout, onExpire: onExpire)
        return try state.call(hook, arguments: [input], file: source.file, supervision: supervision)
    }

    private static func parameter(_ kind: PluginKind) -> String {
        switch kind {
        case .policy, .team: "ctx"
        case .slackCommands: "cmd"
        case .notify: "event"
        }
    }
}

@available(*, unavailable)
extension PluginInstance: Sendable {}
