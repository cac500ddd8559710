import ArgumentParser

@main
struct Sandman: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandman",
        abstract: "Puts Kubernetes workloads to sleep when nobody uses them, across many clusters, from one hub.",
        subcommands: [
            Serve.self, Demo.self, Status.self, Get.self, SleepCommand.self, WakeCommand.self, Operations.self, Overrides.self,
            Audit.self, Token.self, Backup.self, Migrate.self, SlackCommand.self, Sim.self, ConfigCommand.self, Plugins.self, Schedule.self, Release.self,
        ]
    )
}
