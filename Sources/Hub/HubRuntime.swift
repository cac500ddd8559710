import Config
import Foundation
import Logging
import Kube
import Store

/// Assembles a hub from its configuration: the store, the agents, the plugins, the server.
/// The same factory serves `sandman serve`, `sandman demo` and the end-to-end tests.
public enum HubRuntime {
    public static func start(
        configuration: HubConfiguration, clock: any HubClock, handleSignals: Bool, logger: Logger,
        agentSettings: ClusterAgent.Settings = .init(), makeClient: ((ClusterConfiguration) throws -> KubeClient)? = nil
    ) async throws -> HubServer {
        let store = try Store(path: configuration.database)
        let hub = try Hub(
            configuration: configuration, store: store, clock: clock, agentSettings: agentSettings, logger: logger,
            makeClient: makeClient ?? ClusterClients.client
        )
        return try await HubServer.start(hub: hub, handleSignals: handleSignals, logger: logger)
    }
}
