import Config
import Foundation
import JSON
import Logging
import Scheduling
import Scripting
import Store

/// Slack's requests to the hub: slash commands, button clicks and the Events API handshake.
/// Every request is verified before anything reads it; the command plugin proposes actions and
/// the reply, and the hub authorizes and performs them for the Slack user.
public final class SlackGateway: Sendable {
    let hub: Hub
    let plugins: PluginHost
    let verifier: SlackVerifier
    let delivery: SlackDelivery
    let followUps: SlackFollowUps
    let userGroups: SlackUserGroups
    let settings: HubConfiguration.Slack
    let logger: Logger

    public init(hub: Hub, plugins: PluginHost, delivery: SlackDelivery, logger: Logger) {
        self.hub = hub
        self.plugins = plugins
        self.settings = hub.configuration.slack
        self.verifier = SlackVerifier(secrets: hub.configuration.slack.signingSecrets)
        self.delivery = delivery
        self.followUps = SlackFollowUps(store: hub.store, delivery: delivery, plugins: plugins, clock: hub.clock, timeZone: hub.configuration.slack.timeZone)
        self.userGroups = SlackUserGroups(settings: hub.configuration.slack, logger: logger)
        self.logger = logger
    }

    /// What to answer Slack: a status and a JSON body (nil for an empty 200).
    public struct Reply: Sendable {
        public var status: Int
        public var body: JSONValue?
    }

    /// Verifies a request; a rejection is audited and answered without calling any plugin.
    /// Slack's timestamps are wall-clock time, so they are checked against the machine's clock
    /// even when the hub's own clock is warped (demo) or driven by a test.
    func verify(_ body: Data, timestamp: String?, signature: String?, path: String) async -> Reply? {
        do {
            try verifier.verify(timestamp: timestamp, signature: signature, body: body, now: Date())
            return nil
        } catch {
            _ = try? await hub.store.record(AuditEntry(at: hub.clock.now, actor: "unknown", source: "slack", action: path, result: "rejected", detail: error.description))
            logger.warning("Slack request rejected", metadata: ["path": "\(path)", "reason": "\(error)"])
            return Reply(status: error.status, body: ["error": .string(error.description)])
        }
    }

    // MARK: Slash commands

    public func command(_ body: Data, timestamp: String?, signature: String?) async -> Reply {
        if let rejection = await verify(body, timestamp: timestamp, signature: signature, path: "command") { return rejection }
        let form = FormBody.decode(body)
        let user = form["user_id"] ?? ""
        let principal = SlackAccess.principal(user: user, userName: form["user_name"] ?? "", channel: form["channel_id"] ?? "", groups: await userGroups.groups(of: user), settings: settings)
        let clusters = hub.configuration.clusters.map(\.name)
        var command: JSONValue = ["clusters": .array(clusters.map(JSONValue.string)), "timezone": .string(settings.timeZone)]
        for key in ["command", "text", "user_id", "user_name", "channel_id", "channel_name", "team_id", "response_url", "trigger_id"] {
            command[key] = .string(form[key] ?? "")
        }
        let outcome = await plugins.handleSlackCommand(command)
        var lines: [String] = []
        var operations: [OperationRecord] = []
        for action in outcome.actions {
            switch await perform(action, as: principal) {
            case .success(let result):
                lines.append(result.line)
                if let operation = result.operation { operations.append(operation) }
            case .failure(let error):
                lines.append(":no_entry: \(error.message)")
            }
        }
        if let url = form["response_url"], !url.isEmpty {
            for operation in operations { await followUps.watch(operation, responseURL: url, user: form["user_id"] ?? "") }
        }
        var reply = outcome.response
        if reply["response_type"] == nil { reply["response_type"] = "ephemeral" }
        if !lines.isEmpty {
            let text = ([reply["text"]?.string].compactMap { $0 } + lines).joined(separator: "\n")
            reply["text"] = .string(text)
            if var blocks = reply["blocks"]?.array {
                blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": .string(lines.joined(separator: "\n"))]])
                reply["blocks"] = .array(blocks)
            }
        }
        return Reply(status: 200, body: reply)
    }

