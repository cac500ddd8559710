import JSON

/// One plugin file running in one Lua state: loaded (its top level run under the limits) and
/// checked for its hook. Used by one thread at a time.
final class PluginInstance {
    /// Who hears when a load or call of the instance passes its deadline (see ``Watchdog``).
    struct Observer: Sendable {
        var onExpire: @Sendable (Duration) -> Void
        var onStuck: @Sendable (Duration) -> Void
    }

    let source: PluginSource
    let state: LuaState
    private let hook: LuaState.Reference

    /// Starts `source` in a fresh state, its top level within the load timeout.
    init(_ source: PluginSource, watchdog: Watchdog, observer: Observer? = nil) throws(PluginError) {
        self.source = source
        let library = HostLibrary(plugin: source.file, logger: source.logger, clock: source.clock)
        state = try LuaState(
            limits: .init(memoryBytes: source.limits.memoryBytes, instructions: source.limits.instructions),
            hostFunctions: library.functions
        )
        let environment = try state.newEnvironment()
        let supervision = Self.supervision(watchdog, timeout: source.limits.loadTimeout, limits: source.limits, observer: observer)
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
    func invoke(_ input: JSONValue, watchdog: Watchdog, observer: Observer? = nil) throws(PluginError) -> JSONValue? {
        let supervision = Self.supervision(watchdog, timeout: source.limits.callTimeout, limits: source.limits, observer: observer)
        return try state.call(hook, arguments: [input], file: source.file, supervision: supervision)
    }

    private static func supervision(
        _ watchdog: Watchdog, timeout: Duration, limits: PluginSource.Limits, observer: Observer?
    ) -> LuaState.Supervision {
        LuaState.Supervision(
            watchdog: watchdog, timeout: timeout, grace: limits.grace, onExpire: observer?.onExpire, onStuck: observer?.onStuck
        )
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
