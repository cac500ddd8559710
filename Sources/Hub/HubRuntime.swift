import Config
import Foundation
import Kube
import Logging
import Scripting
import ServiceLifecycle
import Store

/// Assembles a hub from its configuration: the store, the plugins, the agents, Slack, the
/// server. The same factory serves `sandman serve`, `sandman demo` and the end-to-end tests.
public enum HubRuntime {
    /// `console`: where Slack messages go when Slack is not configured (the demo prints them).
    public static func start(
        configuration: HubConfiguration, clock: any HubClock, handleSignals: Bool, logger: Logger,
        agentSettings: ClusterAgent.Settings = .init(), makeClient: ((ClusterConfiguration) throws -> KubeClient)? = nil,
        store given: Store? = nil, console: (@Sendable (String) -> Void)? = nil
    ) async throws -> HubServer {
        let store = if let given { given } else { try await Store(location: configuration.database, logger: logger) }
        let bootstrap = try await APITokens.installBootstrap(secret: configuration.bootstrapToken, in: store, now: clock.now)
        if bootstrap != .unchanged {
            logger.notice("bootstrap admin token", metadata: ["token.id": "\(APITokens.bootstrapID)", "change": "\(bootstrap.rawValue)"])
            try await store.record(AuditEntry(
                at: clock.now, actor: "deploy", source: "environment", action: "token-bootstrap", target: APITokens.bootstrapID,
                result: bootstrap.rawValue, detail: "from \(ConfigLoader.Environment.bootstrapToken)"
            ))
        }
        let plugins = PluginHost(
            configuration: .init(
                directory: configuration.plugins.directory, callTimeout: configuration.plugins.callTimeout,
                memoryLimitBytes: configuration.plugins.memoryLimitBytes, reloadInterval: configuration.plugins.reloadInterval
            ),
            clock: { clock.now }, logger: logger
        )
        // Plugins are loaded before the hub says it is ready.
        await plugins.reload()
        if let problem = PluginLayoutCheck.problem(directory: configuration.plugins.directory, statuses: plugins.statuses()) {
            throw HubServerError(reason: problem)
        }
        let delivery = SlackDelivery(settings: configuration.slack, store: store, clock: clock, logger: logger, console: console)
        for warning in startupWarnings(configuration.slack, console: console != nil) { logger.warning("\(warning)") }
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let notifier = SlackNotifier(configuration: configuration, plugins: plugins, delivery: delivery, clock: clock, logger: logger)
        let hub = try Hub(
            configuration: configuration, store: store, clock: clock, policy: PluginAdvisor(host: plugins),
            events: [notifier], agentSettings: agentSettings, logger: logger,
            makeClient: makeClient ?? ClusterClients.client
        )
        let gateway = configuration.slack.commandsEnabled ? SlackGateway(hub: hub, plugins: plugins, delivery: delivery, logger: logger) : nil
        var services: [any Service] = [
            BackgroundService { try? await plugins.run() },
            BackgroundService { await delivery.run() },
            BackgroundService { await notifier.run(hub: hub) },
            BackgroundService { await PluginMetricsSync(host: plugins, metrics: hub.metrics, interval: configuration.plugins.reloadInterval).run() },
        ]
        if let gateway {
            services.append(BackgroundService { await gateway.followUps.run() })
            services.append(BackgroundService { await gateway.mentions.run() })
        }
        let server = try await HubServer.start(hub: hub, plugins: plugins, slack: gateway, extraServices: services, handleSignals: handleSignals, logger: logger)
        hub.gitops?.setHubURL(server.url)
        return server
    }
}

extension HubRuntime {
    /// What a hub started with these Slack settings will not do, said at start rather than found
    /// out later: notifications with nowhere to go, mentions that cannot be answered.
    public static func startupWarnings(_ slack: HubConfiguration.Slack, console: Bool) -> [String] {
        var warnings: [String] = []
        if !slack.notificationsEnabled {
            warnings.append(console
                ? "Slack notifications are printed on this console: no slack.botToken (SANDMAN_SLACK_BOT_TOKEN) or slack.webhookURL (SANDMAN_SLACK_WEBHOOK_URL) is set"
                : "Slack notifications are off: set slack.botToken (SANDMAN_SLACK_BOT_TOKEN) or slack.webhookURL (SANDMAN_SLACK_WEBHOOK_URL) to send them")
        }
        if !slack.commandsEnabled {
            warnings.append("Slack commands are off: no slack.signingSecrets (SANDMAN_SLACK_SIGNING_SECRETS); /slack/* is not served")
        } else if slack.botToken == nil {
            warnings.append("mentions of the bot cannot be answered without slack.botToken (SANDMAN_SLACK_BOT_TOKEN); slash commands work")
        }
        return warnings
    }
}

/// Work that runs for the life of the server and stops at graceful shutdown.
struct BackgroundService: Service {
    let body: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}