    struct ActionResult {
        var line: String
        var operation: OperationRecord?
    }

    /// Authorizes and performs one proposed action for the Slack user.
    func perform(_ action: SlackAction, as principal: Principal) async -> Result<ActionResult, HubError> {
        do throws(HubError) {
            switch action {
            case .wake(let cluster, let namespaces, let duration):
                let operation = try await hub.request(.wake, cluster: cluster, namespaces: namespaces, duration: duration, reason: "Slack", by: principal, source: "slack")
                let span = duration.map { " for \(DurationText.format($0))" } ?? " until the next scheduled sleep"
                return .success(ActionResult(line: ":sunny: waking \(target(cluster, namespaces))\(span) (operation \(operation.id.prefix(8)))\(throughGit(operation))", operation: operation))
            case .sleep(let cluster, let namespaces):
                let operation = try await hub.request(.sleep, cluster: cluster, namespaces: namespaces, duration: nil, reason: "Slack", by: principal, source: "slack")
                return .success(ActionResult(line: ":zzz: putting \(target(cluster, namespaces)) to sleep (operation \(operation.id.prefix(8)))\(throughGit(operation))", operation: operation))
            case .override(let proposal):
                let until = proposal.until ?? proposal.duration.map { hub.clock.now.addingTimeInterval($0.inSeconds) }
                let kind = OverrideRecord.Kind(rawValue: proposal.kind.rawValue) ?? .skip
                try await hub.createOverride(
                    cluster: proposal.cluster, namespaces: proposal.namespaces, kind: kind, until: until, reason: proposal.reason,
                    by: principal, source: "slack"
                )
                let untilText = until.map { " until \($0.formatted(.iso8601))" } ?? ""
                return .success(ActionResult(line: ":pushpin: override \(kind.rawValue) on \(target(proposal.cluster, proposal.namespaces))\(untilText)", operation: nil))
            case .clearOverride(let cluster, let namespaces):
                _ = try await hub.admit("override-delete", cluster: cluster, namespaces: namespaces, by: principal, source: "slack")
                let open: [OverrideRecord]
                do { open = try await hub.store.activeOverrides(at: hub.clock.now, cluster: cluster) } catch { throw .internal("\(error)") }
                var cleared = 0
                for record in open where namespaces.isEmpty || record.namespace.map(namespaces.contains) == true {
                    try await hub.deleteOverride(id: record.id, by: principal, source: "slack")
                    cleared += 1
                }
                return .success(ActionResult(line: ":broom: cleared \(cleared) override(s) on \(target(cluster, namespaces))", operation: nil))
            case .status(let cluster):
                if let cluster { _ = try hub.cluster(cluster) }
                return .success(ActionResult(line: await statusText(cluster: cluster), operation: nil))
            case .help:
                return .success(ActionResult(line: "", operation: nil))
            }
        } catch {
            return .failure(error)
        }
    }

    /// For a request that goes through a GitLab merge request (GitOps): says so.
    private func throughGit(_ operation: OperationRecord) -> String {
        operation.state == .waiting ? ", through a GitLab merge request: its link follows here" : ""
    }

    private func target(_ cluster: String, _ namespaces: [String]) -> String {
        namespaces.isEmpty ? "*\(cluster)*" : "*\(cluster)*/\(namespaces.joined(separator: ", "))"
    }

