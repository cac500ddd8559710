import ArgumentParser
import Config
import Foundation
import Hub
import Logging
import Store

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the hub: agents for every cluster, the HTTP API, Slack and metrics.")

    @OptionGroup var config: ConfigOption
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        MemoryArenas.limit()
        global.bootstrapLogging()
        let logger = Logger(label: "sandman")
        let configuration = try loadConfiguration(config.config)
        let server: HubServer
        do {
            server = try await HubRuntime.start(configuration: configuration, clock: SystemClock(), handleSignals: true, logger: logger)
        } catch let error as HubServerError {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        try await server.wait()
    }
}
