import ArgumentParser

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start simulated production, staging and dev clusters and a hub against them."
    )

    func run() async throws {
        printError("sandman demo is not part of this build yet (issue 7).")
        throw ExitCode(2)
    }
}
