import Foundation
@testable import Hub
import JSON
import Kube
import KubeSim
import Store
import TestSupport
import Testing

/// Signatures computed independently, with Python's standard `hmac` module.
func pythonSignature(secret: String, timestamp: String, body: String) async throws -> String {
    let script = "import hmac,hashlib,sys; print('v0=' + hmac.new(sys.argv[1].encode(), ('v0:' + sys.argv[2] + ':' + sys.argv[3]).encode(), hashlib.sha256).hexdigest())"
    let output = try await ProcessOutput.run("python3", arguments: ["-c", script, secret, timestamp, body], timeout: .seconds(120))
    return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("Slack request signatures", .awaitingCleanup)
struct SlackSignatureTests {
    static let secret = "8f742231b10e8888abcd99yyyzzz85a5"
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func signaturesComputedByPythonAreAcceptedAndTamperingIsNot() async throws {
        let timestamp = "1800000000"
        let body = "token=x&team_id=T1&command=%2Fk8s-wake&text=staging+2h&user_id=U1"
        let signature = try await pythonSignature(secret: Self.secret, timestamp: timestamp, body: body)
        #expect(signature == SlackVerifier.signature(secret: Self.secret, timestamp: timestamp, body: Data(body.utf8)))

        let verifier = SlackVerifier(secrets: ["old-secret-being-rotated-out", Self.secret])
        #expect(throws: Never.self) { try verifier.verify(timestamp: timestamp, signature: signature, body: Data(body.utf8), now: now) }

        let cases: [(String?, String?, String, Date, SlackVerifier.Rejection)] = [
            (timestamp, signature, body, now, .replayed),
            (timestamp, signature, body + "&text=production", now, .badSignature),
            (timestamp, try await pythonSignature(secret: "wrong-secret", timestamp: timestamp, body: body), body, now, .badSignature),
            (timestamp, signature, body, now.addingTimeInterval(301), .staleTimestamp),
            (timestamp, signature, body, now.addingTimeInterval(-301), .staleTimestamp),
            (nil, signature, body, now, .missingHeaders),
            (timestamp, nil, body, now, .missingHeaders),
            ("yesterday", signature, body, now, .malformedTimestamp),
            (timestamp, "v1=abc", body, now, .badSignature),
            (timestamp, signature, String(repeating: "x", count: 65 * 1024), now, .tooLarge),
        ]
        for (timestamp, signature, body, at, rejection) in cases {
            let error = #expect(throws: SlackVerifier.Rejection.self) {
                try verifier.verify(timestamp: timestamp, signature: signature, body: Data(body.utf8), now: at)
            }
            #expect(error == rejection)
        }
        #expect(SlackVerifier.Rejection.tooLarge.status == 413)
        #expect(SlackVerifier.Rejection.badSignature.status == 401)
    }

    @Test func formBodiesRoundTrip() {
        let fields = [("text", "staging 2h & more=yes"), ("response_url", "https://hooks.slack.com/commands/1/2")]
        let decoded = FormBody.decode(FormBody.encode(fields))
        #expect(decoded["text"] == "staging 2h & more=yes")
        #expect(decoded["response_url"] == "https://hooks.slack.com/commands/1/2")
        #expect(FormBody.decode(Data("a=1+2&b=%2Fx&c".utf8)) == ["a": "1 2", "b": "/x", "c": ""])
    }
}

