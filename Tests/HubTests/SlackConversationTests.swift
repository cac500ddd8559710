import Config
import Foundation
@testable import Hub
import JSON
import Kube
import Scheduling
import TestSupport
import Testing

/// Issue 16, items 3 to 8: what people see in Slack. Refusals private and to the point, times
/// in the namespace's zone, one warning for namespaces that sleep together, the CLI waiting only
/// for results that will come, mentions and direct messages, and notifications without Slack.
@Suite("Slack conversations", .serialized, .awaitingCleanup)
struct SlackConversationTests {
    static let secret = "conversation-signing-secret"
    static let rome = TimeZone(identifier: "Europe/Rome")!
    /// Monday 2027-01-04 19:45 in Rome: awake, the sleep at 20:00 is 15 minutes away.
    static let start = instant("2027-01-04T18:45:00Z")

    /// What a fake Slack Web API received: method (`chat.postMessage`...) and the JSON body.
    final class SlackAPI: Sendable {
        let server: TestHTTPServer
        let posts = Recorder<(method: String, body: JSONValue)>()

        init() async throws {
            let posts = self.posts
            server = try await TestHTTPServer.start { request in
                posts.append((String(request.path.split(separator: "/").last ?? ""), (try? JSONValue(parsing: Data(request.body))) ?? .null))
                return .text(200, #"{"ok":true,"ts":"1.2"}"#, contentType: "application/json")
            }
        }

        func messages(_ method: String) -> [JSONValue] { posts.values.filter { $0.method == method }.map(\.body) }
    }

    static func fixture(slackAPI: SlackAPI?) async throws -> HubFixture {
        let cluster = """
            schedules:
              - {name: office-hours, namespaces: [shop, cart, blog], weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: Europe/Rome}
            teams:
              - {name: web, namespaces: [shop, cart, blog], slackChannel: "#web"}
            """
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", cluster)], start: start)
        for namespace in ["shop", "cart", "blog"] {
            try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop(namespace, deployments: 1))
        }
        for plugin in ["slack/commands.lua", "notify/lifecycle.lua"] {
            try fixture.directory.write("plugins/\(plugin)", try String(contentsOfFile: repositoryFile("plugins/\(plugin)"), encoding: .utf8))
        }
        let api = slackAPI.map { "  botToken: xoxb-test\n  apiURL: \($0.server.baseURL)/api\n" } ?? ""
        try fixture.directory.write("sandman.yaml", """
            listen: 127.0.0.1:0
            database: hub.sqlite
            plugins: {directory: plugins}
            slack:
              signingSecrets: [\(secret)]
              timeZone: America/New_York
              defaultChannel: "#sandman"
              principals:
                - {users: [U-ADMIN], role: admin}
                - {users: [U-VIEW], role: viewer}
            \(api)
            """)
        return fixture
    }

    func managed(_ fixture: HubFixture) async -> Bool {
        await eventually { ((try? await fixture.api("GET", "/api/v1/clusters/staging/namespaces"))?.body["namespaces"]?.array?.count ?? 0) == 3 }
    }

