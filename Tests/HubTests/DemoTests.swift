import Demo
import Foundation
import Hub
import JSON
import Logging
import Scheduling
import TestSupport
import Testing
import Transport

/// `sandman demo` as a newcomer meets it: the repository's configuration, fixtures and plugins.
@Suite("Demo", .awaitingCleanup)
struct DemoTests {
    @Test func theDemoStartsThreeReadyClustersAndAnswersSlackCommands() async throws {
        let state = try TemporaryDirectory("demo")
        defer { state.remove() }
        var logger = Logger(label: "demo-test")
        logger.logLevel = .warning
        let demo = try await DemoEnvironment.start(configPath: repositoryFile("sandman.yaml"), port: 0, speed: 1, stateDirectory: state.path, handleSignals: false, logger: logger)
        defer { afterTest { await demo.stop() } }

        func get(_ path: String) async -> JSONValue? {
            var request = URLRequestLike(method: "GET", url: demo.server.url + path)
            request.headers["Authorization"] = "Bearer \(demo.adminToken)"
            return try? await request.send().body
        }
        #expect(await eventually(timeout: .seconds(30)) {
            (await get("/api/v1/clusters"))?["clusters"]?.array?.filter { $0["ready"] == true }.count == 3
        })
        for cluster in ["production", "staging", "dev"] {
            #expect(await eventually(timeout: .seconds(30)) { ((await get("/api/v1/clusters/\(cluster)/namespaces"))?["namespaces"]?.array?.count ?? 0) > 0 }, "\(cluster)")
        }
        #expect(demo.instructions.contains("export SANDMAN_SLACK_SIGNING_SECRETS=\(demo.slackSecret)"))
        // A token for the demo is made in the demo's own database.
        #expect(demo.instructions.contains("SANDMAN_DATABASE=\(state.path)/sandman.sqlite"), "\(demo.instructions)")

        let slack = SlackCommandSimulator(hub: demo.server.url, secret: demo.slackSecret, user: "U0DEMO", userName: "newcomer", channel: "C0PLATFORM", channelName: "platform")
        let status = try await slack.send("/k8s-status", wait: .zero)
        #expect(status.status == 200)
        let text = SlackCommandSimulator.text(status.reply)
        for cluster in ["production", "staging", "dev"] { #expect(text.contains("*\(cluster)*"), "\(text)") }
    }
}

/// Two days of the demo at `--speed 1200` (about two and a half minutes), with issue 12's first observation
/// played in it: nothing is put to sleep where its schedule says awake, and nothing is done twice.
@Suite("Demo over two days", .awaitingCleanup)
struct DemoDaysTests {
    // Monday 2027-01-11 09:00 in Rome: staging is awake (office hours 06:00-20:00).
    static let monday = instant("2027-01-11T08:00:00Z")

