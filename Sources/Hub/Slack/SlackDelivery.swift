import Config
import Foundation
import JSON
import Logging
import Scheduling
import Store
import Synchronization
import Transport

/// Delivers the notification outbox: `chat.postMessage` (or `chat.postEphemeral`) with the bot
/// token, the incoming webhook, a command's `response_url`, or, for a hub without Slack (the
/// demo), a console. A message is delivered once: retried with backoff (or after Slack's
/// `Retry-After`, which holds back the other messages to the same channel too), given up (and
/// audited) after `maxDeliveryAge`, or at once when Slack refuses the message itself.
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
    /// Until when Slack asked (429, `Retry-After`) this replica for no more messages, by lane (`lane(of:)`).
    private let throttled = Mutex<[String: Date]>([:])

    public init(settings: HubConfiguration.Slack, store: Store, clock: any HubClock, logger: Logger, console: (@Sendable (String) -> Void)? = nil) {
        self.settings = settings
        self.store = store
        self.clock = clock
        self.http = HTTPClient(configuration: .init(timeout: Self.sendTimeout, userAgent: "sandman-slack"))
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
        var payload = BlockKitLimits.clamped(message)
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

    /// How long the messages taken for delivery are this replica's: well past the 10 s an attempt
    /// may take, so that none is delivered twice (a pass stops trying them 15 s before it ends),
    /// and short enough that the messages of a replica that died are soon taken by another.
    static let claimLease: Duration = .seconds(60)
    /// The longest one attempt may take.
    static let sendTimeout: Duration = .seconds(10)

    /// One pass over the due messages, taken for this replica (``Store/claimDueMessages(at:lease:limit:)``).
    public func deliverDue() async {
        let claimed = clock.now
        guard let due = try? await store.claimDueMessages(at: claimed, lease: Self.claimLease) else { return }
        for (index, message) in due.enumerated() {
            // Stopping, or slow sends that used up most of the claim (another replica may take the
            // messages once it lapses): what was not tried is released, for the next pass, start
            // or replica (outside this task, whose writes the store would refuse if cancelled).
            // The first is always tried: a demo's fast clock must not stop every pass before it starts.
            let late = index > 0 && clock.now.timeIntervalSince(claimed) > (Self.claimLease - Self.sendTimeout * 1.5).inSeconds
            guard !Task.isCancelled, !late else {
                let unsent = Array(due[index...])
                await Task { [store] in try? await store.releaseClaims(unsent) }.value
                return
            }
            if let until = throttled.withLock({ $0[Self.lane(of: message)] }), until > clock.now {
                var held = message
                held.nextAttemptAt = until
                try? await store.update(held)
                continue
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
        case .throttled(let after):
            message.lastError = "rate limited (429), retry after \(Int(after)) s"
            message.nextAttemptAt = now.addingTimeInterval(after)
            throttled.withLock { lanes in
                lanes = lanes.filter { $0.value > now }
                lanes[Self.lane(of: message)] = message.nextAttemptAt
            }
        case .refused(let error):
            message.lastError = error
            message.abandonedAt = now
            _ = try? await store.record(AuditEntry(
                at: now, actor: "sandman", source: "slack", action: "notify", target: message.channel, result: "refused", detail: error
            ))
            logger.error("Slack refused a message; it is not sent again", metadata: ["key": "\(message.dedupKey)", "error": "\(error)"])
        }
        try? await store.update(message)
    }

    /// What Slack's rate limits count separately: a channel of the Web API, a webhook, a response URL.
    static func lane(of message: OutboxMessage) -> String {
        message.destination.hasPrefix("chat.") ? "chat:\(message.channel ?? "")" : message.destination
    }

    /// Errors of `chat.postMessage` about the message itself: sending it again cannot help. Others
    /// (a revoked token, a bot not invited to a private channel, which Slack answers
    /// `channel_not_found`, Slack's own trouble) may be mended by an operator or pass, and are
    /// retried until `maxDeliveryAge`.
    static let permanentErrors: Set<String> = [
        "is_archived", "invalid_blocks", "invalid_blocks_format", "invalid_attachments", "msg_too_long", "msg_blocks_too_long",
        "no_text", "too_many_attachments", "invalid_arguments", "invalid_json", "json_not_object", "invalid_charset",
        "invalid_form_data", "cannot_reply_to_message", "metadata_too_large", "invalid_metadata_format",
    ]

    /// An HTTP refusal no later attempt can change: a response URL's 4xx (expired, used up), or a
    /// webhook's 400 or 413 (the message itself). A webhook's 403 or 404 may be a URL an operator
    /// is about to mend, and the message waits for it.
    static func isFinal(_ status: Int, for destination: Destination) -> Bool {
        switch destination {
        case .responseURL: (400..<500).contains(status) && status != 408
        case .webhook: status == 400 || status == 413
        default: false
        }
    }

    /// 2 s after the first failed attempt, doubling with each, at most 5 minutes.
    static func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(300, pow(2, Double(min(attempt, 16))))
    }

    private enum Result {
        case delivered
        case retry(String, after: TimeInterval?)
        /// Slack answered 429: this message and the others of its lane wait `after` seconds.
        case throttled(after: TimeInterval)
        /// Slack refused the message itself: given up at once.
        case refused(String)
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
                return .throttled(after: response.headers["Retry-After"].flatMap(TimeInterval.init) ?? 30)
            }
            guard (200..<300).contains(response.status) else {
                let error = "HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))"
                return Self.isFinal(response.status, for: destination) ? .refused(error) : .retry(error, after: nil)
            }
            // chat.postMessage answers 200 with {"ok": false, "error": ...} on failure.
            if destination == .chat || destination == .ephemeral, let body = try? JSONValue(parsing: response.body), body["ok"] == false {
                let code = body["error"]?.string ?? "unknown"
                let error = "Slack error: \(code)"
                return Self.permanentErrors.contains(code) ? .refused(error) : .retry(error, after: nil)
            }
            return .delivered
        } catch {
            return .retry("\(error)", after: nil)
        }
    }
}
