import Foundation
import LocalPKI
import TestSupport
import Testing
@testable import Transport

@Suite("HTTPClient over real sockets", .awaitingCleanup)
struct HTTPClientTests {
    static let authority = try! CertificateAuthority(commonName: "transport-test-ca")

    private func echoServer(tls: TestHTTPServer.TLS? = nil) async throws -> TestHTTPServer {
        try await TestHTTPServer.start(tls: tls) { request in
            let summary = [
                "method": request.method,
                "uri": request.uri,
                "authorization": request.header("Authorization") ?? "",
                "contentType": request.header("Content-Type") ?? "",
                "bodyBytes": "\(request.body.count)",
                "client": request.clientCommonName ?? "",
            ]
            let json = try! JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
            return .full(status: 200, headers: [("Content-Type", "application/json"), ("X-Echo", "yes")], body: Array(json))
        }
    }

    private func decode(_ response: HTTPResponse) throws -> [String: String] {
        try #require(JSONSerialization.jsonObject(with: response.body) as? [String: String])
    }

    @Test func plainRequestCarriesMethodHeadersAndBody() async throws {
        let server = try await echoServer()
        defer { afterTest { await server.shutdown() } }
        let client = HTTPClient()
        let response = try await client.send(HTTPRequest(
            method: .patch, url: server.baseURL + "/apis/x?dryRun=All",
            headers: ["Authorization": "Bearer secret-token", "Content-Type": "application/merge-patch+json"],
            body: Data(#"{"spec":{"replicas":0}}"#.utf8)
        ))
        #expect(response.status == 200)
        #expect(response.headers["x-echo"] == "yes")
        let echo = try decode(response)
        #expect(echo["method"] == "PATCH")
        #expect(echo["uri"] == "/apis/x?dryRun=All")
        #expect(echo["authorization"] == "Bearer secret-token")
        #expect(echo["contentType"] == "application/merge-patch+json")
        #expect(echo["bodyBytes"] == "23")
    }

    @Test func errorStatusesAreResponsesNotErrors() async throws {
        let server = try await TestHTTPServer.start { _ in .text(404, #"{"kind":"Status","code":404}"#) }
        defer { afterTest { await server.shutdown() } }
        let response = try await HTTPClient().send(HTTPRequest(url: server.baseURL + "/missing"))
        #expect(response.status == 404)
        #expect(String(decoding: response.body, as: UTF8.self).contains("\"code\":404"))
    }

    @Test func tlsWithTheRightCASucceedsAndTheWrongCAFails() async throws {
        let identity = try Self.authority.issueServerCertificate()
        let server = try await echoServer(tls: .init(identity: identity))
        defer { afterTest { await server.shutdown() } }

        let trusted = HTTPClient(configuration: .init(tls: .init(trustRoots: Data(Self.authority.certificatePEM.utf8))))
        #expect(try await trusted.send(HTTPRequest(url: server.baseURL + "/ok")).status == 200)

        let otherAuthority = try CertificateAuthority(commonName: "someone-else")
        let untrusted = HTTPClient(configuration: .init(tls: .init(trustRoots: Data(otherAuthority.certificatePEM.utf8))))
        let error = await #expect(throws: TransportError.self) {
            try await untrusted.send(HTTPRequest(url: server.baseURL + "/ok"))
        }
        #expect(error?.reason == .tls)

        let systemRoots = HTTPClient()
        let systemError = await #expect(throws: TransportError.self) {
            try await systemRoots.send(HTTPRequest(url: server.baseURL + "/ok"))
        }
        #expect(systemError?.reason == .tls)

        let unverified = HTTPClient(configuration: .init(tls: .init(verifyPeer: false)))
        #expect(try await unverified.send(HTTPRequest(url: server.baseURL + "/ok")).status == 200)
    }

    @Test func clientCertificateIsRequiredAndPresented() async throws {
        let identity = try Self.authority.issueServerCertificate()
        let server = try await echoServer(tls: .init(identity: identity, clientTrustRootsPEM: Self.authority.certificatePEM, requireClientCertificate: true))
        defer { afterTest { await server.shutdown() } }
        let roots = Data(Self.authority.certificatePEM.utf8)

        let anonymous = HTTPClient(configuration: .init(tls: .init(trustRoots: roots)))
        await #expect(throws: TransportError.self) {
            try await anonymous.send(HTTPRequest(url: server.baseURL + "/who"))
        }

        let user = try Self.authority.issueClientCertificate(user: "jane", groups: ["system:masters"])
        let authenticated = HTTPClient(configuration: .init(tls: .init(
            trustRoots: roots, clientCertificate: Data(user.certificatePEM.utf8), clientKey: Data(user.privateKeyPEM.utf8)
        )))
        let response = try await authenticated.send(HTTPRequest(url: server.baseURL + "/who"))
        #expect(try decode(response)["client"] == "jane")
    }

