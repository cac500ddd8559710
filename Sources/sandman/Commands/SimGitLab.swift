import ArgumentParser
import Foundation
import GitLabSim
import UnixSignals

/// `sandman sim gitlab`: a simulated GitLab with one project loaded from a directory.
struct SimGitLab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gitlab",
        abstract: "Run a simulated GitLab (REST API v4) usable with python-gitlab or curl.",
        discussion: "Loads the directory as the first commit of the project and prints the URL and token. See docs/simulators.md."
    )

    @Option(help: "Directory whose files become the project's first commit.")
    var repo: String?

    @Option(help: "Project path, group/name.")
    var project: String = "platform/deploy"

    @Option(help: "Personal access token to accept (scope api, user root).")
    var token: String = "glpat-sandman-sim"

    // Not --port/--host: `sandman sim` (KubeSim) has those, and a parent command takes its own names.
    @Option(help: "Port to listen on; 0 picks a free one.")
    var gitlabPort: Int = 0

    @Option(help: "Address to listen on.")
    var gitlabHost: String = "127.0.0.1"

    @Option(help: "Seconds GitLab's mergeability check takes after a merge request changes.")
    var mergeCheckDelay: Double = 0.5

    func run() async throws {
        var configuration = GitLabSim.Configuration()
        configuration.host = gitlabHost
        configuration.port = gitlabPort
        configuration.tokens = [token: AccessToken(username: "root")]
        configuration.mergeabilityCheckDelay = .milliseconds(Int64(mergeCheckDelay * 1000))
        let gitlab = try await GitLabSim.start(configuration)
        do {
            if let repo {
                try await gitlab.loadProject(path: project, directory: repo)
            } else {
                try await gitlab.createProject(path: project, files: ["README.md": "# \(project)\n"])
            }
        } catch {
            await gitlab.shutdown()
            printError("\(error)")
            throw ExitCode(1)
        }
        printNow("GitLabSim serving \(gitlab.url)")
        printNow("project: \(project)   token: \(token) (header PRIVATE-TOKEN)")
        printNow("try: curl -H 'PRIVATE-TOKEN: \(token)' \(gitlab.url)/api/v4/projects/\(project.replacingOccurrences(of: "/", with: "%2F"))")
        printNow("Ctrl-C stops it.")
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await gitlab.shutdown()
    }
}