    @Test func twoDaysAtSpeed1200FollowTheSchedulesAndTheOverrides() async throws {
        let state = try TemporaryDirectory("demo-days")
        defer { state.remove() }
        var logger = Logger(label: "demo-days")
        logger.logLevel = .warning
        let demo = try await DemoEnvironment.start(
            configPath: repositoryFile("sandman.yaml"), port: 0, speed: 1200, start: Self.monday, stateDirectory: state.path,
            handleSignals: false, logger: logger
        )
        defer { afterTest { await demo.stop() } }
        let clock = demo.server.hub.clock
        func api(_ method: String, _ path: String, body: String? = nil) async throws -> JSONValue {
            var request = URLRequestLike(method: method, url: demo.server.url + path, body: body)
            request.headers["Authorization"] = "Bearer \(demo.adminToken)"
            return try await request.send().body
        }
        func waitFor(_ instant: Date) async throws {
            while clock.now < instant { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(await eventually(timeout: .seconds(30)) {
            ((try? await api("GET", "/api/v1/clusters/staging/namespaces"))?["namespaces"]?.array ?? []).contains { $0["namespace"] == "search" }
        })

        // `sandman sleep staging search`, then `/k8s-wake staging search 1h` an hour later.
        let sleep = try await api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["search"]}"#)
        #expect(sleep[path: ["operation", "id"]] != nil, "\(sleep)")
        try await waitFor(instant("2027-01-11T09:00:00Z"))
        let slack = SlackCommandSimulator(hub: demo.server.url, secret: demo.slackSecret, user: "U0DEMO", userName: "newcomer", channel: "C0PLATFORM", channelName: "platform")
        let wake = try await slack.send("/k8s-wake staging search 1h", wait: .zero)
        #expect(wake.status == 200)
        try await waitFor(instant("2027-01-13T08:00:00Z"))

        var schedules: [String: SleepSchedule] = [:]
        for cluster in ["production", "staging", "dev"] {
            for namespace in try await api("GET", "/api/v1/clusters/\(cluster)/namespaces")["namespaces"]?.array ?? [] {
                let description = namespace["schedule"] ?? .null
                schedules["\(cluster)/\(namespace["namespace"]?.string ?? "")"] = try SleepSchedule(
                    weekdays: description["weekdays"]?.string ?? "", sleepAt: description["sleepAt"]?.string ?? "",
                    wakeUpAt: description["wakeUpAt"]?.string, timeZone: description["timeZone"]?.string
                )
            }
        }
        let operations = (try await api("GET", "/api/v1/operations?limit=1000")["operations"]?.array ?? []).reversed()
        #expect(operations.count > 10, "two days of three clusters")
        var last: [String: String] = [:]
        for operation in operations {
            let key = "\(operation["cluster"]?.string ?? "")/\(operation["namespaces"]?.array?.first?.string ?? "")"
            let action = operation["action"]?.string ?? ""
            let at = try Date(operation["createdAt"]?.string ?? "", strategy: .iso8601)
            let source = operation["source"]?.string ?? ""
            if source == "schedule" || source == "override" {
                #expect(action != "sleep" || schedules[key]?.isAsleep(at: at) == true, "\(key) put to sleep at \(at) by \(source)")
                // A schedule that only puts to sleep does so at every sleepAt, asleep or not.
                let again = action == "sleep" && source == "schedule" && schedules[key]?.isSleepOnly == true
                #expect(last[key] != action || again, "\(key): \(action) at \(at) repeats the one before")
            }
            last[key] = action
        }
        let search = operations.filter { $0["cluster"] == "staging" && $0["namespaces"] == ["search"] }
        #expect(search.prefix(3).map { $0["source"] } == ["api", "slack", "schedule"], "\(search)")
        // The wake hour ends awake; asleep from 20:00 Rome that evening. A second of the machine is 20 minutes
        // here, so a loaded machine's late timer shows as hours: the bound is the evening, not the minute.
        let asleepAgain = try Date(search.dropFirst(2).first?["createdAt"]?.string ?? "", strategy: .iso8601)
        #expect(asleepAgain >= instant("2027-01-11T19:00:00Z") && asleepAgain < instant("2027-01-11T23:00:00Z"), "\(search)")
    }
}

/// The demo's GitOps mode as its instructions show it: a Slack wake of staging's `payments`
/// through a merge request and an Argo CD sync, and a production request that waits for an
/// approval given in GitLab.
@Suite("Demo with GitOps", .awaitingCleanup)
struct DemoGitOpsTests {
    // Monday 2027-01-11, 21:30 in Rome: both GitOps-managed namespaces are in their sleep window.
    static let night = instant("2027-01-11T20:30:00Z")

