import ArgumentParser
import Foundation
import Hub

struct SlackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slack",
        abstract: "Try the Slack bot without Slack.",
        subcommands: [Send.self]
    )

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign and post a slash command to a hub as Slack would, and print the replies.",
            discussion: "Example: sandman slack send \"/k8s-wake staging 2h\" --user U0123"
        )

        @Argument(help: "The command line, e.g. \"/k8s-wake staging 2h\".") var command: String
        @Option(help: "Hub URL (default: $SANDMAN_HUB, or http://127.0.0.1:8080).") var hub: String?
        @Option(help: "Signing secret (default: the first of $SANDMAN_SLACK_SIGNING_SECRETS).") var secret: String?
        @Option(help: "Slack user ID.") var user = "U0SANDMAN"
        @Option(help: "Slack user name.") var userName = "sandman-cli"
        @Option(help: "Slack channel ID.") var channel = "C0SANDMAN"
        @Option(help: "Slack channel name.") var channelName = "sandman"
        @Option(help: "Seconds to wait for the follow-up posted when the operation finishes.") var wait = 60

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            guard let secret = secret ?? environment["SANDMAN_SLACK_SIGNING_SECRETS"]?.split(separator: ",").first.map(String.init) else {
                printError("give --secret or set SANDMAN_SLACK_SIGNING_SECRETS (the hub's signing secret)")
                throw ExitCode(1)
            }
            let simulator = SlackCommandSimulator(hub: hub ?? environment["SANDMAN_HUB"] ?? "http://127.0.0.1:8080", secret: secret, user: user, userName: userName, channel: channel, channelName: channelName)
            let result: SlackCommandSimulator.Result
            do {
                result = try await simulator.send(command, wait: .seconds(wait))
            } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
            guard result.status == 200 else {
                printError("hub answered \(result.status): \(result.reply)")
                throw ExitCode(1)
            }
            print(SlackCommandSimulator.text(result.reply))
            for followUp in result.followUps { print(SlackCommandSimulator.text(followUp)) }
        }
    }
}
