import ArgumentParser
import Config
import Demo
import Foundation
import Hub
import Logging

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start simulated production, staging and dev clusters and a hub against them.",
        discussion: """
            Uses the configuration's clusters and plugins (by default the repository's sandman.yaml, clusters/*.yaml, \
            clusters/demo/ fixtures and plugins/); the SleepInfo CRD ships in the binary. Without Slack, notifications \
            are printed on the console.
            """
    )

    @OptionGroup var config: ConfigOption
    @OptionGroup var global: GlobalOptions

    @Option(help: "Port of the hub (default: the configuration's).")
    var port: Int?

    @Option(help: "Run the hub's clock this many times faster, so a day of schedules plays in minutes.")
    var speed: Double = 1

    @Option(help: "Start the hub's clock at this RFC 3339 time, e.g. 2027-01-04T07:00:00Z (default: now).")
    var start: String?

    func run() async throws {
        MemoryArenas.limit()
        global.bootstrapLogging()
        let logger = Logger(label: "sandman")
        let demo: DemoEnvironment
        do {
            var startDate: Date?
            if let start {
                guard let date = try? Date(start, strategy: .iso8601) else {
                    throw ValidationError("--start must be an RFC 3339 time such as 2027-01-04T07:00:00Z, got \"\(start)\"")
                }
                startDate = date
            }
            demo = try await DemoEnvironment.start(
                configPath: config.config, port: port, speed: speed, start: startDate, logger: logger,
                console: { text in FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
            )
        } catch let error as ConfigError {
            reportProblems(error)
            throw ExitCode(1)
        } catch let error as HubServerError {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        // Written straight away: stdout may be a pipe, where print() would hold it back.
        FileHandle.standardOutput.write(Data((demo.instructions + "\n").utf8))
        try await demo.wait()
    }
}