@Suite("Slack keep-awake buttons", .awaitingCleanup)
struct SlackButtonTests {
    @Test(arguments: [
        ("keep_awake_1h", "2027-01-04T21:00:00Z", "UTC", "2027-01-04T22:00:00Z"),
        ("keep_awake_tomorrow", "2027-01-04T21:00:00Z", "UTC", "2027-01-05T08:00:00Z"),
        // 00:30 in Rome: the coming morning, not the day after.
        ("keep_awake_tomorrow", "2027-01-04T23:30:00Z", "Europe/Rome", "2027-01-05T07:00:00Z"),
        // The evening before New York's clocks go forward (2027-03-14): 08:00 EDT is 12:00 UTC.
        ("keep_awake_tomorrow", "2027-03-13T23:00:00Z", "America/New_York", "2027-03-14T12:00:00Z"),
        // The evening before they go back (2027-11-07): 08:00 EST is 13:00 UTC.
        ("keep_awake_tomorrow", "2027-11-06T23:00:00Z", "America/New_York", "2027-11-07T13:00:00Z"),
        // Leap day.
        ("keep_awake_tomorrow", "2028-02-28T20:00:00Z", "UTC", "2028-02-29T08:00:00Z"),
    ])
    func keepsAwakeUntil(action: String, now: String, zone: String, expected: String) throws {
        let button = try #require(SlackButton(actionID: action, value: "staging/shop"))
        #expect(button.cluster == "staging")
        #expect(button.namespaces == ["shop"])
        #expect(button.until(from: instant(now), timeZone: try #require(TimeZone(identifier: zone))) == instant(expected))
    }

