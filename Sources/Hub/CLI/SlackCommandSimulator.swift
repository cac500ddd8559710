import Foundation
import Hummingbird
import Logging
import JSON
import NIOCore
import ServiceLifecycle
import Synchronization
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

    /// Sends `/command text`. When the reply announces operations (its `metadata`), waits up to
    /// `wait` for their follow-ups, one per operation; otherwise returns at once. With `linger`,
    /// keeps listening that long after the last one expected, so a duplicate would be seen.
    public func send(_ line: String, wait: Duration, linger: Duration = .zero) async throws -> Result {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard let command = parts.first, command.hasPrefix("/") else {
            throw HubClientError(status: 0, code: "usage", message: "a slash command starts with /, e.g. \"/k8s-wake staging payments 2h\"", field: nil)
        }
        return try await withResponseURL { responseURL, received in
            let body = FormBody.encode([
                ("token", "unused"), ("team_id", "T0SANDMAN"), ("team_domain", "sandman"), ("channel_id", channel), ("channel_name", channelName),
                ("user_id", user), ("user_name", userName), ("command", command), ("text", parts.count > 1 ? parts[1] : ""),
                ("api_app_id", "A0SANDMAN"), ("response_url", responseURL), ("trigger_id", UUID().uuidString),
            ])
            let (status, reply) = try await post(body, to: "/slack/commands")
            let announced = reply[path: ["metadata", "event_payload", "operations"]]?.array?.count ?? 0
            let followUps = status == 200 ? await collect(announced, from: received, within: wait, linger: linger) : []
            return Result(status: status, reply: reply, followUps: followUps)
        }
    }

    /// Clicks a button of a Sandman message (`keep_awake_1h` with value `staging/payments`): posts
    /// the `block_actions` payload Slack would, and returns what the hub posts back.
    public func click(actionID: String, value: String, wait: Duration, linger: Duration = .zero) async throws -> Result {
        try await withResponseURL { responseURL, received in
            let payload: JSONValue = [
                "type": "block_actions", "user": ["id": .string(user), "username": .string(userName)], "channel": ["id": .string(channel)],
                "trigger_id": .string(UUID().uuidString), "response_url": .string(responseURL),
                "actions": [["action_id": .string(actionID), "value": .string(value), "block_id": "sandman_pre_sleep", "type": "button"]],
            ]
            let (status, reply) = try await post(FormBody.encode([("payload", payload.serialized())]), to: "/slack/interactions")
            let followUps = status == 200 ? await collect(1, from: received, within: wait, linger: linger) : []
            return Result(status: status, reply: reply, followUps: followUps)
        }
    }

    /// Signs `body` as Slack does and posts it to the hub.
    private func post(_ body: Data, to path: String) async throws -> (Int, JSONValue) {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let response = try await HTTPClient().send(Transport.HTTPRequest(
            method: .post, url: hub + path,
            headers: [
                "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": SlackVerifier.signature(secret: secret, timestamp: timestamp, body: body),
            ],
            body: body
        ))
        let reply = response.body.isEmpty ? JSONValue.null : (try? JSONValue(parsing: response.body)) ?? .string(String(decoding: response.body, as: UTF8.self))
        return (response.status, reply)
    }

    /// `count` messages (or fewer, when `wait` runs out first), then whatever else arrives
    /// within `linger`.
    private func collect(_ count: Int, from received: AsyncStream<JSONValue>, within wait: Duration, linger: Duration) async -> [JSONValue] {
        guard count > 0, wait > .zero else { return [] }
        let messages = Mutex<[JSONValue]>([])
        let listener = Task {
            for await message in received { messages.withLock { $0.append(message) } }
        }
        let clock = ContinuousClock()
        let deadline = clock.now + wait
        while messages.withLock({ $0.count }) < count, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if messages.withLock({ $0.count }) >= count, linger > .zero { try? await Task.sleep(for: linger) }
        listener.cancel()
        return messages.withLock { $0 }
    }

    /// Runs `body` with a local `response_url` listening, stopped gracefully afterwards.
    private func withResponseURL<T: Sendable>(_ body: (String, AsyncStream<JSONValue>) async throws -> T) async throws -> T {
        let (received, sink) = AsyncStream.makeStream(of: JSONValue.self)
        let router = Router()
        router.post("response") { request, _ -> HTTPResponse.Status in
            var request = request
            let buffer = try await request.collectBody(upTo: 1 << 20)
            sink.yield((try? JSONValue(parsing: Data(buffer.readableBytesView))) ?? .string(String(buffer: buffer)))
            return .ok
        }
        let (port, portSink) = AsyncStream.makeStream(of: Int.self)
        var quiet = Logger(label: "sandman.slack-send")
        quiet.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
            portSink.yield(channel.localAddress?.port ?? 0)
            portSink.finish()
        }, logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        let listener = Task { try await group.run() }
        var listening = 0
        for await value in port { listening = value }
        let result: Swift.Result<T, any Error>
        do {
            result = .success(try await body("http://127.0.0.1:\(listening)/response", received))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        _ = await listener.result
        sink.finish()
        return try result.get()
    }

    /// The text people would see for a Slack message.
    public static func text(_ message: JSONValue) -> String {
        if let text = message["text"]?.string, !text.isEmpty { return text }
        return (message["blocks"]?.array ?? []).compactMap { $0[path: ["text", "text"]]?.string }.joined(separator: "\n")
    }
}
