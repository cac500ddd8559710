import Foundation
import JSON
import Store

/// Reports the end of operations started from Slack to the command's `response_url`: at most
/// five posts per URL, within the 30 minutes Slack allows.
actor SlackFollowUps {
    private struct Pending {
        var operation: OperationRecord
        var responseURL: String
        var user: String
    }

    private let store: Store
    private let delivery: SlackDelivery
    private let clock: any HubClock
    private var pending: [Pending] = []
    private var posts: [String: (count: Int, first: Date)] = [:]

    init(store: Store, delivery: SlackDelivery, clock: any HubClock) {
        self.store = store
        self.delivery = delivery
        self.clock = clock
    }

    func watch(_ operation: OperationRecord, responseURL: String, user: String) {
        pending.append(Pending(operation: operation, responseURL: responseURL, user: user))
    }

    /// Posts the result of every watched operation that finished; drops those past Slack's window.
    func check() async {
        let now = clock.now
        var still: [Pending] = []
        for item in pending {
            guard let current = try? await store.operation(id: item.operation.id), current.finishedAt != nil else {
                if now.timeIntervalSince(item.operation.createdAt) < 1800 { still.append(item) }
                continue
            }
            let record = posts[item.responseURL] ?? (0, now)
            guard record.count < 5, now.timeIntervalSince(record.first) < 1800 else { continue }
            posts[item.responseURL] = (record.count + 1, record.first)
            await delivery.enqueue(Self.message(current, user: item.user), to: .responseURL(item.responseURL), channel: nil, key: "followup:\(current.id)")
        }
        pending = still
        posts = posts.filter { now.timeIntervalSince($0.value.first) < 1800 }
    }

    func run() async {
        while !Task.isCancelled {
            await check()
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    static func message(_ operation: OperationRecord, user: String) -> JSONValue {
        let summary = operation.summary.flatMap { try? JSONValue(parsing: $0) } ?? .emptyObject
        let done = summary["done"]?.array?.count ?? 0
        let skipped = summary["skipped"]?.array?.count ?? 0
        let failed = summary["failed"]?.array ?? []
        let icon = operation.state == .succeeded ? (operation.action == "wake" ? ":sunny:" : ":zzz:") : ":warning:"
        let target = operation.namespaces.isEmpty ? operation.cluster : "\(operation.cluster)/\(operation.namespaces.joined(separator: ", "))"
        var text = "\(icon) <@\(user)>: \(operation.action) of *\(target)* \(operation.state.rawValue): \(done) object(s) done, \(skipped) skipped, \(failed.count) failed"
        for item in failed.prefix(5) { text += "\n• \(item["object"]?.string ?? "?"): \(item["error"]?.string ?? "")" }
        for item in (summary["skipped"]?.array ?? []).prefix(5) { text += "\n• skipped \(item["object"]?.string ?? "?"): \(item["reason"]?.string ?? "")" }
        return ["response_type": "in_channel", "replace_original": false, "text": .string(text)]
    }
}
