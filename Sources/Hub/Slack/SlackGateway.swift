import Config
import Foundation
import JSON
import Logging
import Scheduling
import Scripting
import Store
import Synchronization

/// Slack's requests to the hub: slash commands, button clicks and the Events API (mentions of
/// the bot and direct messages to it). Every request is verified before anything reads it; the
/// command plugin proposes actions and the reply, and the hub authorizes and performs them for
/// the Slack user (`SlackCommandRunner`).
public final class SlackGateway: Sendable {
    let hub: Hub
    let verifier: SlackVerifier
    let delivery: SlackDelivery
    let followUps: SlackFollowUps
    let userGroups: SlackUserGroups
    let runner: SlackCommandRunner
    let mentions: SlackMentions
    let settings: HubConfiguration.Slack
    let logger: Logger
    private let rejections = Mutex(RejectionAudit())

    public init(hub: Hub, plugins: PluginHost, delivery: SlackDelivery, logger: Logger) {
        self.hub = hub
        self.settings = hub.configuration.slack
        self.verifier = SlackVerifier(secrets: hub.configuration.slack.signingSecrets)
        self.delivery = delivery
        self.followUps = SlackFollowUps(store: hub.store, delivery: delivery, plugins: plugins, clock: hub.clock)
        let userGroups = SlackUserGroups(settings: hub.configuration.slack, logger: logger)
        self.userGroups = userGroups
        let runner = SlackCommandRunner(hub: hub, plugins: plugins, settings: hub.configuration.slack)
        self.runner = runner
        self.mentions = SlackMentions(runner: runner, userGroups: userGroups, delivery: delivery, followUps: followUps, logger: logger)
        self.logger = logger
    }

    /// A request as it arrived: the raw body and Slack's headers.
    public struct Request: Sendable {
        public var body: Data
        public var timestamp: String?
        public var signature: String?
        /// `X-Slack-Retry-Num`: Slack delivers an event again when it got no answer in time.
        public var retryNumber: Int?

        public init(body: Data, timestamp: String?, signature: String?, retryNumber: Int? = nil) {
            self.body = body
            self.timestamp = timestamp
            self.signature = signature
            self.retryNumber = retryNumber
        }
    }

    /// What to answer Slack: a status and a JSON body (nil for an empty 200).
    public struct Reply: Sendable {
        public var status: Int
        public var body: JSONValue?
    }

    /// Verifies a request; a rejection is answered without calling any plugin, counted, and
    /// audited (a flood of rejected requests adds a few rows a minute, not one per request).
    /// Slack's timestamps are wall-clock time, so they are checked against the machine's clock
    /// even when the hub's own clock is warped (demo) or driven by a test.
    func verify(_ request: Request, path: String) async -> Reply? {
        do {
            try verifier.verify(timestamp: request.timestamp, signature: request.signature, body: request.body, now: Date())
            return nil
        } catch {
            hub.metrics.recordSlackRejection(reason: error.code)
            // An event is handled once by its event_id; a copy of one (a retry Slack signed in the same
            // second) wants a 200, or Slack counts a failure and sends it yet again.
            if error == .replayed, path == "event" { return Reply(status: 200, body: nil) }
            let admitted = rejections.withLock { $0.admit(at: Date()) }
            if admitted.record {
                let earlier = admitted.unrecordedBefore > 0 ? " (and \(admitted.unrecordedBefore) rejected requests before it, not recorded one by one)" : ""
                _ = try? await hub.store.record(AuditEntry(at: hub.clock.now, actor: "unknown", source: "slack", action: path, result: "rejected", detail: error.description + earlier))
                logger.warning("Slack request rejected", metadata: ["path": "\(path)", "reason": "\(error)"])
            }
            let kind: HubError.Kind = switch error.status {
            case 413: .payloadTooLarge
            case 429: .tooManyRequests
            default: .unauthorized
            }
            return Reply(status: error.status, body: HubError(kind: kind, message: error.description).body)
        }
    }

    /// Who a Slack user is for the hub.
    func principal(user: String, userName: String, channel: String) async -> Principal {
        SlackAccess.principal(user: user, userName: userName, channel: channel, groups: await userGroups.groups(of: user), settings: settings)
    }

    // MARK: Slash commands

    /// Answers within Slack's 3 seconds; an operation's result follows on the `response_url`.
    public func command(_ request: Request) async -> Reply {
        // Slack's check of the certificate (`ssl_check=1`, unsigned) wants a plain 200, and runs nothing.
        if request.body.count < 512, FormBody.decode(request.body)["ssl_check"] == "1" { return Reply(status: 200, body: nil) }
        if let rejection = await verify(request, path: "command") { return rejection }
        let form = FormBody.decode(request.body)
        let user = form["user_id"] ?? ""
        let principal = await principal(user: user, userName: form["user_name"] ?? "", channel: form["channel_id"] ?? "")
        var fields: [String: String] = [:]
        for key in ["user_id", "user_name", "channel_id", "channel_name", "team_id", "response_url", "trigger_id"] { fields[key] = form[key] ?? "" }
        let result = await runner.run(command: form["command"] ?? "", text: form["text"] ?? "", fields: fields, source: "slash_command", principal: principal)
        if let url = form["response_url"], !url.isEmpty {
            for operation in result.operations {
                let zone = await runner.timeZone(cluster: operation.cluster, namespace: operation.namespaces.first)
                await followUps.watch(operation, replyTo: .responseURL(url), user: user, timeZone: zone.identifier)
            }
        }
        return Reply(status: 200, body: BlockKitLimits.clamped(result.reply))
    }

    // MARK: Interactivity

