import Foundation
import Hummingbird
import JSON
import NIOCore
import Transport

/// `sandman slack send`: signs a slash command exactly as Slack does, posts it to a hub, and
/// listens on a local `response_url` for the follow-ups.
public struct SlackCommandSimulator: Sendable {
    public var hub: String
    public var secret: String
    public var user: String
    public var userName: String
    public var channel: String
    public var channelName: String

    public init(hub: String, secret: String, user: String, userName: String, channel: String, channelName: String) {
        self.hub = hub
        self.secret = secret
        self.user = user
        self.userName = userName
        self.channel = channel
        self.channelName = channelName
    }

    public struct Result: Sendable {
        public var status: Int
        public var reply: JSONValue
        public var followUps: [JSONValue]
    }

    /// Sends `/command text` and waits up to `wait` for the first follow-up.
    public func send(_ line: String, wait: Duration) async throws -> Result {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard let command = parts.first, command.hasPrefix("/") else {
            throw HubClientError(status: 0, code: "usage", message: "a slash command starts with /, e.g. \"/k8s-wake staging 2h\"", field: nil)
        }
        let (received, sink) = AsyncStream.makeStream(of: JSONValue.self)
        let router = Router()
        router.post("response") { request, _ -> HTTPResponse.Status in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            sink.yield((try? JSONValue(parsing: Data(buffer.readableBytesView))) ?? .string(String(buffer: buffer)))
            return .ok
        }
        let (port, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
            portSink.yield(channel.localAddress?.port ?? 0)
            portSink.finish()
        })
        let listener = Task { try await app.run() }
        defer { listener.cancel() }
        var listening = 0
        for await value in port { listening = value }

        let body = FormBody.encode([
            ("token", "unused"), ("team_id", "T0SANDMAN"), ("team_domain", "sandman"), ("channel_id", channel), ("channel_name", channelName),
            ("user_id", user), ("user_name", userName), ("command", command), ("text", parts.count > 1 ? parts[1] : ""),
            ("api_app_id", "A0SANDMAN"), ("response_url", "http://127.0.0.1:\(listening)/response"), ("trigger_id", UUID().uuidString),
        ])
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let response = try await HTTPClient().send(Transport.HTTPRequest(
            method: .post, url: hub + "/slack/commands",
            headers: [
                "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": SlackVerifier.signature(secret: secret, timestamp: timestamp, body: body),
            ],
            body: body
        ))
        let reply = (try? JSONValue(parsing: response.body)) ?? .string(String(decoding: response.body, as: UTF8.self))
        var followUps: [JSONValue] = []
        if response.status == 200, wait > .zero {
            let timer = Task {
                try? await Task.sleep(for: wait)
                sink.finish()
            }
            for await message in received {
                followUps.append(message)
                break
            }
            timer.cancel()
        }
        return Result(status: response.status, reply: reply, followUps: followUps)
    }

    /// The text people would see for a Slack message.
    public static func text(_ message: JSONValue) -> String {
        if let text = message["text"]?.string, !text.isEmpty { return text }
        return (message["blocks"]?.array ?? []).compactMap { $0[path: ["text", "text"]]?.string }.joined(separator: "\n")
    }
}
