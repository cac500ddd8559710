import Foundation
import Hub
import JSON
import KubeSim
import TestSupport
import Testing

/// Notifications as people receive them, formatted by the shipped plugins: where each goes, that
/// failures and broken plugins are told, the incoming webhook, and the pre-sleep warning.
@Suite("Slack notifications end to end", .awaitingCleanup)
struct NotificationTests {
    typealias SlackAPI = SlackConversationTests.SlackAPI

    static func installShippedPlugins(_ fixture: HubFixture) throws {
        for plugin in ["notify/lifecycle.lua", "notify/alerts.lua", "slack/commands.lua"] {
            try fixture.directory.write("plugins/\(plugin)", try String(contentsOfFile: repositoryFile("plugins/\(plugin)"), encoding: .utf8))
        }
    }

    static func writeConfiguration(_ fixture: HubFixture, slack: String) throws {
        try fixture.directory.write("sandman.yaml", """
            listen: 127.0.0.1:0
            database: hub.sqlite
            plugins: {directory: plugins}
            slack:
              signingSecrets: [notification-secret]
              principals:
                - {users: [U-ADMIN], role: admin}
            \(slack)
            """)
    }

    @Test func eachMessageGoesToItsTeamsChannelElseItsClustersElseTheDefaultAndFailuresAreTold() async throws {
        let slackAPI = try await SlackAPI()
        defer { afterTest { await slackAPI.server.shutdown() } }
        let staging = """
            slackChannel: "#staging"
            schedules:
              - {name: nights, namespaces: [shop, cart, blog], weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00"}
            teams:
              - {name: web, namespaces: [shop], slackChannel: "#web"}
              - {name: ops, namespaces: [cart]}
            """
        let dev = "schedules:\n  - {name: nights, namespaces: [tools], weekdays: \"*\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\n"
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", staging), "dev": ("development", dev)], start: instant("2027-01-04T21:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        for namespace in ["shop", "cart", "blog"] {
            try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop(namespace, deployments: 1))
        }
        try await fixture.simulators["dev"]!.load(manifests: HubFixture.shop("tools", deployments: 2))
        // Nothing in dev may be patched: its sleep fails.
        fixture.simulators["dev"]!.setFaults(KubeSim.Faults(errorRate: 1, errorVerbs: ["patch"], errorStatus: 403))
        try Self.installShippedPlugins(fixture)
        try Self.writeConfiguration(fixture, slack: "  botToken: xoxb-test\n  apiURL: \(slackAPI.server.baseURL)/api\n  defaultChannel: \"#sandman\"")
        try await fixture.startHub()

