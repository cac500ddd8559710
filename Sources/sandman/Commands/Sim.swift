import ArgumentParser

struct Sim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run a simulated Kubernetes API server (KubeSim) usable with kubectl."
    )

    func run() async throws {
        printError("sandman sim is not part of this build yet (issue 3).")
        throw ExitCode(2)
    }
}
