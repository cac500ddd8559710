import ArgumentParser

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every cluster's health and sleep state, from a running hub."
    )

    func run() async throws {
        printError("sandman status is not part of this build yet (issue 7).")
        throw ExitCode(2)
    }
}
