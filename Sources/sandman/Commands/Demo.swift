import ArgumentParser
import Config
import Demo
import Foundation
import Logging

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start simulated production, staging and dev clusters and a hub against them.",
        discussion: "Uses the repository's sandman.yaml, clusters/*.yaml, clusters/demo/ fixtures and plugins/."
    )

    @OptionGroup var config: ConfigOption
    @OptionGroup var global: GlobalOptions

    @Option(help: "Port of the hub (default: the configuration's).")
    var port: Int?

    @Option(help: "Run the hub's clock this many times faster, so a day of schedules plays in minutes.")
    var speed: Double = 1

    func run() async throws {
        global.bootstrapLogging()
        let logger = Logger(label: "sandman")
        let demo: DemoEnvironment
        do {
            demo = try await DemoEnvironment.start(configPath: config.config, port: port, speed: speed, logger: logger)
        } catch let error as ConfigError {
            reportProblems(error)
            throw ExitCode(1)
        }
        // Written straight away: stdout may be a pipe, where print() would hold it back.
        FileHandle.standardOutput.write(Data((demo.instructions + "\n").utf8))
        try await demo.wait()
    }
}
