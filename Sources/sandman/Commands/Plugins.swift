import ArgumentParser
import Foundation
import Hub
import Logging
import Scripting

struct Plugins: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List, lint and test the Lua plugins.",
        discussion: "The plugin API, the sandbox and the test file format are described in docs/plugins.md.",
        subcommands: [List.self, Lint.self, Test.self]
    )

    /// The plugin directory argument shared by the subcommands.
    struct DirectoryArgument: ParsableArguments {
        @Argument(help: "The plugin directory.")
        var directory: String = "plugins"
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load every plugin and show its kind, state, version and last error.",
            discussion: """
                With --running: what the running hub serves instead, with the failures of its calls. \
                Exits with 1 when a plugin is not loaded (failed, stale or disabled).
                """
        )

        @OptionGroup var plugins: DirectoryArgument
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Ask the running hub (--hub or $SANDMAN_HUB) rather than loading the directory.") var running = false
        @OptionGroup var hub: HubOptions

        func run() async throws {
            if running {
                let client = hub.client
                let answer = try await calling { () async throws(HubClientError) in try await client.get("/api/v1/plugins") }
                let plugins = answer["plugins"]?.array ?? []
                if hub.output != .table {
                    print(Report.render(answer, as: hub.output))
                } else {
                    let rows = plugins.map { plugin in
                        [
                            plugin["file"]?.string ?? "?", plugin["kind"]?.string ?? "?", plugin["state"]?.string ?? "?",
                            plugin["version"]?.string ?? "-", String(plugin["failures"]?.int ?? 0),
                            String(plugin["abandonedStates"]?.int ?? 0),
                            plugin["loadError"]?.string ?? plugin["disabledError"]?.string ?? plugin["lastCallError"]?.string ?? "",
                        ]
                    }
                    let header = ["FILE", "KIND", "STATE", "VERSION", "FAILURES", "ABANDONED", "ERROR"]
                    for line in table(header: header, rows: rows) { print(line) }
                }
                if plugins.contains(where: { $0["state"] != "loaded" }) { throw ExitCode(1) }
                return
            }
            try requireDirectory(plugins.directory)
            let host = PluginHost(configuration: .init(directory: plugins.directory), clock: { Date() }, logger: logger(global, quietLevel: .critical))
            await host.reload()
            let statuses = host.statuses()
            let rows = statuses.map { status in
                [status.file, status.kind.rawValue, status.state.rawValue, status.version ?? "-", status.lastError?.description ?? ""]
            }
            for line in table(header: ["FILE", "KIND", "STATE", "VERSION", "ERROR"], rows: rows) { print(line) }
            if statuses.contains(where: { $0.state != .loaded }) { throw ExitCode(1) }
        }
    }

    struct Lint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile and validate every plugin and test file without running the test cases."
        )

        @OptionGroup var plugins: DirectoryArgument
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try requireDirectory(plugins.directory)
            let report = await PluginLinter(directory: plugins.directory, logger: logger(global)).run()
            for warning in report.warnings { printError("warning: \(warning)") }
            for problem in report.problems { printError(problem) }
            print("\(report.statuses.count) plugin(s) checked, \(report.problems.count) problem(s)")
            if !report.problems.isEmpty { throw ExitCode(1) }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the plugins' test cases: tests/*.yaml and *_test.lua next to them."
        )

        @OptionGroup var plugins: DirectoryArgument
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try requireDirectory(plugins.directory)
            let report = await PluginTestRunner(directory: plugins.directory, logger: logger(global)).run()
            for testCase in report.cases {
                if let failure = testCase.failure {
                    print("FAIL \(testCase.file): \(testCase.name)\n     \(failure.replacingOccurrences(of: "\n", with: "\n     "))")
                } else {
                    print("ok   \(testCase.file): \(testCase.name)")
                }
            }
            for problem in report.problems { print("FAIL \(problem)") }
            print("\(report.passedCount) passed, \(report.failedCount) failed")
            if !report.succeeded { throw ExitCode(1) }
        }
    }
}

/// Sets up logging (once per process, so once per command) and returns the commands' logger,
/// at `quietLevel` unless asked: each report already says what loaded and what failed.
private func logger(_ global: GlobalOptions, quietLevel: Logger.Level = .warning) -> Logger {
    global.bootstrapLogging(quietLevel: quietLevel)
    return Logger(label: "sandman.plugins")
}

private func requireDirectory(_ directory: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        printError("\(directory) is not a directory")
        throw ExitCode(2)
    }
}

private func table(header: [String], rows: [[String]]) -> [String] {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }
        .joined(separator: "  ")
        .trimmingCharacters(in: .whitespaces)
    }
}
