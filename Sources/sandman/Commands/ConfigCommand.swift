import ArgumentParser
import Config
import Foundation
import Hub

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check the hub configuration.",
        subcommands: [Validate.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load sandman.yaml and every cluster file; print each problem with its file, line and field."
        )

        @OptionGroup var config: ConfigOption

        @Flag(help: "Also connect to every cluster: server, user, version, readiness, latency, or why it fails.")
        var probe = false

        func run() async throws {
            let loaded = try loadConfiguration(config.config)
            for line in ConfigurationSummary(loaded).lines { print(line) }
            guard probe else { return }
            let results = await ClusterClients.probe(loaded.clusters)
            for line in ConfigurationSummary.probeLines(results) { print(line) }
            if results.contains(where: { $0.failure != nil }) { throw ExitCode(1) }
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The configuration at `path`; every problem printed with its file, line and field, then exit 1.
func loadConfiguration(_ path: String) throws -> HubConfiguration {
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        reportProblems(error)
        throw ExitCode(1)
    }
}

func reportProblems(_ error: ConfigError) {
    for issue in error.issues { printError(issue.description) }
    printError("\(error.issues.count) problem(s) found")
}
