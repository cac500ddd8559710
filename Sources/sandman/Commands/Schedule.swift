import ArgumentParser

struct Schedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Explain a sleep schedule: its next transitions and the state at a given time."
    )

    func run() async throws {
        printError("sandman schedule is not part of this build yet (issue  its next transitions and the state at a given time.:6).")
        throw ExitCode(2)
    }
}
