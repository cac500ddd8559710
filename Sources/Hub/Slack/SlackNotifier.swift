import Config
import Foundation
import JSON
import Logging
import Scripting
import Sleep
import Store
import Synchronization

/// Tells people what Sandman does and is about to do: every notification is an event the
/// `notify/*.lua` plugins turn into Slack messages, routed to the team's channel (or the
/// cluster's, or the default one) through the outbox.
public final class SlackNotifier: HubEventSink {
    let configuration: HubConfiguration
    let plugins: PluginHost
    let delivery: SlackDelivery
    let clock: any HubClock
    let logger: Logger
    /// Clusters announced as unreachable and not yet as recovered.
    private let announcedDown = Mutex<Set<String>>([])
    /// Pre-sleep warnings sent: `cluster/namespace` and the sleep's instant.
    private let warned = Mutex<[String: Date]>([:])

    public init(configuration: HubConfiguration, plugins: PluginHost, delivery: SlackDelivery, clock: any HubClock, logger: Logger) {
        self.configuration = configuration
        self.plugins = plugins
        self.delivery = delivery
        self.clock = clock
        self.logger = logger
    }

    /// The channel for a namespace: its team's, else its cluster's, else the default.
    func channel(cluster: ClusterConfiguration?, namespace: String?) -> String? {
        namespace.flatMap { cluster?.team(owning: $0)?.slackChannel } ?? cluster?.slackChannel ?? configuration.slack.defaultChannel
    }

    /// Formats `event` with the plugins and queues each message once (`key` identifies the event).
    /// Times are shown in `timeZone` (the namespace's schedule's), else in `slack.timeZone`. An
    /// event about several namespaces (which share a channel) lists them in `namespaces`.
    func notify(_ event: JSONValue, cluster: ClusterConfiguration?, namespaces: [String] = [], timeZone: String? = nil, key: String) async {
        guard let destination = delivery.notificationDestination else { return }
        var event = event
        let channel = channel(cluster: cluster, namespace: namespaces.first)
        event["channel"] = channel.map(JSONValue.string) ?? .null
        event["at"] = .int(Int64(clock.now.timeIntervalSince1970))
        event["timezone"] = .string(timeZone ?? configuration.slack.timeZone)
        if let cluster {
            event["cluster"] = .string(cluster.name)
            event["tier"] = .string(cluster.tier.rawValue)
            let teams = Set(namespaces.map { cluster.team(owning: $0)?.name })
            if !namespaces.isEmpty { event["team"] = teams.count == 1 ? teams.first!.map(JSONValue.string) ?? .null : .null }
        }
        if namespaces.count == 1 { event["namespace"] = .string(namespaces[0]) }
        if !namespaces.isEmpty { event["namespaces"] = .array(namespaces.map(JSONValue.string)) }
        let outcome = await plugins.format(event)
        for (index, message) in outcome.messages.enumerated() {
            let target = message.message["channel"]?.string ?? channel
            // chat.postMessage needs a channel: Slack would refuse the message on every retry.
            if destination == .chat, target == nil {
                logger.warning("notification not sent: no channel for it; set slack.defaultChannel", metadata: ["event": "\(event["type"]?.string ?? "?")"])
                continue
            }
            await delivery.enqueue(message.message, to: destination, channel: target, key: "\(key):\(index)")
        }
    }

    // MARK: HubEventSink

    public func clusterHealthChanged(cluster name: String, tier: ClusterConfiguration.Tier, health: ClusterHealth) async {
        let cluster = configuration.cluster(named: name)
        // A cluster found ready when the hub starts has not recovered from anything.
        let wasDown = announcedDown.withLock { down in
            defer { if health.ready { down.remove(name) } else { down.insert(name) } }
            return down.contains(name)
        }
        if health.ready == !wasDown { return }
        if health.ready {
            await notify(["type": "cluster_recovered"], cluster: cluster, key: "health:\(name):up:\(Int(clock.now.timeIntervalSince1970))")
        } else {
            await notify(["type": "cluster_unreachable", "error": .string(health.lastError ?? "")], cluster: cluster, key: "health:\(name):down:\(Int(clock.now.timeIntervalSince1970))")
        }
    }

    public func operationStarted(_ operation: OperationRecord, cluster: ClusterConfiguration, unit namespace: String) async {}

