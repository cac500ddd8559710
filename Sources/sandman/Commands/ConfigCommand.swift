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
            for warning in loaded.warnings { printError("warning: \(warning)") }
            // Each kubeconfig and context is read (no connection): a typo'd context is found here, not at
            // serve. A kubeconfig absent from this machine (checked away from the hub) is only noted.
            var unreachable: [ConfigIssue] = []
            for cluster in loaded.clusters where !cluster.inCluster {
                do throws(ClusterAccessError) {
                    _ = try ClusterClients.access(for: cluster)
                } catch where error.kubeconfigMissing {
                    printError("note: \(error); its context is not checked")
                } catch {
                    unreachable.append(ConfigIssue(
                        file: error.source, line: topLevelLine(of: error.field, in: error.source), field: error.field, message: error.reason
                    ))
                }
            }
            if !unreachable.isEmpty {
                reportProblems(ConfigError(issues: unreachable))
                throw ExitCode(1)
            }
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

/// The line of a top-level `key:` in the YAML file at `path`, when there is one.
func topLevelLine(of key: String, in path: String) -> Int? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    return text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix(key + ":") }.map { $0 + 1 }
}

func reportProblems(_ error: ConfigError) {
    for issue in error.issues { printError(issue.description) }
    printError("\(error.issues.count) problem(s) found")
}
