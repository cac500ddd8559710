import Config
import Foundation
import JSON
import Scheduling
import Scripting
import Store

/// Runs a command from Slack (a slash command, or a mention of the bot) for a Slack user: the
/// command plugin proposes actions and a reply, the hub authorizes and performs each action, and
/// the reply says what happens. Nothing refused is announced: a reply with a refusal is seen
/// only by the user and says what was refused and why (and what was done, if anything was).
struct SlackCommandRunner: Sendable {
    let hub: Hub
    let plugins: PluginHost
    let settings: HubConfiguration.Slack

    /// What came of a command.
    struct Outcome {
        /// The Slack message to answer with (`response_type` says who sees it).
        var reply: JSONValue
        var operations: [OperationRecord]
        var refused: Bool
    }

    /// Runs `command` (`/k8s-wake`, ...) with `text` for `principal`; `fields` are what Slack sent
    /// about the user and channel, given to the plugin as they are.
    func run(command: String, text: String, fields: [String: String], source: String, principal: Principal) async -> Outcome {
        var input: JSONValue = [
            "command": .string(command), "text": .string(text), "source": .string(source),
            "clusters": .array(hub.configuration.clusters.map { .string($0.name) }),
            "timezone": .string(settings.timeZone),
            "max_duration": .int(Int64(hub.configuration.limits.maxDuration.inSeconds)),
        ]
        for (key, value) in fields { input[key] = .string(value) }
        let outcome = await plugins.handleSlackCommand(input)
        var accepted: [String] = []
        var refusals: [String] = []
        var operations: [OperationRecord] = []
        for action in outcome.actions {
            switch await perform(action, as: principal) {
            case .success(let result):
                if !result.line.isEmpty { accepted.append(result.line) }
                if let operation = result.operation { operations.append(operation) }
            case .failure(let error):
                refusals.append(":no_entry: \(Self.describe(action)) refused: \(error.message)")
            }
        }
        var reply: JSONValue
        if refusals.isEmpty {
            reply = outcome.response
            if reply["response_type"] == nil { reply["response_type"] = "ephemeral" }
            if !accepted.isEmpty { reply = Self.appending(accepted, to: reply) }
        } else {
            let text = (accepted + refusals).joined(separator: "\n")
            reply = ["response_type": "ephemeral", "text": .string(text), "blocks": [Self.section(text)]]
        }
        if !operations.isEmpty {
            // Says which operations will have a follow-up (`sandman slack send` waits only then).
            reply["metadata"] = [
                "event_type": "sandman_operations",
                "event_payload": ["operations": .array(operations.map { ["id": .string($0.id)] })],
            ]
        }
        return Outcome(reply: reply, operations: operations, refused: !refusals.isEmpty)
    }

    static func section(_ text: String) -> JSONValue {
        ["type": "section", "text": ["type": "mrkdwn", "text": .string(text)]]
    }

    private static func appending(_ lines: [String], to message: JSONValue) -> JSONValue {
        var message = message
        message["text"] = .string(([message["text"]?.string].compactMap { $0 } + lines).joined(separator: "\n"))
        if var blocks = message["blocks"]?.array {
            blocks.append(section(lines.joined(separator: "\n")))
            message["blocks"] = .array(blocks)
        }
        return message
    }

    /// What an action asked, for a refusal: `wake of *staging*/payments`.
    static func describe(_ action: SlackAction) -> String {
        switch action {
        case .wake(let cluster, let namespaces, let all, _): "wake of \(target(cluster, namespaces, all: all))"
        case .sleep(let cluster, let namespaces, let all): "sleep of \(target(cluster, namespaces, all: all))"
        case .override(let proposal): "\(proposal.kind.rawValue) override on \(target(proposal.cluster, proposal.namespaces, all: proposal.all))"
        case .clearOverride(let cluster, let namespaces, let all): "clearing the overrides of \(target(cluster, namespaces, all: all))"
        case .status(let cluster): "status of \(cluster.map { "*\($0)*" } ?? "every cluster")"
        case .help: "help"
        }
    }

    static func target(_ cluster: String, _ namespaces: [String], all: Bool = false) -> String {
        namespaces.isEmpty ? "*\(cluster)*\(all ? " (all namespaces)" : "")" : "*\(cluster)*/\(namespaces.joined(separator: ", "))"
    }

    struct ActionResult {
        var line: String
        var operation: OperationRecord?
    }