    @Test func refusalsArePrivateTimesAreLocalAndOneWarningCoversNamespacesSleepingTogether() async throws {
        let slackAPI = try await SlackAPI()
        defer { afterTest { await slackAPI.server.shutdown() } }
        var fixture = try await Self.fixture(slackAPI: slackAPI)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(await managed(fixture))
        let admin = SlackCommandSimulator(hub: fixture.url, secret: Self.secret, user: "U-ADMIN", userName: "alice", channel: "C1", channelName: "web")
        var viewer = admin
        viewer.user = "U-VIEW"
        let zone = TimeText.zoneName(Self.rome, at: Self.start)

        // Item 3: a refusal is private and says only what was refused and why.
        let denied = try await viewer.send("/k8s-sleep staging shop", wait: .seconds(30))
        #expect(denied.reply["response_type"] == "ephemeral")
        #expect(SlackCommandSimulator.text(denied.reply) == ":no_entry: sleep of *staging*/shop refused: the viewer role may only read", "\(denied.reply)")
        #expect(denied.followUps.isEmpty)
        let unknown = try await admin.send("/k8s-wake staging nope 1h", wait: .zero)
        #expect(unknown.reply["response_type"] == "ephemeral")
        #expect(SlackCommandSimulator.text(unknown.reply) == ":no_entry: wake of *staging*/nope refused: cluster staging has no managed namespace nope; managed: blog, cart, shop")

        // Item 5: times in the zone of the namespace's schedule, not UTC and not slack.timeZone.
        let override = try await admin.send("/k8s-override staging shop awake for 2h", wait: .zero)
        let overrideText = SlackCommandSimulator.text(override.reply)
        #expect(override.reply["response_type"] == "in_channel")
        #expect(overrideText.contains(":pushpin: override wake on *staging*/shop until Mon 21:45 \(zone)"), "\(overrideText)")
        let started = ContinuousClock.now
        let status = try await viewer.send("/k8s-status staging", wait: .seconds(60))
        // Item 6: nothing announced, nothing waited for.
        #expect(ContinuousClock.now - started < .seconds(30), "the wait for a follow-up would be 60 s")
        #expect(status.followUps.isEmpty && status.reply["metadata"] == nil)
        let statusText = SlackCommandSimulator.text(status.reply)
        #expect(statusText.contains("*staging* (staging): 0 of 3 asleep\n    awake: blog, cart, shop\n    next: sleep of blog Mon 20:00 \(zone)"), "\(statusText)")
        for text in [overrideText, statusText] { #expect(!text.contains("2027-01-04T"), "\(text)") }

        // A refused button click is told to the one who clicked, not to the channel.
        let click = try await viewer.click(actionID: "keep_awake_1h", value: "staging/cart", wait: .seconds(20), linger: .seconds(1))
        #expect(click.followUps.count == 1)
        #expect(click.followUps.first?["response_type"] == "ephemeral")
        #expect(SlackCommandSimulator.text(click.followUps.first ?? .null).hasPrefix(":no_entry: keeping *staging*/cart awake refused: "))

        // Nine minutes before 20:00 in Rome: blog and cart sleep together, one message; shop is kept awake.
        fixture.clock.set(instant("2027-01-04T18:51:00Z"))
        #expect(await eventually { !slackAPI.messages("chat.postMessage").filter { $0["text"]?.string?.contains("to sleep in") == true }.isEmpty })
        let warnings = slackAPI.messages("chat.postMessage").filter { $0["text"]?.string?.contains("to sleep in") == true }
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?["text"] == "staging/blog, cart go to sleep in 9 min")
        #expect(warnings.first?["channel"] == "#web")
        let buttons = warnings.first?["blocks"]?.array?.first { $0["type"] == "actions" }?["elements"]?.array ?? []
        #expect(buttons.map { $0["value"] } == ["staging/blog,cart", "staging/blog,cart"])
        // Its button keeps both awake.
        let kept = try await admin.click(actionID: "keep_awake_1h", value: "staging/blog,cart", wait: .seconds(20))
        let keptText = SlackCommandSimulator.text(kept.followUps.first ?? .null)
        #expect(keptText.contains(":sunny: *staging*/blog, cart stays awake until Mon 20:51 \(zone)"), "\(keptText)")
        let overrides = try await fixture.api("GET", "/api/v1/overrides?cluster=staging")
        #expect(Set((overrides.body["overrides"]?.array ?? []).compactMap { $0["namespace"]?.string }) == ["shop", "blog", "cart"])
    }