    @Test func unknownButtonsAndValuesAreIgnored() {
        #expect(SlackButton(actionID: "keep_awake_forever", value: "staging") == nil)
        #expect(SlackButton(actionID: "keep_awake_1h", value: "") == nil)
        for value in ["/", "/shop", "staging/", "staging/a,", "staging/,b"] { #expect(SlackButton(actionID: "keep_awake_1h", value: value) == nil, "\(value)") }
        #expect(SlackButton(actionID: "keep_awake_1h", value: "staging/a,b")?.namespaces == ["a", "b"], "one message warns of several namespaces")
        #expect(SlackButton(actionID: "keep_awake_1h", value: "staging")?.namespaces == [], "the whole cluster")
    }
}

/// A minimal command plugin and notifier for the Slack flow tests (the shipped plugins have
/// their own tests): `/k8s-wake <cluster> [namespace] [duration]`, `/k8s-status`.
let testCommandPlugin = """
    function handle(cmd)
      local words = {}
      for word in string.gmatch(cmd.text or "", "%S+") do words[#words + 1] = word end
      if cmd.command == "/k8s-status" then
        return {actions = {{type = "status"}}, response = {text = "Status (" .. cmd.timezone .. "):"}}
      end
      local action = {type = cmd.command == "/k8s-sleep" and "sleep" or "wake", cluster = words[1]}
      for i = 2, #words do
        if string.match(words[i], "^%d+[hmd]$") then action.duration = words[i] else action.namespaces = {words[i]} end
      end
      return {actions = {action}, response = {text = "On it, <@" .. cmd.user_id .. ">."}}
    end
    """

/// A Slack Web API that takes every message, recording each request's body.
func acceptingSlackAPI(recording received: Recorder<String>) async throws -> TestHTTPServer {
    try await TestHTTPServer.start { request in
        received.append(String(decoding: request.body, as: UTF8.self))
        return .text(200, #"{"ok":true,"channel":"C1","ts":"1.2"}"#, contentType: "application/json")
    }
}

let testNotifyPlugin = """
    function format(event)
      if event.type == "sleep_done" or event.type == "wake_done" then
        return {text = event.type .. " " .. event.cluster .. "/" .. (event.namespace or "") .. " by " .. event.actor .. " (" .. event.timezone .. ")"}
      end
      if event.type == "operation_failed" then
        return {text = "failed " .. event.cluster .. "/" .. (event.namespace or "") .. ": " .. tostring(event.operation.error)}
      end
      return nil
    end
    """

@Suite("Slack bot end to end", .serialized, .awaitingCleanup)
struct SlackBotTests {
    static let secret = "test-signing-secret"
    static let cluster = """
        schedules:
          - {name: office-hours, namespaces: [shop], weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00"}
        teams:
          - {name: web, namespaces: [shop], slackChannel: "#web"}
        """

    func fixture(slack extra: String = "", unreachable: [String] = []) async throws -> HubFixture {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.cluster)], unreachable: unreachable, start: instant("2027-01-04T21:00:00Z"))
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 2))
        try fixture.directory.write("plugins/slack/commands.lua", testCommandPlugin)
        try fixture.directory.write("plugins/notify/basic.lua", testNotifyPlugin)
        try fixture.directory.write("sandman.yaml", """
            listen: 127.0.0.1:0
            database: hub.sqlite
            plugins: {directory: plugins}
            slack:
              signingSecrets: [\(Self.secret)]
              timeZone: Europe/Rome
              principals:
                - {users: [U-ADMIN], role: admin}
                - {users: [U-VIEW], role: viewer}
            \(extra)
            """)
        return fixture
    }

    @Test func aSlashCommandWakesANamespaceAndTheResultReachesTheResponseURL() async throws {
        var fixture = try await fixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        let original = await fixture.replicas("staging", "shop")
        try await fixture.startHub()
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })

        let simulator = SlackCommandSimulator(hub: fixture.url, secret: Self.secret, user: "U-ADMIN", userName: "alice", channel: "C1", channelName: "web")
        let result = try await simulator.send("/k8s-wake staging shop 2h", wait: .seconds(20), linger: .seconds(1))
        #expect(result.status == 200)
        let reply = SlackCommandSimulator.text(result.reply)
        #expect(reply.contains("On it, <@U-ADMIN>."))
        #expect(reply.contains(":sunny: waking *staging*/shop for 2h"))
        #expect(result.reply["response_type"] == "ephemeral")
        #expect(result.followUps.count == 1)
        #expect(SlackCommandSimulator.text(result.followUps.first ?? .null).contains("wake of *staging/shop* succeeded: 2 object(s) done"))
        #expect(await fixture.replicas("staging", "shop") == original)
        let audit = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z")
        #expect(audit.body["entries"]?.array?.contains { $0["actor"] == "slack:alice" && $0["source"] == "slack" && $0["result"] == "succeeded" } == true)

        // Helpful errors for what does not exist, and rights checked per Slack user.
        let unknown = try await simulator.send("/k8s-wake mars", wait: .zero)
        #expect(SlackCommandSimulator.text(unknown.reply).contains("cluster \"mars\" is not managed by this hub; clusters: staging"))
        let unknownNamespace = try await simulator.send("/k8s-wake staging nope", wait: .zero)
        #expect(SlackCommandSimulator.text(unknownNamespace.reply).contains("cluster staging has no managed namespace nope; managed: shop"))
        var viewer = simulator
        viewer.user = "U-VIEW"
        let denied = try await viewer.send("/k8s-sleep staging shop", wait: .zero)
        #expect(SlackCommandSimulator.text(denied.reply) == ":no_entry: sleep of *staging*/shop refused: the viewer role may only read")
        #expect(denied.reply["response_type"] == "ephemeral")
        let status = try await viewer.send("/k8s-status", wait: .zero)
        #expect(SlackCommandSimulator.text(status.reply).contains("*staging* (staging): 0 of 1 asleep\n    awake: shop"), "\(status.reply)")
        #expect(SlackCommandSimulator.text(status.reply).hasPrefix("Status (Europe/Rome):"), "the hub's slack.timeZone")
    }

    @Test func membersOfAUserGroupGetItsRightsLookedUpThroughTheWebAPI() async throws {
        let slack = try await TestHTTPServer.start { request in
            guard request.path == "/api/usergroups.users.list", request.header("Authorization") == "Bearer xoxb-test" else { return .text(404, "no") }
            if request.uri.hasSuffix("usergroup=S-OPS") {
                return .text(200, #"{"ok":true,"users":["U-GROUPIE","U-OTHER"]}"#, contentType: "application/json")
            }
            return .text(200, #"{"ok":false,"error":"no_such_subteam"}"#, contentType: "application/json")
        }
        defer { afterTest { await slack.shutdown() } }
        var fixture = try await fixture(slack: """
                - {userGroups: [S-OPS], role: operator, teams: [web]}
                - {userGroups: [S-GONE], role: admin}
              botToken: xoxb-test
              apiURL: \(slack.baseURL)/api
            """)
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })

        let groupie = SlackCommandSimulator(hub: fixture.url, secret: Self.secret, user: "U-GROUPIE", userName: "gina", channel: "C1", channelName: "web")
        let woken = try await groupie.send("/k8s-wake staging shop 1h", wait: .zero)
        #expect(SlackCommandSimulator.text(woken.reply).contains(":sunny: waking *staging*/shop for 1h"), "\(woken.reply)")
        #expect(await eventually { await fixture.isAwake("staging", "shop") })

        // Not in a group that resolves: may only read. The group lists are cached meanwhile.
        var stranger = groupie
        stranger.user = "U-STRANGER"
        let denied = try await stranger.send("/k8s-sleep staging shop", wait: .zero)
        #expect(SlackCommandSimulator.text(denied.reply).contains(":no_entry: sleep of *staging*/shop refused: the viewer role may only read"), "\(denied.reply)")
        // Each group was looked up once: a list is cached, and so for a while is a failure.
        let lookups = slack.requests.map(\.uri)
        #expect(lookups.filter { $0.hasSuffix("usergroup=S-OPS") }.count == 1, "\(lookups)")
        #expect(lookups.filter { $0.hasSuffix("usergroup=S-GONE") }.count == 1, "\(lookups)")
    }

    @Test func aClusterDownFromTheStartIsAnnouncedOnceAndHealthyOnesAreNotRecovered() async throws {
        let received = Recorder<String>()
        let slack = try await TestHTTPServer.start { request in
            received.append(String(decoding: request.body, as: UTF8.self))
            return .text(200, #"{"ok":true}"#, contentType: "application/json")
        }
        defer { afterTest { await slack.shutdown() } }
        var fixture = try await fixture(slack: "  botToken: xoxb-test\n  apiURL: \(slack.baseURL)/api\n  defaultChannel: \"#ops\"", unreachable: ["edge"])
        defer { afterTest { [fixture] in await fixture.stop() } }
        try fixture.directory.write("plugins/notify/health.lua", """
            function format(event)
              if event.type == "cluster_unreachable" or event.type == "cluster_recovered" then
                return {text = event.type .. " " .. event.cluster}
              end
            end
            """)
        try await fixture.startHub()
        #expect(await eventually { received.values.contains { $0.contains("cluster_unreachable edge") } }, "\(received.values)")
        // Probes keep failing; the outage is told once, and staging, ready from the start, never "recovered".
        let edge = try #require(fixture.server?.hub.agents["edge"])
        let probed = await edge.probes
        #expect(await eventually { await edge.probes >= probed + 5 })
        let store = try #require(fixture.server?.hub.store)
        #expect(await eventually { (try? await store.dueMessages(at: .distantFuture))?.isEmpty == true })
        let health = received.values.filter { $0.contains("cluster_") }
        #expect(health.count == 1, "\(health)")
        #expect(health.first?.contains(##""channel":"#ops""##) == true, "no team or cluster channel: the default one")
        let clusters = try await fixture.api("GET", "/api/v1/clusters")
        #expect(clusters.body["clusters"]?.array?.first { $0["name"] == "edge" }?["reachable"] == false)
    }

    @Test func productionNeedsTheAllowListOrTheAdminRole() async throws {
        var fixture = try await HubFixture.make(clusters: ["production": ("production", "schedules:\n  - {name: nights, namespaces: [shop], weekdays: \"1-5\", sleepAt: \"20:00\", wakeUpAt: \"08:00\"}\nteams:\n  - {name: web, namespaces: [shop]}\n")], start: instant("2027-01-04T12:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["production"]!.load(manifests: HubFixture.shop("shop", deployments: 1))
        try fixture.directory.write("plugins/slack/commands.lua", testCommandPlugin)
        try fixture.directory.write("sandman.yaml", """
            listen: 127.0.0.1:0
            database: hub.sqlite
            plugins: {directory: plugins}
            slack:
              signingSecrets: [\(Self.secret)]
              principals:
                - {users: [U-OPS, U-ONCALL, U-VIEW], role: operator, teams: [web]}
                - {users: [U-VIEW], role: viewer}
              productionAllowList: [U-ONCALL, U-VIEWER-ONLY]
            """)
        try await fixture.startHub()
        #expect(await eventually { (try? await fixture.api("GET", "/api/v1/clusters/production/namespaces"))?.body["namespaces"]?.array?.count == 1 })

        var slack = SlackCommandSimulator(hub: fixture.url, secret: Self.secret, user: "U-OPS", userName: "olga", channel: "C1", channelName: "web")
        let denied = try await slack.send("/k8s-sleep production shop", wait: .zero)
        #expect(SlackCommandSimulator.text(denied.reply).contains(":no_entry: sleep of *production*/shop refused: production needs the admin role"), "\(denied.reply)")
        slack.user = "U-ONCALL"
        let allowed = try await slack.send("/k8s-sleep production shop", wait: .zero)
        #expect(!SlackCommandSimulator.text(allowed.reply).contains(":no_entry:"), "\(allowed.reply)")
        #expect(await eventually { await fixture.isAsleep("production", "shop") })
        // The allow-list lifts the production rule, not the role: someone who may only read still may.
        slack.user = "U-VIEWER-ONLY"
        let viewer = try await slack.send("/k8s-wake production shop", wait: .zero)
        #expect(SlackCommandSimulator.text(viewer.reply).contains(":no_entry: wake of *production*/shop refused: the viewer role may only read"), "\(viewer.reply)")
    }

    @Test func theResultIsFormattedByTheShippedNotifyPluginAndResponseURLsAreLimited() async throws {
        var fixture = try await fixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        try fixture.directory.write("plugins/notify/lifecycle.lua", try String(contentsOfFile: repositoryFile("plugins/notify/lifecycle.lua"), encoding: .utf8))
        try await fixture.startHub()
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })

        let simulator = SlackCommandSimulator(hub: fixture.url, secret: Self.secret, user: "U-ADMIN", userName: "alice", channel: "C1", channelName: "web")
        let result = try await simulator.send("/k8s-wake staging shop 2h", wait: .seconds(20), linger: .seconds(1))
        let followUp = try #require(result.followUps.first)
        #expect(followUp["text"] == ":sunny: <@U-ADMIN>: wake of *staging/shop* succeeded")
        #expect(followUp["blocks"]?.array?.count == 3)
        #expect(followUp["response_type"] == "in_channel")

        // Slack's limits per response_url: five posts, within 30 minutes of the command. Counted
        // where they arrive, and none left to send.
        let arrived = Recorder<String>()
        let responseURL = try await TestHTTPServer.start { request in
            arrived.append(request.path)
            return .text(200, "ok")
        }
        defer { afterTest { await responseURL.shutdown() } }
        let followUps = try #require(fixture.server?.slack?.followUps)
        let store = try #require(fixture.server?.hub.store)
        let sent = fixture.clock.now
        var accepted: [Bool] = []
        for index in 0..<6 {
            accepted.append(await followUps.post(["text": "x"], to: responseURL.baseURL + "/1", sentAt: sent, key: "limit-\(index)"))
        }
        #expect(accepted == [true, true, true, true, true, false])
        #expect(await eventually { arrived.values.count == 5 })
        #expect(await eventually { (try? await store.dueMessages(at: .distantFuture))?.isEmpty == true })
        #expect(arrived.values == Array(repeating: "/1", count: 5))
        fixture.clock.advance(by: 1801)
        #expect(await followUps.post(["text": "late"], to: responseURL.baseURL + "/2", sentAt: sent, key: "late") == false)
        #expect(try await store.dueMessages(at: .distantFuture).isEmpty)
    }

    @Test func unsignedStaleAndOversizedRequestsAreRefusedAndAudited() async throws {
        var fixture = try await fixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        let body = "command=%2Fk8s-wake&text=staging&user_id=U-ADMIN"
        let timestamp = String(Int(Date().timeIntervalSince1970))
        func post(_ body: String, timestamp: String?, signature: String?) async throws -> Int {
            var request = URLRequestLike(method: "POST", url: fixture.url + "/slack/commands", body: body)
            request.headers["Content-Type"] = "application/x-www-form-urlencoded"
            if let timestamp { request.headers["X-Slack-Request-Timestamp"] = timestamp }
            if let signature { request.headers["X-Slack-Signature"] = signature }
            return try await request.send().status
        }
        #expect(try await post(body, timestamp: nil, signature: nil) == 401)
        #expect(try await post(body, timestamp: timestamp, signature: try await pythonSignature(secret: "wrong", timestamp: timestamp, body: body)) == 401)
        let old = String(Int(Date().timeIntervalSince1970) - 3600)
        #expect(try await post(body, timestamp: old, signature: try await pythonSignature(secret: Self.secret, timestamp: old, body: body)) == 401)
        let large = body + "&pad=" + String(repeating: "x", count: 70_000)
        #expect(try await post(large, timestamp: timestamp, signature: "v0=00") == 413)
        let signature = try await pythonSignature(secret: Self.secret, timestamp: timestamp, body: body)
        #expect(try await post(body, timestamp: timestamp, signature: signature) == 200)
        #expect(try await post(body, timestamp: timestamp, signature: signature) == 401)
        // Slack's certificate check is unsigned, wants a plain 200, and runs no command (nor is it audited).
        var check = URLRequestLike(method: "POST", url: fixture.url + "/slack/commands", body: "ssl_check=1&token=abc")
        check.headers["Content-Type"] = "application/x-www-form-urlencoded"
        let checked = try await check.send()
        #expect(checked.status == 200)
        #expect(checked.body == .string(""), "\(checked.body)")
        let audit = try await fixture.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z")
        #expect((audit.body["entries"]?.array ?? []).filter { $0["source"] == "slack" && $0["result"] == "rejected" }.count == 5)
    }

    @Test func keepAwakeButtonCreatesAnOverrideAndEventsAreVerified() async throws {
        var fixture = try await fixture()
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        let payload: JSONValue = [
            "type": "block_actions", "user": ["id": "U-ADMIN", "username": "alice"], "channel": ["id": "C1"], "trigger_id": "t1",
            "actions": [["action_id": "keep_awake_1h", "value": "staging/shop", "block_id": "b1"]],
        ]
        let body = String(decoding: FormBody.encode([("payload", payload.serialized())]), as: UTF8.self)
        let timestamp = String(Int(Date().timeIntervalSince1970))
        var request = URLRequestLike(method: "POST", url: fixture.url + "/slack/interactions", body: body)
        request.headers["Content-Type"] = "application/x-www-form-urlencoded"
        request.headers["X-Slack-Request-Timestamp"] = timestamp
        request.headers["X-Slack-Signature"] = try await pythonSignature(secret: Self.secret, timestamp: timestamp, body: body)
        #expect(try await request.send().status == 200)
        let overrides = try await fixture.api("GET", "/api/v1/overrides")
        let created = try #require(overrides.body["overrides"]?.array?.first)
        #expect(created["kind"] == "wake")
        #expect(created["namespace"] == "shop")
        #expect(created["actor"] == "slack:alice")
        #expect(created["until"] == "2027-01-04T22:00:00Z")
        #expect(await eventually { await fixture.isAwake("staging", "shop") })

        // A button naming a namespace the hub does not manage makes no override.
        let stray: JSONValue = [
            "type": "block_actions", "user": ["id": "U-ADMIN", "username": "alice"], "channel": ["id": "C1"], "trigger_id": "t2",
            "actions": [["action_id": "keep_awake_1h", "value": "staging/nope", "block_id": "b1"]],
        ]
        let strayBody = String(decoding: FormBody.encode([("payload", stray.serialized())]), as: UTF8.self)
        var strayRequest = URLRequestLike(method: "POST", url: fixture.url + "/slack/interactions", body: strayBody)
        strayRequest.headers["Content-Type"] = "application/x-www-form-urlencoded"
        strayRequest.headers["X-Slack-Request-Timestamp"] = timestamp
        strayRequest.headers["X-Slack-Signature"] = try await pythonSignature(secret: Self.secret, timestamp: timestamp, body: strayBody)
        #expect(try await strayRequest.send().status == 200)
        #expect(try await fixture.api("GET", "/api/v1/overrides").body["overrides"]?.array?.count == 1)

        let challenge = #"{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","token":"x"}"#
        var event = URLRequestLike(method: "POST", url: fixture.url + "/slack/events", body: challenge)
        event.headers["X-Slack-Request-Timestamp"] = timestamp
        event.headers["X-Slack-Signature"] = try await pythonSignature(secret: Self.secret, timestamp: timestamp, body: challenge)
        #expect(try await event.send().body["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    }

    /// A sleep that could not run at all (its state Secret refused) is announced with the reason.
    @Test func aSleepThatCouldNotRunIsAnnouncedWithItsError() async throws {
        let received = Recorder<String>()
        let slack = try await acceptingSlackAPI(recording: received)
        defer { afterTest { await slack.shutdown() } }
        var fixture = try await fixture(slack: "  botToken: xoxb-test\n  apiURL: \(slack.baseURL)/api")
        defer { afterTest { [fixture] in await fixture.stop() } }
        fixture.simulators["staging"]!.setFaults(.init(errorRate: 1, errorVerbs: ["create"], errorStatus: 403, errorResources: ["secrets"]))
        try await fixture.startHub()
        #expect(await eventually { !received.values.isEmpty })
        let message = try JSONValue(parsing: received.values[0])
        let text = try #require(message["text"]?.string)
        #expect(text.hasPrefix("failed staging/shop: "), "\(text)")
        #expect(text.contains("secrets is forbidden"), "the error as the cluster gave it: \(text)")
        #expect(message["channel"] == "#web")
    }

    @Test func notificationsSurviveARestartAndRespectRetryAfter() async throws {
        let received = Recorder<(Date, String, String)>()
        let failures = Countdown(3)
        let slack = try await TestHTTPServer.start { request in
            let body = String(decoding: request.body, as: UTF8.self)
            received.append((Date(), request.header("Authorization") ?? "", body))
            // Down, then throttled, then fine.
            let remaining = failures.next()
            if remaining >= 1 { return .text(500, "down") }
            if remaining == 0 { return .full(status: 429, headers: [("Retry-After", "120")]) }
            return .text(200, #"{"ok":true,"channel":"C1","ts":"1.2"}"#, contentType: "application/json")
        }
        defer { afterTest { await slack.shutdown() } }
        var fixture = try await fixture(slack: "  botToken: xoxb-test\n  apiURL: \(slack.baseURL)/api\n  maxDeliveryAge: 1h")
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.startHub()
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        #expect(await eventually { received.values.count >= 1 })
        let firstAttempt = received.values.count
        // The hub goes down with the message undelivered, and comes back.
        await fixture.stopHub()
        try await fixture.startHub()
        // Retries follow the hub's clock: 2 s after the first failure, then 4 s...
        for _ in 0..<4 where received.values.count < 3 {
            let before = received.values.count
            fixture.clock.advance(by: 5)
            _ = await eventually(timeout: .seconds(30)) { received.values.count > before }
        }
        #expect(firstAttempt == 1)
        #expect(received.values.count == 3, "down twice, then throttled: \(received.values.map(\.2))")
        // Throttled with Retry-After: 120 s: not due before that (once the hub has the answer,
        // a moment after Slack has the request)...
        let store = try #require(fixture.server?.hub.store)
        #expect(await eventually { (try? await store.dueMessages(at: fixture.clock.now.addingTimeInterval(119)))?.isEmpty == true })
        #expect(try await store.dueMessages(at: fixture.clock.now.addingTimeInterval(120)).count == 1)
        // ...and delivered once after it, never to be due again.
        fixture.clock.advance(by: 121)
        #expect(await eventually { received.values.count == 4 })
        #expect(await eventually { (try? await store.dueMessages(at: .distantFuture))?.isEmpty == true })
        #expect(received.values.count == 4)
        let message = try JSONValue(parsing: received.values.last!.2)
        #expect(message["text"] == "sleep_done staging/shop by schedule (UTC)", "the zone of the namespace's schedule")
        #expect(message["channel"] == "#web")
        #expect(received.values.last!.1 == "Bearer xoxb-test")
    }
}
