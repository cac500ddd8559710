import ArgumentParser

struct Plugins: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List, lint and test the Lua plugins."
    )

    func run() async throws {
        printError("sandman plugins is not part of this build yet (issue 5).")
        throw ExitCode(2)
    }
}
