import Foundation
import Logging

/// What `sandman plugins lint` checks: every plugin compiles, runs its top level within the
/// limits and defines its hook; every test file parses and loads (its cases are not run); and
/// `.lua` files outside the plugin places are pointed out, since the hub ignores them.
public struct PluginLinter: Sendable {
    /// The findings of one lint.
    public struct Report: Sendable {
        /// Every plugin file found, with its state.
        public var statuses: [PluginStatus]
        /// Plugins that do not load and test files that cannot run; lint fails when not empty.
        public var problems: [String]
        /// Things that are probably mistakes but do not fail the lint.
        public var warnings: [String]
    }

    public let directory: String
    private let logger: Logger

    public init(directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
    }

    public func run() async -> Report {
        let host = PluginHost(configuration: .init(directory: directory), clock: { Date() }, logger: logger)
        await host.reload()
        let statuses = host.statuses()
        var problems = statuses.compactMap { $0.loadError?.description }
        problems += await PluginTestRunner(directory: directory, logger: logger).check()
        let warnings = PluginDirectory(root: directory).strayLuaFiles().map {
            "\($0) is not loaded: plugins live in policy/*.lua, teams/*.lua, slack/commands.lua and notify/*.lua"
        }
        return Report(statuses: statuses, problems: problems, warnings: warnings)
    }
}
