import Hummingbird
import Logging
import NIOCore

/// Hummingbird's request context plus the connection, so a simulator can cut it on purpose.
public struct ConnectionContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// A response whose head goes out before the connection closes: the client sees it cut.
    public func cutResponse() -> Response {
        let channel = self.channel
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { _ in try await channel.close() })
    }
}

/// Starts a plain-HTTP simulator on loopback and returns once it accepts connections.
public enum SimulatorServer {
    public struct Running: Sendable {
        public var url: String
        public var port: Int
        public var task: Task<Void, any Error>
    }

    public struct CouldNotStart: Error, CustomStringConvertible {
        public var description: String
    }

    public static func start<Responder: HTTPResponder>(_ responder: Responder, host: String, port: Int, logger: Logger) async throws -> Running
    where Responder.Context == ConnectionContext {
        // Hummingbird reports its own cancellation at shutdown as an error; keep the server quiet.
        var quietLogger = logger
        quietLogger.logLevel = .critical
        let (started, startedContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                startedContinuation.yield(channel.localAddress?.port ?? 0)
                startedContinuation.finish()
            },
            logger: quietLogger
        )
        let task = Task { try await app.run() }
        var boundPort: Int?
        for await port in started { boundPort = port }
        guard let boundPort, boundPort > 0 else {
            task.cancel()
            _ = await task.result
            throw CouldNotStart(description: "no port bound on \(host):\(port)")
        }
        let printable = host.contains(":") ? "[\(host)]" : host
        return Running(url: "http://\(printable):\(boundPort)", port: boundPort, task: task)
    }
}