    private func statusText(cluster: String?) async -> String {
        var lines: [String] = []
        for status in await hub.clusterStatuses() where cluster == nil || status.name == cluster {
            let health = status.health.ready ? ":large_green_circle:" : ":red_circle:"
            var line = "\(health) *\(status.name)* (\(status.tier.rawValue)): \(status.asleepCount)/\(status.namespaces.count) asleep"
            if let next = status.nextChange { line += ", next \(next.change.kind.rawValue) of \(next.namespace) at \(next.change.at.formatted(.iso8601))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    // MARK: Interactivity

    /// Button clicks (`block_actions`): the keep-awake buttons of the pre-sleep warning.
    public func interaction(_ body: Data, timestamp: String?, signature: String?) async -> Reply {
        if let rejection = await verify(body, timestamp: timestamp, signature: signature, path: "interaction") { return rejection }
        guard let payloadText = FormBody.decode(body)["payload"], let payload = try? JSONValue(parsing: payloadText) else {
            return Reply(status: 400, body: ["error": "missing or malformed payload"])
        }
        guard payload["type"] == "block_actions" else { return Reply(status: 200, body: nil) }
        let user = payload[path: ["user", "id"]]?.string ?? ""
        let principal = SlackAccess.principal(user: user, userName: payload[path: ["user", "username"]]?.string ?? payload[path: ["user", "name"]]?.string ?? "", channel: payload[path: ["channel", "id"]]?.string ?? "", groups: await userGroups.groups(of: user), settings: settings)
        var lines: [String] = []
        for action in payload["actions"]?.array ?? [] {
            guard let button = SlackButton(actionID: action["action_id"]?.string ?? "", value: action["value"]?.string ?? "") else { continue }
            let until = button.until(from: hub.clock.now, timeZone: await scheduleZone(cluster: button.cluster, namespace: button.namespace))
            do throws(HubError) {
                try await hub.createOverride(
                    cluster: button.cluster, namespaces: button.namespace.map { [$0] } ?? [], kind: .wake, until: until,
                    reason: "Slack button", by: principal, source: "slack"
                )
                lines.append(":sunny: \(button.namespace.map { "\(button.cluster)/\($0)" } ?? button.cluster) stays awake until \(until.formatted(.iso8601)) (asked by <@\(user)>)")
            } catch {
                lines.append(":no_entry: \(error.message)")
            }
        }
        if let url = payload["response_url"]?.string, !lines.isEmpty {
            let reply: JSONValue = ["response_type": "in_channel", "replace_original": false, "text": .string(lines.joined(separator: "\n"))]
            await followUps.post(reply, to: url, sentAt: hub.clock.now, key: "interaction:\(payload["trigger_id"]?.string ?? UUID().uuidString)")
        }
        return Reply(status: 200, body: nil)
    }

    /// The time zone of the namespace's schedule (the first managed namespace's for a whole
    /// cluster): "until tomorrow" means tomorrow morning where the team works. The hub machine's
    /// zone when none is known.
    private func scheduleZone(cluster: String, namespace: String?) async -> TimeZone {
        let statuses = await hub.clusterStatuses().first { $0.name == cluster }?.namespaces ?? []
        let status = statuses.first { namespace == nil || $0.namespace == namespace }
        return status?.schedule["timeZone"]?.string.flatMap(TimeZone.init(identifier:)) ?? .current
    }

    // MARK: Events API

    public func event(_ body: Data, timestamp: String?, signature: String?) async -> Reply {
        if let rejection = await verify(body, timestamp: timestamp, signature: signature, path: "event") { return rejection }
        guard let event = try? JSONValue(parsing: body) else { return Reply(status: 400, body: ["error": "malformed JSON"]) }
        if event["type"] == "url_verification" {
            return Reply(status: 200, body: ["challenge": event["challenge"] ?? ""])
        }
        return Reply(status: 200, body: nil)
    }
}

/// The keep-awake buttons: `keep_awake_1h` and `keep_awake_tomorrow`, whose value is
/// `<cluster>` or `<cluster>/<namespace>`.
struct SlackButton: Equatable {
    enum Kind: String {
        case oneHour = "keep_awake_1h"
        case untilTomorrow = "keep_awake_tomorrow"
    }

    var kind: Kind
    var cluster: String
    var namespace: String?

    init?(actionID: String, value: String) {
        let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let kind = Kind(rawValue: actionID), let cluster = parts.first, !cluster.isEmpty, parts.count == 1 || !parts[1].isEmpty else { return nil }
        self.kind = kind
        self.cluster = cluster
        namespace = parts.count > 1 ? parts[1] : nil
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
        let best = matching.max { $0.role < $1.role }
        var principal = Principal(name: "slack:\(userName.isEmpty ? user : userName)", role: best?.role ?? .viewer, teams: best?.teams ?? [], clusters: best?.clusters ?? [])
        principal.mayOperateProduction = settings.productionAllowList.contains(user)
        return principal
    }
}
