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

        func run() async throws {
            do {
                let loaded = try ConfigLoader.load(path: config.config)
                for line in ConfigurationSummary(loaded).lines { print(line) }
            } catch {
                for issue in error.issues { printError(issue.description) }
                printError("\(error.issues.count) problem(s) found")
                throw ExitCode(1)
            }
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
