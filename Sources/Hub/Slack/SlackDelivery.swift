import Config
import Foundation
import JSON
import Logging
import Scheduling
import Store
import Transport

/// Delivers the notification outbox: `chat.postMessage` (or `chat.postEphemeral`) with the bot
/// token, the incoming webhook, a command's `response_url`, or, for a hub without Slack (the
/// demo), a console. A message is delivered once: retried with backoff (or after Slack's
/// `Retry-After`), given up (and audited) after `maxDeliveryAge`.
public final class SlackDelivery: Sendable {
    /// Where an outbox message goes.
    public enum Destination: Sendable, Equatable {
        case chat
        /// Seen only by the message's `user`, in its `channel` (and thread).
        case ephemeral
        case webhook
        case responseURL(String)
        /// Printed by the hub's console (`SlackDelivery.console`).
        case console

        var stored: String {
            switch self {
            case .chat: "chat.postMessage"
            case .ephemeral: "chat.postEphemeral"
            case .webhook: "webhook"
            case .responseURL(let url): "response_url:\(url)"
            case .console: "console"
            }
        }

        init?(stored: String) {
            switch stored {
            case "chat.postMessage": self = .chat
            case "chat.postEphemeral": self = .ephemeral
            case "webhook": self = .webhook
            case "console": self = .console
            case _ where stored.hasPrefix("response_url:"): self = .responseURL(String(stored.dropFirst("response_url:".count)))
            default: return nil
            }
        }
    }

    let settings: HubConfiguration.Slack
    let store: Store
    let clock: any HubClock
    let http: HTTPClient
    let logger: Logger
    /// Where messages go when Slack is not configured (the demo prints them); nil: nowhere.
    let console: (@Sendable (String) -> Void)?

    public init(settings: HubConfiguration.Slack, store: Store, clock: any HubClock, logger: Logger, console: (@Sendable (String) -> Void)? = nil) {
        self.settings = settings
        self.store = store
        self.clock = clock
        self.http = HTTPClient(configuration: .init(timeout: .seconds(10), userAgent: "sandman-slack"))
        self.logger = logger
        self.console = console
    }

    /// The destination for notifications: the bot (when there is a token), else the webhook,
    /// else the console when there is one.
    public var notificationDestination: Destination? {
        if settings.botToken != nil { return .chat }
        if settings.webhookURL != nil { return .webhook }
        return console != nil ? .console : nil
    }

    /// Adds a message to the outbox unless `key` was enqueued before; true when added.
    @discardableResult
    public func enqueue(_ message: JSONValue, to destination: Destination, channel: String?, key: String) async -> Bool {
        var payload = message
        if destination == .chat || destination == .ephemeral, payload["channel"] == nil, let channel { payload["channel"] = .string(channel) }
        do {
            return try await store.enqueue(OutboxMessage(dedupKey: key, destination: destination.stored, channel: channel, payload: payload.serialized(), createdAt: clock.now))
        } catch is CancellationError {
            return false  // the hub is stopping
        } catch {
            logger.error("cannot enqueue a Slack message", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Delivers what is due until cancelled, checking every `interval`.
    public func run(interval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            await deliverDue()
            try? await Task.sleep(for: interval)
        }
    }

    /// How long a message taken for delivery is this replica's: well past the 10 s an attempt
    /// may take, so that it is not delivered twice, and short enough that the messages of a
    /// replica that died are soon taken by another.
    static let claimLease: Duration = .seconds(60)

    /// One pass over the due messages, taken for this replica (``Store/claimDueMessages(at:lease:limit:)``).
    public func deliverDue() async {
        guard let due = try? await store.claimDueMessages(at: clock.now, lease: Self.claimLease) else { return }
        for (index, message) in due.enumerated() {
            guard !Task.isCancelled else {
                // Stopping: what was not tried is released, for the next start or another replica
                // (outside this cancelled task, whose writes the store would refuse).
                let unsent = Array(due[index...])
                await Task { [store] in try? await store.releaseClaims(unsent) }.value
                return
            }
            // Seen through even when stopping: a send cut off after Slack took it would be
            // recorded as failed, and sent again by the next start.
            await Task { await self.deliver(message) }.value
        }
    }

    private func deliver(_ stored: OutboxMessage) async {
        var message = stored
        let now = clock.now
        if now.timeIntervalSince(message.createdAt) > settings.maxDeliveryAge.inSeconds {
            message.abandonedAt = now
            message.lastError = (message.lastError ?? "") + " (given up after \(message.attempts) attempts)"
            try? await store.update(message)
            _ = try? await store.record(AuditEntry(at: now, actor: "sandman", source: "slack", action: "notify", target: message.channel, result: "abandoned", detail: message.lastError))
            logger.warning("Slack message given up", metadata: ["key": "\(message.dedupKey)", "error": "\(message.lastError ?? "")"])
            return
        }
        message.attempts += 1
        switch await send(message) {
        case .delivered:
            message.deliveredAt = now
            message.lastError = nil
        case .retry(let error, let after):
            message.lastError = error
            message.nextAttemptAt = now.addingTimeInterval(after ?? Self.backoff(afterAttempt: message.attempts))
        }
        try? await store.update(message)
    }

    /// 2 s after the first failed attempt, doubling with each, at most 5 minutes.
    static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(300, pow(2, Double(min(attempt, 16))))
    }

    private enum Result {
        case delivered
        case retry(String, after: TimeInterval?)
    }

    private func send(_ message: OutboxMessage) async -> Result {
        guard let destination = Destination(stored: message.destination) else { return .retry("unknown destination \(message.destination)", after: 3600) }
        var headers: HTTPHeaders = ["Content-Type": "application/json; charset=utf-8"]
        let url: String
        switch destination {
        case .console:
            guard let console else { return .retry("no console", after: 3600) }
            console(ConsoleMessage.text(message.payload, channel: message.channel))
            return .delivered
        case .chat, .ephemeral:
            guard let token = settings.botToken else { return .retry("no bot token configured", after: 60) }
            headers["Authorization"] = "Bearer \(token)"
            url = settings.apiURL + "/" + destination.stored
        case .webhook:
            guard let hook = settings.webhookURL else { return .retry("no webhook URL configured", after: 60) }
            url = hook
        case .responseURL(let responseURL):
            url = responseURL
        }
        do {
            let response = try await http.send(HTTPRequest(method: .post, url: url, headers: headers, body: Data(message.payload.utf8)))
            if response.status == 429 {
                let after = response.headers["Retry-After"].flatMap(TimeInterval.init) ?? 30
                return .retry("rate limited (429), retry after \(Int(after)) s", after: after)
            }
            guard (200..<300).contains(response.status) else {
                return .retry("HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))", after: nil)
            }
            // chat.postMessage answers 200 with {"ok": false, "error": ...} on failure.
            if destination == .chat || destination == .ephemeral, let body = try? JSONValue(parsing: response.body), body["ok"] == false {
                return .retry("Slack error: \(body["error"]?.string ?? "unknown")", after: nil)
            }
            return .delivered
        } catch {
            return .retry("\(error)", after: nil)
        }
    }
}
