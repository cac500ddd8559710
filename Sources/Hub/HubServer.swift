import Config
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Store
import Synchronization

/// The running hub: HTTP server and agents as services of one group, stopped gracefully
/// (in-flight requests finish, agents stop) on SIGTERM/SIGINT or `stop()`.
public final class HubServer: Sendable {
    public let hub: Hub
    /// The Slack endpoints, when commands are enabled.
    public let slack: SlackGateway?
    /// `http://host:port` of the API.
    public let url: String
    private let serving: Task<Void, any Error>
    private let shutdown: Mutex<GracefulShutdownHandle?>

    struct GracefulShutdownHandle: Sendable {
        let group: ServiceGroup
    }

    /// Starts the hub and returns once it listens. With `handleSignals`, SIGTERM and SIGINT stop it.
    public static func start(hub: Hub, plugins: (any PluginStatusProvider)? = nil, slack: SlackGateway? = nil, extraServices: [any Service] = [], handleSignals: Bool = false, logger: Logger) async throws -> HubServer {
        let listen = hub.configuration.listen
        let (started, startedContinuation) = AsyncStream.makeStream(of: Int.self)
        let readiness = Readiness()
        var serverLogger = logger
        serverLogger.logLevel = max(logger.logLevel, .warning)
        let router = HubAPI.router(hub: hub, plugins: plugins, slack: slack, ready: { readiness.isReady })
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in
                startedContinuation.yield(channel.localAddress?.port ?? 0)
                startedContinuation.finish()
                readiness.markReady()
            },
            logger: serverLogger
        )
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: AgentsService(hub: hub))] + extraServices.map { .init(service: $0) },
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: serverLogger
        ))
        let serving = Task {
            // A server that fails to start (a port in use) ends the wait for its port.
            defer { startedContinuation.finish() }
            try await group.run()
        }
        var port: Int?
        for await bound in started { port = bound }
        guard let port, port > 0 else {
            serving.cancel()
            let failure = await serving.result
            throw HubServerError(listening: listen, failure: failure)
        }
        let host = listen.host == "0.0.0.0" ? "127.0.0.1" : listen.host
        logger.info("hub listening", metadata: ["url": "http://\(host):\(port)", "clusters": "\(hub.configuration.clusters.map(\.name))"])
        return HubServer(hub: hub, slack: slack, url: "http://\(host):\(port)", serving: serving, group: group)
    }

    private init(hub: Hub, slack: SlackGateway?, url: String, serving: Task<Void, any Error>, group: ServiceGroup) {
        self.hub = hub
        self.slack = slack
        self.url = url
        self.serving = serving
        self.shutdown = Mutex(GracefulShutdownHandle(group: group))
    }

    /// Stops gracefully and waits for everything to end.
    public func stop() async {
        let handle = shutdown.withLock { handle -> GracefulShutdownHandle? in
            defer { handle = nil }
            return handle
        }
        await handle?.group.triggerGracefulShutdown()
        _ = await serving.result
    }

    /// Stops everything at once without waiting for anything to finish, as a SIGKILL would (for
    /// tests of crash recovery in one process).
    public func kill() {
        serving.cancel()
    }

    /// Waits until the server stops (by signal or `stop()`).
    public func wait() async throws {
        try await serving.value
    }
}

/// The hub could not start serving.
public struct HubServerError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }

    init(reason: String) {
        self.reason = reason
    }

    /// Why listening on `listen` failed, in words: a port in use is said so.
    init(listening listen: HubConfiguration.Listen, failure: Result<Void, any Error>) {
        let address = "\(listen.host):\(listen.port)"
        guard case .failure(let error) = failure else {
            self.init(reason: "could not listen on \(address)")
            return
        }
        if let io = error as? IOError, io.errnoCode == EADDRINUSE {
            self.init(reason: "address \(address) is already in use")
        } else if let io = error as? IOError, io.errnoCode == EACCES {
            self.init(reason: "no permission to listen on \(address)")
        } else {
            self.init(reason: "could not listen on \(address): \(error)")
        }
    }
}

/// Ready once the HTTP server listens (the store is open and plugins loaded before that).
final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)
    var isReady: Bool { ready.load(ordering: .relaxed) }
    func markReady() { ready.store(true, ordering: .relaxed) }
}

/// The agents as a service. On graceful shutdown they finish the operations under way (up
/// to `drainDeadline`), then stop.
struct AgentsService: Service {
    let hub: Hub
    var drainDeadline: Duration = .seconds(30)

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await hub.run() }
            group.addTask {
                guard (try? await gracefulShutdown()) != nil else { return }
                await hub.drain()
                try? await Task.sleep(for: drainDeadline)
            }
            await group.next()
            group.cancelAll()
        }
    }
}
