import Foundation
import JSON
import Logging
import Synchronization

/// Commands written to the bot rather than typed as slash commands: `@sandman wake staging
/// payments 2h` in a channel (Events API `app_mention`) or `wake staging payments 2h` in a direct
/// message (`message` with `channel_type: im`). They go through the same plugin, rights and
/// operations as the slash commands (`/k8s-<first word>` with the rest as its text). Slack gets
/// its answer at once; `run()` handles the events in order and replies in the thread
/// (`chat.postMessage` with `thread_ts`; a refusal with `chat.postEphemeral`, for the author only),
/// and the operation's result follows there. Slack's retries of an event already received (same
/// `event_id`) and every message written by a bot, this one included, are ignored.
final class SlackMentions: Sendable {
    /// A command found in an event, with where to answer.
    struct Mention: Sendable, Equatable {
        var eventID: String
        var user: String
        var channel: String
        /// The thread to answer in; nil in a direct message outside a thread.
        var thread: String?
        var command: String
        var text: String
    }

    /// The verbs a mention may start with, each the slash command of the same name.
    static let verbs: Set<String> = ["wake", "sleep", "status", "override", "help"]
    /// Event ids remembered for de-duplication (Slack retries within minutes).
    static let rememberedEvents = 10_000

    private let runner: SlackCommandRunner
    private let userGroups: SlackUserGroups
    private let delivery: SlackDelivery
    private let followUps: SlackFollowUps
    private let logger: Logger
    private let inbox: AsyncStream<Mention>.Continuation
    private let events: AsyncStream<Mention>
    private let seen = Mutex(RecentIDs(capacity: SlackMentions.rememberedEvents))

    init(runner: SlackCommandRunner, userGroups: SlackUserGroups, delivery: SlackDelivery, followUps: SlackFollowUps, logger: Logger) {
        self.runner = runner
        self.userGroups = userGroups
        self.delivery = delivery
        self.followUps = followUps
        self.logger = logger
        (events, inbox) = AsyncStream.makeStream(of: Mention.self, bufferingPolicy: .bufferingNewest(1000))
    }

    /// Takes an `event_callback` envelope; false when it is ignored (not a command for the bot,
    /// from a bot, or an event already received).
    @discardableResult
    func receive(_ envelope: JSONValue, retryNumber: Int?) -> Bool {
        guard let mention = Self.mention(in: envelope) else { return false }
        guard seen.withLock({ $0.insert(mention.eventID) }) else {
            logger.debug("Slack event already received", metadata: ["event": "\(mention.eventID)", "retry": "\(retryNumber ?? 0)"])
            return false
        }
        inbox.yield(mention)
        return true
    }

    /// Handles mentions until cancelled.
    func run() async {
        for await mention in events {
            await handle(mention)
        }
    }

    /// Stops `run()` once the mentions received are handled.
    func finish() {
        inbox.finish()
    }

    func handle(_ mention: Mention) async {
        let principal = SlackAccess.principal(
            user: mention.user, userName: "", channel: mention.channel, groups: await userGroups.groups(of: mention.user), settings: runner.settings
        )
        let fields = ["user_id": mention.user, "channel_id": mention.channel]
        let result = await runner.run(command: mention.command, text: mention.text, fields: fields, source: "mention", principal: principal)
        var reply = result.reply
        let ephemeral = reply["response_type"] == "ephemeral" && result.refused && mention.thread != nil
        reply["response_type"] = nil
        reply["channel"] = .string(mention.channel)
        if let thread = mention.thread { reply["thread_ts"] = .string(thread) }
        if ephemeral { reply["user"] = .string(mention.user) }
        await delivery.enqueue(reply, to: ephemeral ? .ephemeral : .chat, channel: mention.channel, key: "mention:\(mention.eventID)")
        let target = SlackFollowUps.Target.thread(channel: mention.channel, ts: mention.thread)
        for operation in result.operations {
            let zone = await runner.timeZone(cluster: operation.cluster, namespace: operation.namespaces.first)
            await followUps.watch(operation, replyTo: target, user: mention.user, timeZone: zone.identifier)
        }
    }

    /// The command in an envelope, or nil when there is none for the bot to answer.
    static func mention(in envelope: JSONValue) -> Mention? {
        guard let event = envelope["event"], let eventID = envelope["event_id"]?.string, !eventID.isEmpty else { return nil }
        // The bot's own messages (and any bot's) and edits, deletions, joins... are not commands.
        guard event["bot_id"] == nil, event["subtype"] == nil, let user = event["user"]?.string, let channel = event["channel"]?.string,
              let ts = event["ts"]?.string, let text = event["text"]?.string
        else { return nil }
        let thread: String?
        switch event["type"]?.string {
        case "app_mention":
            thread = event["thread_ts"]?.string ?? ts
        case "message" where event["channel_type"] == "im":
            thread = event["thread_ts"]?.string
        default:
            return nil
        }
        let botUser = (envelope["authorizations"]?.array ?? []).first { $0["is_bot"] == true }?["user_id"]?.string
        if let botUser, user == botUser { return nil }
        let words = commandWords(text, bot: botUser)
        let verb = words.first?.lowercased() ?? "help"
        let command = verbs.contains(verb) ? "/k8s-\(verb)" : "/k8s-help"
        return Mention(
            eventID: eventID, user: user, channel: channel, thread: thread, command: command,
            text: verbs.contains(verb) ? words.dropFirst().joined(separator: " ") : words.joined(separator: " ")
        )
    }

    /// The words of a message after its first mention of the bot (`<@U0BOT>`; any user mention
    /// when the bot's id is unknown), or all of them without one (a direct message). Of Slack's
    /// escapes only `&amp;` is undone: a `<` or `>` someone typed stays `&lt;` / `&gt;`, or their
    /// words echoed back (an override's reason) could ping `<!channel>` or hide a link.
    static func commandWords(_ text: String, bot: String?) -> [String] {
        let unescaped = text.replacingOccurrences(of: "&amp;", with: "&")
        let words = unescaped.split(whereSeparator: \.isWhitespace).map(String.init)
        let isBot = { (word: String) -> Bool in
            guard word.hasPrefix("<@"), word.hasSuffix(">") else { return false }
            guard let bot else { return true }
            return word.dropFirst(2).dropLast().split(separator: "|").first.map(String.init) == bot
        }
        guard let mention = words.firstIndex(where: isBot) else { return words }
        let after = words[(mention + 1)...].filter { !isBot($0) }
        return after.isEmpty ? words.filter { !isBot($0) } : Array(after)
    }
}

/// The last `capacity` ids seen, in constant time per id.
struct RecentIDs {
    let capacity: Int
    private var members: Set<String> = []
    private var order: [String] = []
    private var oldest = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// False when `id` was seen already.
    mutating func insert(_ id: String) -> Bool {
        guard !members.contains(id) else { return false }
        members.insert(id)
        if order.count < capacity {
            order.append(id)
        } else {
            members.remove(order[oldest])
            order[oldest] = id
            oldest = (oldest + 1) % capacity
        }
        return true
    }
}