    public func operationFinished(_ operation: OperationRecord, cluster: ClusterConfiguration, namespace: String, timeZone: String?, result: OperationPartResult, duration: Duration) async {
        let type = operation.state == .succeeded ? (operation.action == "sleep" ? "sleep_done" : "wake_done") : "operation_failed"
        var details: JSONValue = [
            "id": .string(operation.id), "action": .string(operation.action), "state": .string(operation.state.rawValue),
            "source": .string(operation.source), "actor": .string(operation.actor), "reason": operation.reason.map(JSONValue.string) ?? .null,
            "seconds": .double(duration.inSeconds),
        ]
        switch result {
        case .ran(let outcome):
            details["done"] = .int(Int64(outcome.done.count))
            details["skipped"] = .int(Int64(outcome.skipped.count))
            details["failed"] = .int(Int64(outcome.failed.count))
            details["failures"] = .array(outcome.failed.map { ["object": .string($0.ref.description), "error": .string($0.error)] })
            details["modified"] = .array(outcome.skipped.filter { $0.reason == .modifiedDuringSleep }.map { .string($0.ref.description) })
        case .failed(let error):
            details["error"] = .string(error)
        }
        await notify(["type": .string(type), "operation": details, "actor": .string(operation.actor), "reason": operation.reason.map(JSONValue.string) ?? .null], cluster: cluster, namespaces: [namespace], timeZone: timeZone, key: "operation:\(operation.id):\(namespace)")
    }

    public func notice(_ event: JSONValue, cluster: ClusterConfiguration, namespace: String?, key: String) async {
        await notify(event, cluster: cluster, namespaces: namespace.map { [$0] } ?? [], key: key)
    }

    // MARK: Watching for what is about to happen

    /// Every 30 s of hub time (so a demo at `--speed 60` still warns ten minutes ahead):
    /// pre-sleep warnings for sleeps due within the lead time, and broken plugins.
    public func run(hub: Hub) async {
        while !Task.isCancelled {
            await warnOfUpcomingSleeps(hub: hub)
            await reportBrokenPlugins()
            do {
                try await clock.sleep(until: clock.now.addingTimeInterval(30))
            } catch {
                return
            }
        }
    }

    /// Warns of the sleeps due within the lead time that will happen (overrides and skips
    /// applied): one message per cluster, instant and channel, listing its namespaces, each
    /// namespace warned once per sleep.
    func warnOfUpcomingSleeps(hub: Hub) async {
        let now = clock.now
        let lead = configuration.slack.preSleepWarning.inSeconds
        guard lead > 0 else { return }
        warned.withLock { warned in warned = warned.filter { $0.value > now } }
        for status in await hub.clusterStatuses() where status.ownedHere {
            let cluster = configuration.cluster(named: status.name)
            var groups: [WarningGroup: [NamespaceStatus]] = [:]
            for namespace in status.namespaces where namespace.asleep == false {
                guard let next = namespace.nextChange, next.kind == .sleep else { continue }
                let remaining = next.at.timeIntervalSince(now)
                guard remaining > 0, remaining <= lead else { continue }
                let name = "\(status.name)/\(namespace.namespace)"
                guard warned.withLock({ $0[name] != next.at }) else { continue }
                groups[WarningGroup(at: next.at, channel: channel(cluster: cluster, namespace: namespace.namespace)), default: []].append(namespace)
            }
            let chunks = groups.sorted { $0.key.at < $1.key.at }.flatMap { group, members in
                Self.buttonSized(members.sorted { $0.namespace < $1.namespace }, cluster: status.name, name: \.namespace)
                    .map { (group, $0) }
            }
            for (group, members) in chunks {
                let names = members.map(\.namespace)
                let event: JSONValue = [
                    "type": "pre_sleep_warning", "sleep_at": .int(Int64(group.at.timeIntervalSince1970)),
                    "minutes": .int(Int64((group.at.timeIntervalSince(now) / 60).rounded(.up))),
                    "unit": .string(members.count == 1 ? members[0].unit : ""),
                    "button_value": .string("\(status.name)/\(names.joined(separator: ","))"),
                ]
                let zone = members.compactMap { $0.schedule["timeZone"]?.string }.first
                await notify(event, cluster: cluster, namespaces: names, timeZone: zone, key: "warning:\(status.name)/\(names.joined(separator: ","))/\(Int(group.at.timeIntervalSince1970))")
                warned.withLock { warned in for name in names { warned["\(status.name)/\(name)"] = group.at } }
            }
        }
    }

    /// `members` in runs whose keep-awake button value (`cluster/a,b,…`) fits Slack's 2,000 characters:
    /// more namespaces than that sleeping at once are warned of in several messages.
    static func buttonSized<Member>(_ members: [Member], cluster: String, name: (Member) -> String) -> [[Member]] {
        let limit = 2000 - cluster.utf16.count - 1
        var runs: [[Member]] = []
        var length = 0
        for member in members {
            let size = name(member).utf16.count + 1
            if runs.isEmpty || length + size > limit + 1 {
                runs.append([])
                length = 0
            }
            runs[runs.count - 1].append(member)
            length += size
        }
        return runs
    }

    /// Namespaces warned of together: those sleeping at the same instant, told in the same channel.
    private struct WarningGroup: Hashable {
        var at: Date
        var channel: String?
    }

    func reportBrokenPlugins() async {
        for status in plugins.statuses() {
            guard let error = status.loadError ?? status.lastCallError else { continue }
            let event: JSONValue = ["type": "plugin_broken", "plugin": .string(status.file), "error": .string(error.description), "state": .string(status.state.rawValue)]
            await notify(event, cluster: nil, key: "plugin:\(status.file):\(error.description.prefix(160))")
        }
    }
}
