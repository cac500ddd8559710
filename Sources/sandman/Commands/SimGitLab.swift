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

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 0

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Seconds GitLab's mergeability check takes after a merge request changes.")
    var mergeCheckDelay: Double = 0.5

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        global.bootstrapLogging()
        var configuration = GitLabSim.Configuration()
        configuration.host = host
        configuration.port = port
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
        print("GitLabSim serving \(gitlab.url)")
        print("project: \(project)   token: \(token) (header PRIVATE-TOKEN)")
        print("try: curl -H 'PRIVATE-TOKEN: \(token)' \(gitlab.url)/api/v4/projects/\(project.replacingOccurrences(of: "/", with: "%2F"))")
        print("Ctrl-C stops it.")
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { break }
        await gitlab.shutdown()
    }
}