    /// Button clicks (`block_actions`): the keep-awake buttons of the pre-sleep warning. What was
    /// done is told to the channel; a refusal only to the person who clicked.
    public func interaction(_ request: Request) async -> Reply {
        if let rejection = await verify(request, path: "interaction") { return rejection }
        guard let payloadText = FormBody.decode(request.body)["payload"], let payload = try? JSONValue(parsing: payloadText) else {
            return Reply(status: 400, body: HubError.badRequest("missing or malformed payload", field: "payload").body)
        }
        guard payload["type"] == "block_actions" else { return Reply(status: 200, body: nil) }
        let user = payload[path: ["user", "id"]]?.string ?? ""
        let userName = payload[path: ["user", "username"]]?.string ?? payload[path: ["user", "name"]]?.string ?? ""
        let principal = await principal(user: user, userName: userName, channel: payload[path: ["channel", "id"]]?.string ?? "")
        let now = hub.clock.now
        var done: [String] = []
        var refused: [String] = []
        for action in payload["actions"]?.array ?? [] {
            guard let button = SlackButton(actionID: action["action_id"]?.string ?? "", value: action["value"]?.string ?? "") else { continue }
            let zone = await runner.timeZone(cluster: button.cluster, namespace: button.namespaces.first)
            let until = button.until(from: now, timeZone: zone)
            let target = SlackCommandRunner.target(button.cluster, button.namespaces, all: button.namespaces.isEmpty)
            do throws(HubError) {
                try await hub.createOverride(
                    cluster: button.cluster, namespaces: button.namespaces, all: button.namespaces.isEmpty, kind: .wake, until: until,
                    reason: "Slack button", by: principal, source: "slack"
                )
                done.append(":sunny: \(target) stays awake until \(TimeText.near(until, zone: zone, now: now)) (asked by <@\(user)>)")
            } catch {
                refused.append(":no_entry: keeping \(target) awake refused: \(error.message)")
            }
        }
        if let url = payload["response_url"]?.string {
            let key = "interaction:\(payload["trigger_id"]?.string ?? UUID().uuidString)"
            for (lines, visibility) in [(done, "in_channel"), (refused, "ephemeral")] where !lines.isEmpty {
                let reply: JSONValue = ["response_type": .string(visibility), "replace_original": false, "text": .string(lines.joined(separator: "\n"))]
                await followUps.post(reply, to: url, sentAt: now, key: "\(key):\(visibility)")
            }
        }
        return Reply(status: 200, body: nil)
    }

    // MARK: Events API

    /// The `url_verification` handshake, and event callbacks: mentions of the bot and direct
    /// messages, acknowledged at once and handled by `SlackMentions`.
    public func event(_ request: Request) async -> Reply {
        if let rejection = await verify(request, path: "event") { return rejection }
        guard let envelope = try? JSONValue(parsing: request.body), envelope.object != nil else {
            return Reply(status: 400, body: HubError.badRequest("malformed JSON").body)
        }
        switch envelope["type"]?.string {
        case "url_verification":
            return Reply(status: 200, body: ["challenge": envelope["challenge"] ?? ""])
        case "event_callback":
            mentions.receive(envelope, retryNumber: request.retryNumber)
            return Reply(status: 200, body: nil)
        default:
            return Reply(status: 200, body: nil)
        }
    }
}

/// The keep-awake buttons: `keep_awake_1h` and `keep_awake_tomorrow`, whose value is
/// `<cluster>` (the whole cluster) or `<cluster>/<namespace>[,<namespace>...]`.
struct SlackButton: Equatable {
    enum Kind: String {
        case oneHour = "keep_awake_1h"
        case untilTomorrow = "keep_awake_tomorrow"
    }

    var kind: Kind
    var cluster: String
    /// Empty for the whole cluster.
    var namespaces: [String]

    init?(actionID: String, value: String) {
        let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let kind = Kind(rawValue: actionID), let cluster = parts.first, !cluster.isEmpty else { return nil }
        let namespaces = parts.count > 1 ? parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init) : []
        guard parts.count == 1 || (!namespaces.isEmpty && !namespaces.contains("")) else { return nil }
        self.kind = kind
        self.cluster = cluster
        self.namespaces = namespaces
    }

    /// One hour from now, or the next 08:00 in `timeZone` (tomorrow morning, for a click in the
    /// evening or the small hours).
    func until(from now: Date, timeZone: TimeZone) -> Date {
        switch kind {
        case .oneHour:
            return now.addingTimeInterval(3600)
        case .untilTomorrow:
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            return calendar.nextDate(after: now, matching: DateComponents(hour: 8, minute: 0, second: 0), matchingPolicy: .nextTime) ?? now.addingTimeInterval(86_400)
        }
    }
}

/// Who a Slack user is for the hub, from `slack.principals` (users, the user groups they are
/// in, channels) and the production allow-list; someone unknown may only read.
enum SlackAccess {
    static func principal(user: String, userName: String, channel: String, groups: Set<String> = [], settings: HubConfiguration.Slack) -> Principal {
        let matching = settings.principals.filter { $0.users.contains(user) || $0.channels.contains(channel) || !groups.isDisjoint(with: $0.userGroups) }
        let role = matching.map(\.role).max() ?? .viewer
        let best = matching.filter { $0.role == role }
        // Entries of the same role add up; one without a limit (empty) lifts it.
        func union(_ limits: [[String]]) -> [String] {
            limits.isEmpty || limits.contains(where: \.isEmpty) ? [] : Array(Set(limits.joined())).sorted()
        }
        var principal = Principal(
            name: "slack:\(userName.isEmpty ? user : userName)", role: role, teams: union(best.map(\.teams)), clusters: union(best.map(\.clusters))
        )
        principal.mayOperateProduction = settings.productionAllowList.contains(user)
        return principal
    }
}
