import Foundation
import LocalPKI
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// A small real HTTP/1.1 server on loopback for tests: plain or TLS (optionally requiring client
/// certificates), answering through an async handler, counting connections and recording requests.
public final class TestHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// The common name of the client certificate, when one was presented.
        public var clientCommonName: String?
        public var receivedAt: Date

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }
    }

    public enum Reply: Sendable {
        case full(status: Int, headers: [(String, String)] = [], body: [UInt8] = [])
        /// A chunked response: each chunk is written after its delay.
        case chunked(status: Int, headers: [(String, String)] = [], chunks: [(delay: Duration, bytes: [UInt8])])
        /// A chunked response whose body `produce` writes, chunk by chunk, when it decides.
        case streaming(status: Int, headers: [(String, String)] = [], produce: @Sendable (_ write: @Sendable ([UInt8]) async throws -> Void) async throws -> Void)
        /// Closes the connection without answering.
        case drop

        public static func text(_ status: Int, _ body: String, contentType: String = "text/plain") -> Reply {
            .full(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
        }
    }

    public struct TLS: Sendable {
        public var identity: CertificateAuthority.Identity
        /// PEM of the CA that signs acceptable client certificates.
        public var clientTrustRootsPEM: String?
        public var requireClientCertificate: Bool

        public init(identity: CertificateAuthority.Identity, clientTrustRootsPEM: String? = nil, requireClientCertificate: Bool = false) {
            self.identity = identity
            self.clientTrustRootsPEM = clientTrustRootsPEM
            self.requireClientCertificate = requireClientCertificate
        }
    }

    public typealias Handler = @Sendable (Request) async -> Reply

    public let port: Int
    public let scheme: String
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let serving: Task<Void, Never>
    private let counters: Counters

    private final class Counters: Sendable {
        let connections = Atomic<Int>(0)
        let requests = Mutex<[Request]>([])
    }

    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }
    public var connectionCount: Int { counters.connections.load(ordering: .relaxed) }
    public var requests: [Request] { counters.requests.withLock { $0 } }

    public static func start(tls: TLS? = nil, handler: @escaping Handler) async throws -> TestHTTPServer {
        let sslContext = try tls.map(Self.makeSSLContext)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        return TestHTTPServer(channel: channel, scheme: tls == nil ? "http" : "https", handler: handler)
    }

    private init(channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>, scheme: String, handler: @escaping Handler) {
        self.channel = channel
        self.scheme = scheme
        self.port = channel.channel.localAddress?.port ?? 0
        let counters = Counters()
        self.counters = counters
        self.serving = Task {
            try? await channel.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            counters.connections.add(1, ordering: .relaxed)
                            group.addTask { await Self.serve(connection, counters: counters, handler: handler) }
                        }
                    } catch {}
                }
            }
        }
    }

    public func shutdown() async {
        serving.cancel()
        try? await channel.channel.close()
        await serving.value
    }

    private static func makeSSLContext(_ tls: TLS) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(tls.identity.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(tls.identity.privateKeyPEM.utf8), format: .pem))
        )
        if let roots = tls.clientTrustRootsPEM {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(roots.utf8)))
            configuration.certificateVerification = tls.requireClientCertificate ? .noHostnameVerification : .optionalVerification
        }
        return try NIOSSLContext(configuration: configuration)
    }

    private static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, counters: Counters, handler: Handler) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body = []
                case .body(var buffer):
                    body += buffer.readBytes(length: buffer.readableBytes) ?? []
                case .end:
                    guard let requestHead = head else { continue }
                    let commonName = try? await connection.channel.nioSSL_peerCertificate().get()
                        .flatMap { try? Certificate(derEncoded: $0.toDERBytes()) }?.kubernetesIdentity?.user
                    let request = Request(
                        method: requestHead.method.rawValue, uri: requestHead.uri,
                        headers: requestHead.headers.map { ($0.name, $0.value) }, body: body,
                        clientCommonName: commonName, receivedAt: Date()
                    )
                    counters.requests.withLock { $0.append(request) }
                    let reply = await handler(request)
                    if case .drop = reply { return }
                    try await write(reply, keepAlive: requestHead.isKeepAlive, to: outbound)
                    if !requestHead.isKeepAlive { return }
                }
            }
        }
    }

    private static func write(_ reply: Reply, keepAlive: Bool, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        switch reply {
        case .full(let status, let headers, let body):
            var fields = HTTPHeaders(headers)
            fields.replaceOrAdd(name: "Content-Length", value: "\(body.count)")
            fields.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: fields)))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
            try await outbound.write(.end(nil))
        case .chunked(let status, let headers, let chunks):
            var fields = HTTPHeaders(headers)
            fields.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: fields)))
            for chunk in chunks {
                try await Task.sleep(for: chunk.delay)
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: chunk.bytes))))
            }
            try await outbound.write(.end(nil))
        case .streaming(let status, let headers, let produce):
            var fields = HTTPHeaders(headers)
            fields.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: fields)))
            try await produce { bytes in try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes)))) }
            try await outbound.write(.end(nil))
        case .drop:
            return
        }
    }
}
