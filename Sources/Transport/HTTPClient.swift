import Foundation

/// An HTTP/1.1 and HTTP/2 client over libcurl, used for every outbound call of the hub.
///
/// One client owns one libcurl multi handle driven by its own thread, so blocking network work
/// never runs on Swift's cooperative pool, and connections are kept and reused between requests.
/// Create one client per remote service (one per cluster) and share it.
///
/// ```swift
/// let client = HTTPClient(configuration: .init(tls: .init(trustRoots: caPEM)))
/// let response = try await client.send(HTTPRequest(url: "https://10.0.0.1:6443/version"))
/// ```
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var tls: TLSConfiguration
        /// `http://`, `https://`, `socks5://` or `socks5h://` proxy URL.
        public var proxy: String?
        public var connectTimeout: Duration
        /// Total time allowed for one request, unless the request says otherwise.
        public var timeout: Duration
        /// Connections kept open to one host; further concurrent requests queue for them.
        public var maxConnectionsPerHost: Int
        public var userAgent: String

        public init(
            tls: TLSConfiguration = .init(),
            proxy: String? = nil,
            connectTimeout: Duration = .seconds(10),
            timeout: Duration = .seconds(60),
            maxConnectionsPerHost: Int = 16,
            userAgent: String = "sandman"
        ) {
            self.tls = tls
            self.proxy = proxy
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.userAgent = userAgent
        }
    }

    public let configuration: Configuration
    private let loop: CurlLoop

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.loop = CurlLoop(maxConnectionsPerHost: configuration.maxConnectionsPerHost)
    }

    deinit {
        loop.shutdown()
    }

    /// Sends `request` and reads the whole response body.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let transfer = try CurlTransfer(request: request, configuration: configuration, streaming: false)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.onResponse = { continuation.resume(with: $0) }
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// Sends `request` and returns as soon as the response head has arrived; the body follows
    /// line by line in `lines`.
    public func stream(_ request: HTTPRequest) async throws -> HTTPStreamingResponse {
        let transfer = try CurlTransfer(request: request, configuration: configuration, streaming: true)
        let (lines, lineSink) = AsyncThrowingStream.makeStream(of: Data.self)
        transfer.lineSink = lineSink
        // Holding the client here keeps it alive for as long as its stream is read.
        lineSink.onTermination = { _ in self.loop.cancel(transfer) }
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                transfer.onHead = { continuation.resume(with: $0) }
                loop.submit(transfer)
            }
        } onCancel: {
            loop.cancel(transfer)
        }
        return HTTPStreamingResponse(status: head.status, headers: head.headers, lines: lines)
    }

    /// Fails every request in flight and stops the client's thread. Called on deinit as well.
    public func shutdown() {
        loop.shutdown()
    }
}