        func message(_ prefix: String) -> JSONValue? {
            slackAPI.messages("chat.postMessage").first { $0["text"]?.string?.hasPrefix(prefix) == true }
        }
        #expect(await eventually {
            ["staging/shop is asleep", "staging/cart is asleep", "staging/blog is asleep", "sleep of dev/tools failed"].allSatisfy { message($0) != nil }
        }, "\(slackAPI.posts.values)")
        #expect(message("staging/shop is asleep")?["channel"] == "#web", "the team's channel")
        #expect(message("staging/cart is asleep")?["channel"] == "#staging", "a team without a channel: the cluster's")
        #expect(message("staging/blog is asleep")?["channel"] == "#staging", "no team: the cluster's")
        let failure = try #require(message("sleep of dev/tools failed"))
        #expect(failure["channel"] == "#sandman", "no team and no cluster channel: the default")
        let failureText = (failure["blocks"]?.array ?? []).compactMap { $0[path: ["text", "text"]]?.string }.joined(separator: "\n")
        #expect(failureText.contains(":x: sleep of *dev/tools* failed"), "\(failureText)")
        for name in ["app-0", "app-1"] {
            #expect(failureText.contains(#"deployments.apps "\#(name)" is forbidden"#), "names each object and the answer: \(failureText)")
        }
        #expect(await fixture.isAwake("dev", "tools"))
    }

    /// With a bot token but no channel anywhere for a namespace, its message is not queued for
    /// chat.postMessage (Slack would refuse it on every retry); the team's namespace still is.
    @Test func aMessageWithNoChannelIsNotSentToChatPostMessage() async throws {
        let slackAPI = try await SlackAPI()
        defer { afterTest { await slackAPI.server.shutdown() } }
        let cluster = """
            schedules:
              - {name: nights, namespaces: [shop, blog], weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00"}
            teams:
              - {name: web, namespaces: [shop], slackChannel: "#web"}
            """
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", cluster)], start: instant("2027-01-04T21:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        for namespace in ["shop", "blog"] {
            try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop(namespace, deployments: 1))
        }
        try Self.installShippedPlugins(fixture)
        try Self.writeConfiguration(fixture, slack: "  botToken: xoxb-test\n  apiURL: \(slackAPI.server.baseURL)/api")
        try await fixture.startHub()

        #expect(await fixture.settle())
        #expect(await fixture.isAsleep("staging", "blog"))
        let store = try #require(fixture.server?.hub.store)
        #expect(await eventually { (try? await store.dueMessages(at: .distantFuture))?.isEmpty == true })
        let texts = slackAPI.messages("chat.postMessage").compactMap { $0["text"]?.string }
        #expect(texts == ["staging/shop is asleep"], "\(texts)")
        #expect(slackAPI.messages("chat.postMessage").allSatisfy { $0["channel"] != nil })
    }

    @Test func withoutABotTokenMessagesGoToTheIncomingWebhook() async throws {
        let received = Recorder<(path: String, authorization: String?, body: JSONValue)>()
        let webhook = try await TestHTTPServer.start { request in
            received.append((request.path, request.header("Authorization"), (try? JSONValue(parsing: Data(request.body))) ?? .null))
            return .text(200, "ok")
        }
        defer { afterTest { await webhook.shutdown() } }
        let cluster = "schedules:\n  - {name: nights, namespaces: [shop], weekdays: \"*\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\n"
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", cluster)], start: instant("2027-01-04T21:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        try Self.installShippedPlugins(fixture)
        try Self.writeConfiguration(fixture, slack: "  webhookURL: \(webhook.baseURL)/services/T0/B0/secret")
        try await fixture.startHub()

        #expect(await eventually { !received.values.isEmpty })
        let store = try #require(fixture.server?.hub.store)
        #expect(await eventually { (try? await store.dueMessages(at: .distantFuture))?.isEmpty == true })
        let posts = received.values
        #expect(posts.count == 1, "\(posts)")
        #expect(posts.first?.path == "/services/T0/B0/secret")
        #expect(posts.first?.authorization == nil, "the webhook URL is the credential")
        #expect(posts.first?.body["text"] == "staging/shop is asleep")
    }

    /// Monday 19:50 in Rome, ten minutes before the 20:00 sleep: one warning with both buttons in
    /// the team's channel, not repeated by a restarted hub; "until tomorrow" keeps the namespaces
    /// awake through the night, until 08:00 in Rome (07:00 UTC, 13:00 in slack.timeZone).
    @Test func thePreSleepWarningIsSentOnceAcrossARestartAndItsButtonKeepsTheNamespacesAwake() async throws {
        let slackAPI = try await SlackAPI()
        defer { afterTest { await slackAPI.server.shutdown() } }
        var fixture = try await SlackConversationTests.fixture(slackAPI: slackAPI)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try Self.installShippedPlugins(fixture)
        try await fixture.startHub()
        #expect(await fixture.settle())
        func warnings() -> [JSONValue] {
            slackAPI.messages("chat.postMessage").filter { $0["text"]?.string?.contains("to sleep in") == true }
        }
        func pluginReports() -> [JSONValue] {
            slackAPI.messages("chat.postMessage").filter { $0["text"]?.string?.hasPrefix("Plugin notify/broken.lua") == true }
        }

        fixture.clock.set(instant("2027-01-04T18:50:00Z"))
        #expect(await eventually { !warnings().isEmpty })
        let warning = try #require(warnings().first)
        #expect(warning["text"] == "staging/blog, cart, shop go to sleep in 10 min")
        #expect(warning["channel"] == "#web")
        let buttons = warning["blocks"]?.array?.first { $0["type"] == "actions" }?["elements"]?.array ?? []
        #expect(buttons.map { $0["action_id"] } == ["keep_awake_1h", "keep_awake_tomorrow"])
        #expect(buttons.map { $0["value"] } == ["staging/blog,cart,shop", "staging/blog,cart,shop"])

        // The hub restarts a minute later, with a broken notify plugin: reporting it comes after
        // the warnings are looked at, so once it is told, a repeated warning would have been too.
        await fixture.stopHub()
        try fixture.directory.write("plugins/notify/broken.lua", "function format(event) return {text = end")
        fixture.clock.set(instant("2027-01-04T18:51:00Z"))
        try await fixture.startHub()
        for _ in 0..<8 where pluginReports().isEmpty {
            fixture.clock.advance(by: 30)
            _ = await eventually(timeout: .seconds(10)) { !pluginReports().isEmpty }
        }
        let report = try #require(pluginReports().first, "\(slackAPI.posts.values)")
        #expect(report["text"]?.string?.contains("does not load") == true, "\(report)")
        #expect(report["channel"] == "#sandman", "about no namespace: the default channel")
        #expect(warnings().count == 1, "\(warnings())")
        #expect(pluginReports().count == 1)

        // The restarted hub knows the namespaces' schedules (and so their zone) once it has synced.
        #expect(await fixture.settle())
        let admin = SlackCommandSimulator(hub: fixture.url, secret: SlackConversationTests.secret, user: "U-ADMIN", userName: "alice", channel: "C1", channelName: "web")
        let kept = try await admin.click(actionID: "keep_awake_tomorrow", value: "staging/blog,cart,shop", wait: .seconds(20))
        #expect(SlackCommandSimulator.text(kept.followUps.first ?? .null).contains("stays awake until Tue 08:00"), "\(kept.followUps)")
        let overrides = try await fixture.api("GET", "/api/v1/overrides?cluster=staging").body["overrides"]?.array ?? []
        #expect(overrides.count == 3)
        #expect(overrides.allSatisfy { $0["kind"] == "wake" && $0["until"] == "2027-01-05T07:00:00Z" }, "\(overrides)")

        // 20:01 in Rome: the schedule's sleep passes and nothing sleeps.
        #expect(await fixture.settle(at: instant("2027-01-04T19:01:00Z")))
        for namespace in ["shop", "cart", "blog"] { #expect(await fixture.isAwake("staging", namespace), "\(namespace)") }
    }
}