    @Test func serverNameOverrideVerifiesAgainstThatName() async throws {
        let identity = try Self.authority.issueServerCertificate(commonName: "api.internal", dnsNames: ["api.internal"], ipAddresses: [])
        let server = try await echoServer(tls: .init(identity: identity))
        defer { afterTest { await server.shutdown() } }
        let roots = Data(Self.authority.certificatePEM.utf8)

        let byAddress = HTTPClient(configuration: .init(tls: .init(trustRoots: roots)))
        let mismatch = await #expect(throws: TransportError.self) {
            try await byAddress.send(HTTPRequest(url: server.baseURL + "/"))
        }
        #expect(mismatch?.reason == .tls)

        let byName = HTTPClient(configuration: .init(tls: .init(trustRoots: roots, serverName: "api.internal")))
        #expect(try await byName.send(HTTPRequest(url: server.baseURL + "/")).status == 200)
    }

    @Test func oneMebibyteBodiesTravelBothWays() async throws {
        let server = try await TestHTTPServer.start { request in
            .full(status: 200, body: request.body.reversed())
        }
        defer { afterTest { await server.shutdown() } }
        let payload = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let response = try await HTTPClient().send(HTTPRequest(method: .put, url: server.baseURL + "/big", body: payload))
        #expect(response.body.count == payload.count)
        #expect(response.body == Data(payload.reversed()))
    }

    @Test func chunkedResponseIsDeliveredLineByLineAsItArrives() async throws {
        // The server writes the last chunk only once the client has read the second line, so
        // the test finishes only if lines are delivered as they arrive.
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let server = try await TestHTTPServer.start { _ in
            .streaming(status: 200, headers: [("Content-Type", "application/json")]) { write in
                try await write(Array("{\"type\":\"ADDED\"}\n{\"ty".utf8))
                try await write(Array("pe\":\"MODIFIED\"}\r\n".utf8))
                for await _ in gate { break }
                try await write(Array("{\"type\":\"DELETED\"}\nlast-without-newline".utf8))
            }
        }
        defer { afterTest { await server.shutdown() } }
        let response = try await HTTPClient().stream(HTTPRequest(url: server.baseURL + "/watch"))
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        let reader = Task {
            var lines: [String] = []
            for try await line in response.lines {
                lines.append(String(decoding: line, as: UTF8.self))
                if lines.count == 2 { open.yield() }
            }
            return lines
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            reader.cancel()
        }
        let lines = try await reader.value
        timeout.cancel()
        #expect(lines == [#"{"type":"ADDED"}"#, #"{"type":"MODIFIED"}"#, #"{"type":"DELETED"}"#, "last-without-newline"])
    }

    @Test func totalTimeoutEndsASlowRequest() async throws {
        let server = try await TestHTTPServer.start { _ in
            try? await Task.sleep(for: .seconds(300))
            return .text(200, "late")
        }
        defer { afterTest { await server.shutdown() } }
        let client = HTTPClient(configuration: .init(timeout: .milliseconds(200)))
        let start = ContinuousClock.now
        let error = await #expect(throws: TransportError.self) {
            try await client.send(HTTPRequest(url: server.baseURL + "/slow"))
        }
        #expect(error?.reason == .timeout)
        // Far sooner than the server would answer, however loaded the machine.
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    @Test func cancellingTheTaskCancelsTheTransfer() async throws {
        let server = try await TestHTTPServer.start { _ in
            try? await Task.sleep(for: .seconds(300))
            return .text(200, "late")
        }
        defer { afterTest { await server.shutdown() } }
        let client = HTTPClient()
        let start = ContinuousClock.now
        let task = Task { try await client.send(HTTPRequest(url: server.baseURL + "/hang")) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let result = await task.result
        #expect(throws: TransportError.self) { try result.get() }
        #expect((try? result.get()) == nil)
        if case .failure(let error as TransportError) = result { #expect(error.reason == .cancelled) }
        // Far sooner than the server would answer, however loaded the machine.
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    @Test func abandoningAStreamCancelsIt() async throws {
        let server = try await TestHTTPServer.start { _ in
            .chunked(status: 200, chunks: [(.zero, Array("first\n".utf8)), (.seconds(300), Array("never\n".utf8))])
        }
        defer { afterTest { await server.shutdown() } }
        let start = ContinuousClock.now
        let task = Task {
            let response = try await HTTPClient().stream(HTTPRequest(url: server.baseURL + "/watch"))
            var seen: [String] = []
            for try await line in response.lines { seen.append(String(decoding: line, as: UTF8.self)) }
            return seen
        }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        _ = await task.result
        // Far sooner than the server would answer, however loaded the machine.
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try await echoServer()
        defer { afterTest { await server.shutdown() } }
        let client = HTTPClient()
        for index in 0..<200 {
            let response = try await client.send(HTTPRequest(url: server.baseURL + "/n/\(index)"))
            #expect(response.status == 200)
        }
        #expect(server.requests.count == 200)
        #expect(server.connectionCount <= 2)
    }

    @Test func aBurstOfAThousandRequestsStaysWithinTheConnectionLimit() async throws {
        let server = try await echoServer()
        defer { afterTest { await server.shutdown() } }
        // Queued requests count against the timeout; a loaded machine may take minutes for a thousand.
        let client = HTTPClient(configuration: .init(timeout: .seconds(600), maxConnectionsPerHost: 8))
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<1000 {
                group.addTask { try await client.send(HTTPRequest(url: server.baseURL + "/burst/\(index)")).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.count == 1000)
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(server.connectionCount <= 8)
    }

    @Test func httpProxyReceivesTheAbsoluteURL() async throws {
        let proxy = try await echoServer()
        defer { afterTest { await proxy.shutdown() } }
        let client = HTTPClient(configuration: .init(proxy: proxy.baseURL))
        let response = try await client.send(HTTPRequest(url: "http://cluster.example.invalid:6443/version"))
        #expect(try decode(response)["uri"] == "http://cluster.example.invalid:6443/version")
    }

    @Test func unreachableAndInvalidTargetsGiveTypedErrors() async throws {
        let client = HTTPClient(configuration: .init(connectTimeout: .seconds(2)))
        let refused = await #expect(throws: TransportError.self) {
            try await client.send(HTTPRequest(url: "http://127.0.0.1:1/"))
        }
        #expect(refused?.reason == .connect)

        let invalid = await #expect(throws: TransportError.self) {
            try await client.send(HTTPRequest(url: "ftp://example/"))
        }
        #expect(invalid?.reason == .invalidRequest)

        let injected = await #expect(throws: TransportError.self) {
            try await client.send(HTTPRequest(url: "http://127.0.0.1:1/", headers: ["X-Evil": "a\r\nHost: other"]))
        }
        #expect(injected?.reason == .invalidRequest)
    }

    @Test func requestsAfterShutdownAreRefused() async throws {
        let client = HTTPClient()
        client.shutdown()
        let error = await #expect(throws: TransportError.self) {
            try await client.send(HTTPRequest(url: "http://127.0.0.1:1/"))
        }
        #expect(error?.reason == .shutdown)
    }
}

@Suite("LineSplitter", .awaitingCleanup)
struct LineSplitterTests {
    @Test(arguments: [
        (["a\nb\n"], ["a", "b"]),
        (["a", "b\n", "c"], ["ab", "c"]),
        (["\n\n"], ["", ""]),
        (["x\r\n", "y\r", "\n"], ["x", "y"]),
        ([""], []),
        (["no newline"], ["no newline"]),
    ] as [([String], [String])])
    func splits(chunks: [String], expected: [String]) {
        var splitter = LineSplitter()
        var lines: [String] = []
        for chunk in chunks {
            let bytes = Array(chunk.utf8)
            lines += bytes.withUnsafeBytes { splitter.feed($0) }.map { String(decoding: $0, as: UTF8.self) }
        }
        if let last = splitter.finish() { lines.append(String(decoding: last, as: UTF8.self)) }
        #expect(lines == expected)
    }
}
