import ArgumentParser
import Hub
import Logging

/// Options every command that runs hub code accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Log format: text or json.")
    var logFormat: LogFormat = .text

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical. (default: info; warning for commands that print a report)")
    var logLevel: Logger.Level?

    /// `quietLevel`: the default of a command whose report already says what the log would.
    func bootstrapLogging(quietLevel: Logger.Level = .info) {
        logFormat.bootstrap(level: logLevel ?? quietLevel)
    }
}

extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// The hub configuration file option.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Hub configuration file.")
    var config: String = "sandman.yaml"
}