    /// Authorizes and performs one proposed action for the Slack user.
    func perform(_ action: SlackAction, as principal: Principal) async -> Result<ActionResult, HubError> {
        let now = hub.clock.now
        do throws(HubError) {
            switch action {
            case .wake(let cluster, let namespaces, let all, let duration):
                let operation = try await hub.request(.wake, cluster: cluster, namespaces: namespaces, all: all, duration: duration, reason: "Slack", by: principal, source: "slack")
                let span = duration.map { " for \(DurationText.format($0))" } ?? " until the next scheduled sleep"
                return .success(ActionResult(line: ":sunny: waking \(Self.target(cluster, namespaces, all: all))\(span) (operation \(operation.id.prefix(8)))\(Self.throughGit(operation))", operation: operation))
            case .sleep(let cluster, let namespaces, let all):
                let operation = try await hub.request(.sleep, cluster: cluster, namespaces: namespaces, all: all, duration: nil, reason: "Slack", by: principal, source: "slack")
                return .success(ActionResult(line: ":zzz: putting \(Self.target(cluster, namespaces, all: all)) to sleep (operation \(operation.id.prefix(8)))\(Self.throughGit(operation))", operation: operation))
            case .override(let proposal):
                if let duration = proposal.duration { try hub.checkLimits(duration: duration, reason: nil) }
                let until = proposal.until ?? proposal.duration.map { now.addingTimeInterval($0.inSeconds) }
                let kind = OverrideRecord.Kind(rawValue: proposal.kind.rawValue) ?? .skip
                try await hub.createOverride(
                    cluster: proposal.cluster, namespaces: proposal.namespaces, all: proposal.all, kind: kind, until: until, reason: proposal.reason,
                    by: principal, source: "slack"
                )
                let zone = await timeZone(cluster: proposal.cluster, namespace: proposal.namespaces.first)
                let untilText = until.map { " until \(TimeText.near($0, zone: zone, now: now))" } ?? ""
                return .success(ActionResult(line: ":pushpin: override \(kind.rawValue) on \(Self.target(proposal.cluster, proposal.namespaces, all: proposal.all))\(untilText)", operation: nil))
            case .clearOverride(let cluster, let namespaces, let all):
                _ = try await hub.admit("override-delete", cluster: cluster, namespaces: namespaces, all: all, by: principal, source: "slack")
                let open: [OverrideRecord]
                do { open = try await hub.store.activeOverrides(at: now, cluster: cluster) } catch { throw .internal("\(error)") }
                var cleared = 0
                for record in open where all || record.namespace.map(namespaces.contains) == true {
                    try await hub.deleteOverride(id: record.id, by: principal, source: "slack")
                    cleared += 1
                }
                return .success(ActionResult(line: ":broom: cleared \(cleared) override(s) on \(Self.target(cluster, namespaces, all: all))", operation: nil))
            case .status(let cluster):
                if let cluster { _ = try hub.cluster(cluster) }
                return .success(ActionResult(line: await statusText(cluster: cluster, principal: principal), operation: nil))
            case .help:
                return .success(ActionResult(line: "", operation: nil))
            }
        } catch {
            return .failure(error)
        }
    }

    /// For a request that goes through a GitLab merge request (GitOps): says so.
    static func throughGit(_ operation: OperationRecord) -> String {
        operation.state == .waiting ? ", through a GitLab merge request: its link follows here" : ""
    }

    /// Per cluster: health, which namespaces sleep and which are awake, and the next change, in
    /// the zone of that namespace's schedule.
    func statusText(cluster: String?, principal: Principal) async -> String {
        let now = hub.clock.now
        var lines: [String] = []
        for status in await hub.clusterStatuses() where (cluster == nil || status.name == cluster) && principal.mayRead(status.name) {
            let health = status.health.ready ? ":large_green_circle:" : ":red_circle:"
            lines.append("\(health) *\(status.name)* (\(status.tier.rawValue)): \(status.asleepCount) of \(status.namespaces.count) asleep")
            let names = { (asleep: Bool?) in status.namespaces.filter { $0.asleep == asleep }.map(\.namespace).sorted() }
            for (label, list) in [("asleep", names(true)), ("awake", names(false)), ("unknown", names(nil))] where !list.isEmpty {
                lines.append("    \(label): \(list.joined(separator: ", "))")
            }
            if let next = status.nextChange, let namespace = status.namespaces.first(where: { $0.namespace == next.namespace }) {
                let zone = zone(of: namespace)
                lines.append("    next: \(next.change.kind.rawValue) of \(next.namespace) \(TimeText.near(next.change.at, zone: zone, now: now))")
            }
        }
        return lines.isEmpty ? "No cluster to show." : lines.joined(separator: "\n")
    }

    /// The zone of the namespace's schedule (a whole cluster's: its first namespace's), else
    /// `slack.timeZone`.
    func timeZone(cluster: String, namespace: String?) async -> TimeZone {
        await hub.agents[cluster]?.scheduleTimeZone(namespace: namespace).flatMap(TimeZone.init(identifier:)) ?? fallbackZone
    }

    func zone(of namespace: NamespaceStatus) -> TimeZone {
        namespace.schedule["timeZone"]?.string.flatMap(TimeZone.init(identifier:)) ?? fallbackZone
    }

    var fallbackZone: TimeZone {
        TimeZone(identifier: settings.timeZone) ?? TimeZone(identifier: "UTC")!
    }
}
