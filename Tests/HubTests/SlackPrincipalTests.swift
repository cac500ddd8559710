import Config
import Foundation
@testable import Hub
import JSON
import Logging
import TestSupport
import Testing

/// Who a Slack user is for the hub: `slack.principals` by user, channel and user group, and the
/// group lists looked up through the Web API.
@Suite("Slack principals", .awaitingCleanup)
struct SlackPrincipalTests {
    static let settings: HubConfiguration.Slack = {
        var slack = HubConfiguration.Slack()
        slack.principals = [
            .init(users: ["U-ANNA"], role: .viewer),
            .init(users: ["U-ANNA"], role: .operator, teams: ["web"]),
            .init(channels: ["C-OPS"], role: .operator, teams: ["ops"], clusters: ["staging"]),
            .init(userGroups: ["S-ADMINS"], role: .admin, clusters: ["dev"]),
            .init(users: ["U-BEN"], role: .operator),
        ]
        slack.productionAllowList = ["U-BEN"]
        return slack
    }()

    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var user: String
        var channel = "C-RANDOM"
        var groups: Set<String> = []
        var role: Role
        var teams: [String] = []
        var clusters: [String] = []
        var production = false
    }

    static let cases: [Case] = [
        Case(testDescription: "matches nothing: viewer", user: "U-NOBODY", role: .viewer),
        Case(testDescription: "two user entries: the higher role", user: "U-ANNA", role: .operator, teams: ["web"]),
        Case(testDescription: "the channel alone", user: "U-NOBODY", channel: "C-OPS", role: .operator, teams: ["ops"], clusters: ["staging"]),
        Case(
            testDescription: "user and channel of the same role: both teams, no cluster limit", user: "U-ANNA", channel: "C-OPS",
            role: .operator, teams: ["ops", "web"]
        ),
        Case(testDescription: "a user group outranks the channel", user: "U-NOBODY", channel: "C-OPS", groups: ["S-ADMINS"], role: .admin, clusters: ["dev"]),
        Case(testDescription: "a group the principals do not name", user: "U-NOBODY", groups: ["S-OTHER"], role: .viewer),
        Case(testDescription: "unlimited operator on the allow-list", user: "U-BEN", role: .operator, production: true),
        Case(testDescription: "the allow-list gives no role", user: "U-BEN", channel: "C-OPS", role: .operator, production: true),
    ]

    @Test(arguments: cases)
    func principal(_ testCase: Case) {
        let principal = SlackAccess.principal(user: testCase.user, userName: "", channel: testCase.channel, groups: testCase.groups, settings: Self.settings)
        #expect(principal.role == testCase.role)
        #expect(principal.teams == testCase.teams)
        #expect(principal.clusters == testCase.clusters)
        #expect(principal.mayOperateProduction == testCase.production)
        #expect(principal.name == "slack:\(testCase.user)")
    }

    /// A group list is fetched once and cached; a failed refresh keeps the last list; the list
    /// is refreshed once it is older than its maximum age.
    @Test func groupListsAreCachedKeptThroughFailuresAndRefreshed() async throws {
        let answers = Recorder<String>()
        let script = [#"{"ok":true,"users":["U-1"]}"#, #"{"ok":false,"error":"ratelimited"}"#, #"{"ok":true,"users":["U-2"]}"#]
        let calls = Countdown(0)
        let slack = try await TestHTTPServer.start { request in
            guard request.path == "/api/usergroups.users.list", request.header("Authorization") == "Bearer xoxb-test" else { return .text(404, "no") }
            let body = script[min(-calls.next(), script.count) - 1]
            answers.append(body)
            return .text(200, body, contentType: "application/json")
        }
        defer { afterTest { await slack.shutdown() } }
        var settings = Self.settings
        settings.botToken = "xoxb-test"
        settings.apiURL = slack.baseURL + "/api"
        var logger = Logger(label: "groups-test")
        logger.logLevel = .critical
        let maxAge = Duration.seconds(2)  // long enough for a loaded machine to ask twice within it
        let groups = SlackUserGroups(settings: settings, maxAge: maxAge, retryAfterFailure: maxAge, logger: logger)

        #expect(await groups.groups(of: "U-1") == ["S-ADMINS"])
        #expect(await groups.groups(of: "U-2") == [])
        #expect(answers.values.count == 1, "cached")
        try await Task.sleep(for: maxAge + .milliseconds(100))
        // The refresh fails: the last list stays in use.
        #expect(await groups.groups(of: "U-1") == ["S-ADMINS"])
        #expect(answers.values.count == 2)
        try await Task.sleep(for: maxAge + .milliseconds(100))
        // The next one succeeds: the new list replaces it.
        #expect(await groups.groups(of: "U-1") == [])
        #expect(await groups.groups(of: "U-2") == ["S-ADMINS"])
        #expect(answers.values.count == 3)
    }
}
