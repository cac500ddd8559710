import ArgumentParser
import Hub
import Logging

/// Options every command that runs hub code accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Log format: text or json.")
    var logFormat: LogFormat = .text

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func bootstrapLogging() {
        logFormat.bootstrap(level: logLevel)
    }
}

extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The hub configuration file option.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Hub configuration file.")
    var config: String = "sandman.yaml"
}
