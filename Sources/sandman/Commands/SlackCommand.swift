import ArgumentParser
import Foundation
import Hub

struct SlackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slack",
        abstract: "Try the Slack bot without Slack.",
        subcommands: [Send.self, Click.self]
    )

    /// Who Slack would say is asking, and where; how to reach and sign for the hub.
    struct Identity: ParsableArguments {
        @Option(help: "Hub URL (default: $SANDMAN_HUB, or http://127.0.0.1:8080).") var hub: String?
        @Option(help: "Signing secret (default: the first of $SANDMAN_SLACK_SIGNING_SECRETS).") var secret: String?
        @Option(help: "Slack user ID.") var user = "U0SANDMAN"
        @Option(help: "Slack user name.") var userName = "sandman-cli"
        @Option(help: "Slack channel ID.") var channel = "C0SANDMAN"
        @Option(help: "Slack channel name.") var channelName = "sandman"

        func simulator() throws -> SlackCommandSimulator {
            let environment = ProcessInfo.processInfo.environment
            guard let secret = secret ?? environment["SANDMAN_SLACK_SIGNING_SECRETS"]?.split(separator: ",").first.map(String.init) else {
                printError("give --secret or set SANDMAN_SLACK_SIGNING_SECRETS (the hub's signing secret)")
                throw ExitCode(1)
            }
            return SlackCommandSimulator(
                hub: hub ?? environment["SANDMAN_HUB"] ?? "http://127.0.0.1:8080", secret: secret, user: user, userName: userName,
                channel: channel, channelName: channelName
            )
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign and post a slash command to a hub as Slack would, and print the replies.",
            discussion: """
                Prints the immediate reply; when it starts operations, waits (up to --wait seconds) for \
                their results on a local response_url and prints them too. \
                Example: sandman slack send "/k8s-wake staging payments 2h" --user U0123
                """
        )

        @Argument(help: "The command line, e.g. \"/k8s-wake staging payments 2h\".") var command: String
        @OptionGroup var identity: Identity
        @Option(help: "Seconds to wait for the results of the operations the command starts.") var wait = 60

        func run() async throws {
            let simulator = try identity.simulator()
            try await report { try await simulator.send(command, wait: .seconds(wait)) }
        }
    }

    struct Click: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Click a button of a Sandman message as Slack would, and print the reply.",
            discussion: "Example (the demo prints these with its pre-sleep warnings): sandman slack click keep_awake_1h staging/payments"
        )

        @Argument(help: "The button's action ID: keep_awake_1h or keep_awake_tomorrow.") var action: String
        @Argument(help: "The button's value: <cluster>/<namespace>[,<namespace>...] or <cluster>.") var value: String
        @OptionGroup var identity: Identity
        @Option(help: "Seconds to wait for the hub's answer.") var wait = 10

        func run() async throws {
            let simulator = try identity.simulator()
            try await report { try await simulator.click(actionID: action, value: value, wait: .seconds(wait)) }
        }
    }
}

/// Prints what the hub answered; exit 1 when it refused the request.
private func report(_ exchange: () async throws -> SlackCommandSimulator.Result) async throws {
    let result: SlackCommandSimulator.Result
    do {
        result = try await exchange()
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
    guard result.status == 200 else {
        printError("hub answered \(result.status): \(result.reply)")
        throw ExitCode(1)
    }
    if result.reply != .null { print(SlackCommandSimulator.text(result.reply)) }
    for followUp in result.followUps { print(SlackCommandSimulator.text(followUp)) }
}
