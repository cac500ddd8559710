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
    public static func start(
        configuration: HubConfiguration, clock: any HubClock, handleSignals: Bool, logger: Logger,
        agentSettings: ClusterAgent.Settings = .init(), makeClient: ((ClusterConfiguration) throws -> KubeClient)? = nil,
        store given: Store? = nil
    ) async throws -> HubServer {
        let store = try given ?? Store(path: configuration.database)
        let plugins = PluginHost(
            configuration: .init(
                directory: configuration.plugins.directory, callTimeout: configuration.plugins.callTimeout,
                memoryLimitBytes: configuration.plugins.memoryLimitBytes, reloadInterval: configuration.plugins.reloadInterval
            ),
            clock: { clock.now }, logger: logger
        )
        // Plugins are loaded before the hub says it is ready.
        await plugins.reload()
        let delivery = SlackDelivery(settings: configuration.slack, store: store, clock: clock, logger: logger)
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
        if let gateway { services.append(BackgroundService { await gateway.followUps.run() }) }
        let server = try await HubServer.start(hub: hub, plugins: plugins, slack: gateway, extraServices: services, handleSignals: handleSignals, logger: logger)
        hub.gitops?.setHubURL(server.url)
        return server
    }
}

/// Work that runs for the life of the server and stops at graceful shutdown.
struct BackgroundService: Service {
    let body: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}