    @Test func aSlackWakeGoesThroughGitLabAndArgoCDAndProductionWaitsForApproval() async throws {
        let state = try TemporaryDirectory("demo-gitops")
        defer { state.remove() }
        var logger = Logger(label: "demo-gitops")
        logger.logLevel = .warning
        let demo = try await DemoEnvironment.start(
            configPath: repositoryFile("sandman.yaml"), port: 0, speed: 1, start: Self.night, stateDirectory: state.path, handleSignals: false,
            logger: logger
        )
        defer { afterTest { await demo.stop() } }
        let gitops = try #require(demo.gitops)
        #expect(demo.instructions.contains("/k8s-wake staging payments 2h") && demo.instructions.contains(gitops.gitlab.url))
        func api(_ method: String, _ path: String, body: String? = nil) async throws -> JSONValue {
            var request = URLRequestLike(method: method, url: demo.server.url + path, body: body)
            request.headers["Authorization"] = "Bearer \(demo.adminToken)"
            return try await request.send().body
        }
        func replicas(_ cluster: String, _ namespace: String, _ name: String) async -> Int64? {
            await demo.simulators[cluster]?.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: namespace)
                .first { $0[path: ["metadata", "name"]]?.string == name }?[path: ["spec", "replicas"]]?.int
        }
        func operation(_ cluster: String, _ namespace: String, source: String) async throws -> JSONValue? {
            try await api("GET", "/api/v1/operations?limit=100")["operations"]?.array?
                .first { $0["cluster"]?.string == cluster && $0["namespaces"] == [.string(namespace)] && $0["source"]?.string == source }
        }
        func stages(_ operation: JSONValue?) -> [String] {
            operation?["stages"]?.array?.compactMap { $0["stage"]?.string } ?? []
        }

        // Argo CD deploys both namespaces; the hub finds them GitOps-managed and puts them to sleep,
        // pausing self-heal first.
        #expect(await eventually(timeout: .seconds(60)) {
            let staging = await demo.server.hub.agents["staging"]?.gitopsManagedNamespaces() ?? []
            let production = await demo.server.hub.agents["production"]?.gitopsManagedNamespaces() ?? []
            return staging.contains("payments") && production.contains("payments-sandbox")
        })
        #expect(await eventually(timeout: .seconds(60)) { await replicas("staging", "payments", "api") == 0 })
        #expect(await eventually(timeout: .seconds(60)) { await replicas("production", "payments-sandbox", "api") == 0 })

        let slack = SlackCommandSimulator(
            hub: demo.server.url, secret: demo.slackSecret, user: "U0DEMO", userName: "newcomer", channel: "C0PLATFORM", channelName: "platform"
        )
        let wake = try await slack.send("/k8s-wake staging payments 2h", wait: .zero)
        #expect(wake.status == 200)
        var last: JSONValue?
        #expect(await eventually(timeout: .seconds(60)) {
            last = try? await operation("staging", "payments", source: "slack")
            return stages(last).last == "done"
        }, "\(String(describing: last))")
        #expect(stages(last) == ["requested", "mr_opened", "merged", "synced", "done"])
        #expect(await eventually(timeout: .seconds(30)) { await replicas("staging", "payments", "api") == 3 })

        // Production: the merge request waits for a person.
        let request = try await api("POST", "/api/v1/clusters/production/wake", body: #"{"namespaces": ["payments-sandbox"], "duration": "1h"}"#)
        let id = try #require(request[path: ["operation", "id"]]?.string, "\(request)")
        #expect(await eventually(timeout: .seconds(60)) {
            stages(try? await api("GET", "/api/v1/operations/\(id)")["operation"]).contains("awaiting_approval")
        })
        #expect(await replicas("production", "payments-sandbox", "api") == 0)
        var opened: Int?
        for iid in 1...20 where await gitops.gitlab.mergeRequest(project: gitops.options.project, iid: iid)?["state"] == "opened" {
            opened = iid
        }
        let iid = try #require(opened)
        let client = HTTPClient()
        defer { client.shutdown() }
        let approval = try await client.send(HTTPRequest(
            method: .post, url: gitops.gitlab.url + "/api/v4/projects/platform%2Fdeploy/merge_requests/\(iid)/approve",
            headers: ["PRIVATE-TOKEN": "glpat-alice"]
        ))
        #expect(approval.status == 201)
        #expect(await eventually(timeout: .seconds(60)) {
            stages(try? await api("GET", "/api/v1/operations/\(id)")["operation"]).last == "done"
        })
        #expect(await eventually(timeout: .seconds(30)) { await replicas("production", "payments-sandbox", "api") == 2 })
    }
}