    /// Item 6: the CLI waits for the result of the operation it started, and for nothing else.
    @Test func slackSendWaitsOnlyForAnnouncedOperations() async throws {
        var fixture = try await Self.fixture(slackAPI: nil)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(await managed(fixture))
        let environment = ["SANDMAN_HUB": fixture.url, "SANDMAN_SLACK_SIGNING_SECRETS": Self.secret]
        let started = ContinuousClock.now
        let status = try await ProcessOutput.run(HubFixture.binary, arguments: ["slack", "send", "/k8s-status", "--user", "U-VIEW"], environment: environment, timeout: .seconds(60))
        #expect(ContinuousClock.now - started < .seconds(40), "no follow-up is announced: no wait (it would be 60 s)")
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("awake: blog, cart, shop"), "\(status.stdout)")
        #expect(!status.stderr.contains("CancellationError"), "\(status.stderr)")
        let wake = try await ProcessOutput.run(
            HubFixture.binary, arguments: ["slack", "send", "/k8s-sleep staging cart", "--user", "U-ADMIN"], environment: environment, timeout: .seconds(60)
        )
        #expect(wake.status == 0, "\(wake.stderr)")
        #expect(wake.stdout.contains("sleep of *staging/cart* succeeded"), "the follow-up: \(wake.stdout)")
        #expect(wake.stderr.isEmpty, "\(wake.stderr)")
    }

    static func event(_ id: String, _ event: JSONValue) -> String {
        let envelope: JSONValue = [
            "token": "unused", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event_id": .string(id), "event_time": 1_800_000_000,
            "authorizations": [["team_id": "T1", "user_id": "U0BOT", "is_bot": true, "is_enterprise_install": false]],
            "event": event,
        ]
        return envelope.serialized()
    }

    /// Posts a signed event; a retry is a new request, signed at a later second, as Slack sends it.
    func post(_ body: String, to fixture: HubFixture, retry: Int? = nil, timestamp: String? = nil) async throws -> Int {
        let timestamp = timestamp ?? String(Int(Date().timeIntervalSince1970) + (retry ?? 0))
        var request = URLRequestLike(method: "POST", url: fixture.url + "/slack/events", body: body)
        request.headers["X-Slack-Request-Timestamp"] = timestamp
        request.headers["X-Slack-Signature"] = SlackVerifier.signature(secret: Self.secret, timestamp: timestamp, body: Data(body.utf8))
        if let retry { request.headers["X-Slack-Retry-Num"] = String(retry) }
        return try await request.send().status
    }

    /// Item 7: `@sandman wake staging shop 1h` works like the slash command, answered in its thread.
    @Test func mentionsAndDirectMessagesGoThroughThePluginAndAreAnsweredInTheThread() async throws {
        let slackAPI = try await SlackAPI()
        defer { afterTest { await slackAPI.server.shutdown() } }
        var fixture = try await Self.fixture(slackAPI: slackAPI)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(await managed(fixture))

        let mention = Self.event("Ev1", [
            "type": "app_mention", "user": "U-ADMIN", "text": "<@U0BOT> wake staging shop 1h", "ts": "1800000000.000100",
            "channel": "C1", "event_ts": "1800000000.000100",
        ])
        let acknowledged = ContinuousClock.now
        #expect(try await post(mention, to: fixture) == 200)
        // Slack wants it within 3 s; the handler answers before the work, and the bound leaves room for a loaded machine.
        #expect(ContinuousClock.now - acknowledged < .seconds(10), "acknowledged before the work is done")
        // Slack retries an event it thinks was not received: handled once.
        #expect(try await post(mention, to: fixture, retry: 1) == 200)
        // A copy of the very same bytes (a retry signed in the same second): acknowledged, not handled again.
        let second = String(Int(Date().timeIntervalSince1970) + 2)
        #expect(try await post(mention, to: fixture, retry: 2, timestamp: second) == 200)
        #expect(try await post(mention, to: fixture, retry: 2, timestamp: second) == 200)
        #expect(await eventually { slackAPI.messages("chat.postMessage").contains { $0["text"]?.string?.contains("wake of *staging/shop* succeeded") == true } })
        let thread = slackAPI.messages("chat.postMessage").filter { $0["thread_ts"] == "1800000000.000100" }
        #expect(thread.count == 2, "the reply and the result, in the thread: \(thread)")
        #expect(thread.first?["channel"] == "C1")
        #expect(thread.first?["text"]?.string?.contains(":sunny: waking *staging*/shop for 1h") == true, "\(thread)")
        let operations = try await fixture.api("GET", "/api/v1/operations?cluster=staging")
        #expect((operations.body["operations"]?.array ?? []).filter { $0["source"] == "slack" }.count == 1)

        // A refusal in a channel is shown to its author only; the bot's own messages are not commands.
        #expect(try await post(Self.event("Ev2", [
            "type": "app_mention", "user": "U-VIEW", "text": "<@U0BOT> sleep staging cart", "ts": "1800000001.000200", "channel": "C1",
        ]), to: fixture) == 200)
        #expect(try await post(Self.event("Ev3", [
            "type": "message", "channel_type": "im", "user": "U0BOT", "bot_id": "B0BOT", "text": "wake staging all", "ts": "1800000002.000300", "channel": "D1",
        ]), to: fixture) == 200)
        #expect(try await post(Self.event("Ev4", [
            "type": "message", "channel_type": "im", "user": "U-VIEW", "text": "status staging", "ts": "1800000003.000400", "channel": "D1",
        ]), to: fixture) == 200)
        #expect(await eventually { slackAPI.messages("chat.postMessage").contains { $0["channel"] == "D1" } })
        let ephemeral = slackAPI.messages("chat.postEphemeral")
        #expect(ephemeral.count == 1)
        #expect(ephemeral.first?["user"] == "U-VIEW")
        #expect(ephemeral.first?["thread_ts"] == "1800000001.000200")
        #expect(ephemeral.first?["text"] == ":no_entry: sleep of *staging*/cart refused: the viewer role may only read")
        let direct = slackAPI.messages("chat.postMessage").filter { $0["channel"] == "D1" }
        #expect(direct.count == 1, "the bot's own message got no answer: \(direct)")
        #expect(direct.first?["thread_ts"] == nil)
        #expect(direct.first?["text"]?.string?.contains("awake: blog, cart") == true, "\(direct)")
        #expect(await fixture.isAwake("staging", "cart"))
    }

    @Test func mentionsAreReadFromEventsAsSlackSendsThem() throws {
        let cases: [(JSONValue, SlackMentions.Mention?)] = [
            (["type": "app_mention", "user": "U1", "text": "<@U0BOT> wake staging payments 2h", "ts": "1.1", "channel": "C1"],
             .init(eventID: "E", user: "U1", channel: "C1", thread: "1.1", command: "/k8s-wake", text: "staging payments 2h")),
            (["type": "app_mention", "user": "U1", "text": "hey <@U0BOT|sandman>   Sleep dev web", "ts": "1.2", "thread_ts": "1.0", "channel": "C1"],
             .init(eventID: "E", user: "U1", channel: "C1", thread: "1.0", command: "/k8s-sleep", text: "dev web")),
            (["type": "app_mention", "user": "U1", "text": "<@U0BOT> what can you do?", "ts": "1.3", "channel": "C1"],
             .init(eventID: "E", user: "U1", channel: "C1", thread: "1.3", command: "/k8s-help", text: "what can you do?")),
            (["type": "message", "channel_type": "im", "user": "U1", "text": "override dev web asleep until 08:00 because a &amp; b", "ts": "1.4", "channel": "D1"],
             .init(eventID: "E", user: "U1", channel: "D1", thread: nil, command: "/k8s-override", text: "dev web asleep until 08:00 because a & b")),
            // Typed, not a mention: it stays escaped, so that echoing the reason pings nobody.
            (["type": "message", "channel_type": "im", "user": "U1", "text": "wake dev 1h &lt;!channel&gt; look", "ts": "1.4", "channel": "D1"],
             .init(eventID: "E", user: "U1", channel: "D1", thread: nil, command: "/k8s-wake", text: "dev 1h &lt;!channel&gt; look")),
            (["type": "message", "channel_type": "channel", "user": "U1", "text": "wake dev", "ts": "1.5", "channel": "C1"], nil),
            (["type": "message", "channel_type": "im", "subtype": "message_changed", "user": "U1", "text": "wake dev", "ts": "1.6", "channel": "D1"], nil),
            (["type": "message", "channel_type": "im", "user": "U0BOT", "text": "wake dev", "ts": "1.7", "channel": "D1"], nil),
            (["type": "app_mention", "bot_id": "B2", "user": "U2", "text": "<@U0BOT> wake dev", "ts": "1.8", "channel": "C1"], nil),
        ]
        for (event, expected) in cases {
            let envelope: JSONValue = ["type": "event_callback", "event_id": "E", "authorizations": [["user_id": "U0BOT", "is_bot": true]], "event": event]
            #expect(SlackMentions.mention(in: envelope) == expected, "\(event)")
        }
        var recent = RecentIDs(capacity: 2)
        #expect([recent.insert("a"), recent.insert("a"), recent.insert("b"), recent.insert("c"), recent.insert("a"), recent.insert("c")] == [true, false, true, true, true, false])
    }

    /// Item 8: without a bot token or webhook the hub says so, and a console shows what Slack would.
    @Test func withoutSlackNotificationsAreAnnouncedAsOffOrShownOnTheConsole() async throws {
        var settings = HubConfiguration.Slack()
        #expect(HubRuntime.startupWarnings(settings, console: false).contains { $0.hasPrefix("Slack notifications are off") })
        #expect(HubRuntime.startupWarnings(settings, console: true).contains { $0.hasPrefix("Slack notifications are printed on this console") })
        settings.signingSecrets = ["s"]
        #expect(HubRuntime.startupWarnings(settings, console: false).contains { $0.hasPrefix("mentions of the bot cannot be answered") })
        settings.botToken = "xoxb-1"
        #expect(HubRuntime.startupWarnings(settings, console: false).isEmpty)

        let printed = Recorder<String>()
        var fixture = try await Self.fixture(slackAPI: nil)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub(console: { printed.append($0) })
        #expect(await managed(fixture))
        fixture.clock.set(instant("2027-01-04T18:51:00Z"))
        #expect(await eventually { printed.values.contains { $0.contains("go to sleep in") } }, "\(printed.values)")
        let warning = printed.values.first { $0.contains("go to sleep in") } ?? ""
        #expect(warning.contains("[slack #web]"), "\(warning)")
        #expect(warning.contains("[Keep awake 1h]  sandman slack click keep_awake_1h staging/blog,cart,shop"), "\(warning)")
    }
}
