import Foundation
import JSON
import Scripting
import Store

/// Everything said after the first answer: the result of operations started from Slack,
/// formatted by the notify plugins (event `command_result`), and replies to button clicks. A
/// slash command's answers go to its `response_url` (Slack takes at most five posts per URL
/// within 30 minutes of the command, so every post goes through here); a mention's go to its
/// thread with `chat.postMessage`.
actor SlackFollowUps {
    /// Where the answers to one command go.
    enum Target: Sendable, Hashable {
        case responseURL(String)
        /// A channel, in the thread of `ts` (a direct message without one).
        case thread(channel: String, ts: String?)
    }

    private struct Pending {
        var operation: OperationRecord
        var target: Target
        var user: String
        /// GitOps stages already posted.
        var stagesPosted = 0
        /// The zone of the namespace's schedule (else `slack.timeZone`), for times in the message.
        var timeZone: String
    }

    /// GitOps stages worth a post of their own as a request advances (the result comes last).
    static let announcedStages: Set<String> = ["mr_opened", "awaiting_approval", "merged"]

    static let maxPosts = 5
    static let window: TimeInterval = 1800

    private let store: Store
    private let delivery: SlackDelivery
    private let plugins: PluginHost
    private let clock: any HubClock
    private var pending: [Pending] = []
    /// Per URL: posts made, and when the command that gave it was sent.
    private var posts: [String: (count: Int, since: Date)] = [:]

    init(store: Store, delivery: SlackDelivery, plugins: PluginHost, clock: any HubClock) {
        self.store = store
        self.delivery = delivery
        self.plugins = plugins
        self.clock = clock
    }

    func watch(_ operation: OperationRecord, replyTo target: Target, user: String, timeZone: String) {
        pending.append(Pending(operation: operation, target: target, user: user, timeZone: timeZone))
    }

    /// Queues `message` for `target`, unless it is a `response_url` whose limits are used up;
    /// false when they are.
    @discardableResult
    func post(_ message: JSONValue, to target: Target, sentAt: Date, key: String) async -> Bool {
        switch target {
        case .responseURL(let url):
            return await post(message, to: url, sentAt: sentAt, key: key)
        case .thread(let channel, let ts):
            var message = message
            for field in ["response_type", "replace_original"] { message[field] = nil }
            message["channel"] = .string(channel)
            if let ts { message["thread_ts"] = .string(ts) }
            await delivery.enqueue(message, to: .chat, channel: channel, key: key)
            return true
        }
    }

    /// Queues `message` for `url` unless Slack's limits for it are used up; false when they are.
    @discardableResult
    func post(_ message: JSONValue, to url: String, sentAt: Date, key: String) async -> Bool {
        let now = clock.now
        let record = posts[url] ?? (0, sentAt)
        guard record.count < Self.maxPosts, now.timeIntervalSince(record.since) < Self.window else { return false }
        posts[url] = (record.count + 1, record.since)
        await delivery.enqueue(message, to: .responseURL(url), channel: nil, key: key)
        return true
    }

    /// Posts the result of every watched operation that finished; drops those past Slack's window.
    func check() async {
        let now = clock.now
        var still: [Pending] = []
        for var item in pending {
            let current = try? await store.operation(id: item.operation.id)
            if let current { await postStages(current, of: &item) }
            guard let current, current.finishedAt != nil else {
                if now.timeIntervalSince(item.operation.createdAt) < Self.window { still.append(item) }
                continue
            }
            await post(await message(current, user: item.user, timeZone: item.timeZone), to: item.target, sentAt: item.operation.createdAt, key: "followup:\(current.id)")
        }
        pending = still
        posts = posts.filter { now.timeIntervalSince($0.value.since) < Self.window }
    }

    /// Posts the GitOps stages the operation passed since the last look, in one message: the
    /// merge request's link as soon as it is open (people may have to approve it), then the merge.
    private func postStages(_ operation: OperationRecord, of item: inout Pending) async {
        let stages = OperationStages.list(operation.stages)
        guard stages.count > item.stagesPosted else { return }
        let new = stages[item.stagesPosted...].filter { Self.announcedStages.contains($0["stage"]?.string ?? "") }
        item.stagesPosted = stages.count
        guard !new.isEmpty else { return }
        let lines = new.map { stage in
            let link = stage["url"]?.string.map { " <\($0)|merge request>" } ?? ""
            return "• \(OperationStages.text(stage))\(link)"
        }
        let text = ":twisted_rightwards_arrows: <@\(item.user)>: \(operation.action) of *\(operation.cluster)/\(operation.namespaces.joined(separator: ", "))* " +
            "goes through GitLab:\n" + lines.joined(separator: "\n")
        let message: JSONValue = ["text": .string(text), "response_type": "in_channel", "replace_original": false]
        await post(message, to: item.target, sentAt: item.operation.createdAt, key: "followup:\(operation.id):stage\(item.stagesPosted)")
    }

    func run() async {
        while !Task.isCancelled {
            await check()
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// The notify plugins' message for the result, else a plain one.
    private func message(_ operation: OperationRecord, user: String, timeZone: String) async -> JSONValue {
        let event = Self.event(operation, user: user, at: clock.now, timeZone: timeZone)
        var message = await plugins.format(event).messages.first?.message ?? ["text": .string(Self.text(operation, user: user))]
        message["response_type"] = "in_channel"
        message["replace_original"] = false
        message["channel"] = nil
        return message
    }

    static func event(_ operation: OperationRecord, user: String, at now: Date, timeZone: String) -> JSONValue {
        let summary = operation.summary.flatMap { try? JSONValue(parsing: $0) } ?? .emptyObject
        var details: JSONValue = [
            "id": .string(operation.id), "action": .string(operation.action), "state": .string(operation.state.rawValue),
            "done": .int(Int64(summary["done"]?.array?.count ?? 0)),
            "skipped": .array(summary["skipped"]?.array ?? []),
            "failures": .array(summary["failed"]?.array ?? []),
        ]
        if let reason = operation.reason { details["reason"] = .string(reason) }
        if let error = summary["error"]?.string { details["error"] = .string(error) }
        return [
            "type": "command_result", "user": .string(user), "cluster": .string(operation.cluster),
            "namespaces": .array(operation.namespaces.map(JSONValue.string)),
            "at": .int(Int64(now.timeIntervalSince1970)), "timezone": .string(timeZone), "operation": details,
        ]
    }

    static func text(_ operation: OperationRecord, user: String) -> String {
        let summary = operation.summary.flatMap { try? JSONValue(parsing: $0) } ?? .emptyObject
        let done = summary["done"]?.array?.count ?? 0
        let skipped = summary["skipped"]?.array?.count ?? 0
        let failed = summary["failed"]?.array ?? []
        let icon = operation.state == .succeeded ? (operation.action == "wake" ? ":sunny:" : ":zzz:") : ":warning:"
        let target = operation.namespaces.isEmpty ? operation.cluster : "\(operation.cluster)/\(operation.namespaces.joined(separator: ", "))"
        var text = "\(icon) <@\(user)>: \(operation.action) of *\(target)* \(operation.state.rawValue): \(done) object(s) done, \(skipped) skipped, \(failed.count) failed"
        for item in failed.prefix(5) { text += "\n• \(item["object"]?.string ?? "?"): \(item["error"]?.string ?? "")" }
        for item in (summary["skipped"]?.array ?? []).prefix(5) { text += "\n• skipped \(item["object"]?.string ?? "?"): \(item["reason"]?.string ?? "")" }
        return text
    }
}
