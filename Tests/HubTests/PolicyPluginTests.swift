import Foundation
import Hub
import JSON
import KubeSim
import Logging
import Scripting
import TestSupport
import Testing

/// Policy plugins shaping the schedules of a running hub: a "keep" holds a transition back
/// until the plugin lets it go, and overrides people make are not subject to policies.
@Suite("Policy plugins in the hub", .serialized, .awaitingCleanup)
struct PolicyPluginTests {
    static let officeHours = """
        schedules:
          - name: office-hours
            namespaces: ["shop", "payments-api"]
            weekdays: "1-5"
            sleepAt: "20:00"
            wakeUpAt: "08:00"
        """

    /// Keeps every scheduled sleep before 21:00 UTC.
    static let lateWindow = """
        function decide(ctx)
          if ctx.action == "sleep" and sandman.time.local_parts(ctx.now, "UTC").hour < 21 then
            return { action = "keep", reason = "not before 21:00" }
          end
        end
        """

    static func namespace(_ fixture: HubFixture, _ cluster: String, _ name: String) async -> JSONValue? {
        let answer = try? await fixture.api("GET", "/api/v1/clusters/\(cluster)/namespaces")
        return answer?.body["namespaces"]?.array?.first { $0["namespace"]?.string == name }
    }

    /// A policy that keeps every namespace, naming it, and a team `night` whose plugin sleeps
    /// its namespaces instead: each answer says which namespace it was about.
    static func echoingPlugins(in directory: TemporaryDirectory) async throws -> PluginHost {
        try directory.write("policy/echo.lua", "function decide(ctx) return {action = 'keep', reason = ctx.namespace} end")
        try directory.write("teams/night.lua", "function decide(ctx) return {action = 'sleep', reason = 'night ' .. ctx.proposal.reason} end")
        let host = PluginHost(configuration: .init(directory: directory.path, callTimeout: .seconds(30)), clock: { Date() }, logger: Logger(label: "advisor-test"))
        await host.reload()
        return host
    }

    /// The advice `echoingPlugins` give about `ns-<index>`, in team `night` when index is a multiple of 3.
    static func echoed(_ index: Int) -> PolicyAdvice {
        index % 3 == 0
            ? PolicyAdvice(action: .sleep, reason: "night ns-\(index)", plugin: "teams/night.lua")
            : PolicyAdvice(action: .keep, reason: "ns-\(index)", plugin: "policy/echo.lua")
    }

    /// Concurrent questions (an evaluation asks about many namespaces at a time) each get the
    /// advice about their own namespace, their team's plugin included.
    @Test func concurrentQuestionsEachGetTheirOwnAdvice() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let host = try await Self.echoingPlugins(in: directory)
        let advisor = PluginAdvisor(host: host)
        let answers = await withTaskGroup(of: (Int, PolicyAdvice).self) { group in
            for index in 0..<400 {
                group.addTask {
                    let context: JSONValue = ["namespace": .string("ns-\(index)")]
                    return (index, await advisor.advise(context, team: index % 3 == 0 ? "night" : nil))
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 400)
        for (index, advice) in answers {
            #expect(advice == Self.echoed(index))
        }
    }

    /// An evaluation's questions in one batch, as the hub asks them: each namespace's own advice,
    /// in order, its team's plugin included.
    @Test func aBatchOfQuestionsGetsEachItsOwnAdviceInOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let host = try await Self.echoingPlugins(in: directory)
        let questions = (0..<400).map { index -> (context: JSONValue, team: String?) in
            (["namespace": .string("ns-\(index)")], index % 3 == 0 ? "night" : nil)
        }
        let answers = await PluginAdvisor(host: host).advise(questions)
        #expect(answers.count == 400)
        for (index, advice) in answers.enumerated() {
            #expect(advice == Self.echoed(index))
        }
    }

    @Test func aKeptSleepHappensWhenThePluginLetsItGo() async throws {
        var fixture = try await HubFixture.make(clusters: ["staging": ("staging", Self.officeHours)], start: instant("2027-01-04T19:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try await fixture.simulators["staging"]!.load(manifests: HubFixture.shop("shop", deployments: 3) + "\n---\n" + HubFixture.shop("payments-api", deployments: 2))
        try fixture.directory.write("plugins/policy/late.lua", Self.lateWindow)
        let original = await fixture.replicas("staging", "shop")
        try await fixture.startHub()
        #expect(await eventually { await Self.namespace(fixture, "staging", "shop")?["state"] == "awake" })

        // 20:00 passes: the schedule wants sleep, the plugin holds it back, and says so.
        fixture.clock.set(instant("2027-01-04T20:00:30Z"))
        #expect(await eventually { await Self.namespace(fixture, "staging", "shop")?[path: ["heldBy", "plugin"]] == "policy/late.lua" })
        let held = await Self.namespace(fixture, "staging", "shop")
        #expect(held?["state"] == "awake")
        #expect(held?[path: ["heldBy", "reason"]] == "not before 21:00")
        #expect(await fixture.replicas("staging", "shop") == original)
        let table = try await fixture.cli(["get", "namespaces", "--cluster", "staging"])
        #expect(table.stdout.split(separator: "\n").contains { $0.hasPrefix("staging") && $0.contains("shop") && $0.contains("held by policy/late.lua") && $0.hasSuffix("not before 21:00") }, "\(table.stdout)")

        // A person's sleep override is not a policy matter: it acts at once.
        let override = try await fixture.api("POST", "/api/v1/overrides", body: #"{"cluster":"staging","namespace":"payments-api","kind":"sleep","duration":"1h"}"#)
        #expect(override.status == 201, "\(override.body)")
        #expect(await eventually { await fixture.isAsleep("staging", "payments-api") })
        #expect(await fixture.replicas("staging", "shop") == original)

        // 21:00: the plugin lets the held sleep go within a re-check interval, no day later.
        fixture.clock.set(instant("2027-01-04T21:00:30Z"))
        fixture.clock.set(instant("2027-01-04T21:01:31Z"))
        #expect(await eventually { await fixture.isAsleep("staging", "shop") })
        #expect(await eventually { await Self.namespace(fixture, "staging", "shop")?["heldBy"] == .null })
        let audit = try await fixture.api("GET", "/api/v1/audit?cluster=staging")
        #expect(audit.body["entries"]?.array?.contains { $0["action"] == "sleep" && $0["namespace"] == "shop" && $0["source"] == "schedule" && $0["actor"] == "schedule" } == true, "\(audit.body)")

        // And the next morning the schedule wakes it as usual.
        fixture.clock.set(instant("2027-01-05T08:00:30Z"))
        #expect(await eventually { await fixture.replicas("staging", "shop") == original })
    }

    @Test func theShippedPoliciesKeepProductionUpUnlessASleepInfoSaysSo() async throws {
        let production = """
            schedules:
              - name: nights
                namespaces: ["shop"]
                weekdays: "*"
                sleepAt: "20:00"
                wakeUpAt: "08:00"
            """
        var fixture = try await HubFixture.make(clusters: ["production": ("production", production)], start: instant("2027-01-04T19:00:00Z"))
        defer { afterTest { [fixture] in await fixture.stop() } }
        try? FileManager.default.removeItem(atPath: fixture.directory.path + "/plugins")
        try FileManager.default.copyItem(atPath: repositoryFile("plugins"), toPath: fixture.directory.path + "/plugins")
        try await fixture.simulators["production"]!.load(manifests: HubFixture.shop("shop", deployments: 2) + "\n---\n" + HubFixture.shop("checkout", deployments: 2) + "\n---\n" + """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: nights, namespace: checkout}
            spec: {weekdays: "*", sleepAt: "20:00", wakeUpAt: "08:00"}
            """)
        let shop = await fixture.replicas("production", "shop")
        try await fixture.startHub()
        #expect(await eventually { await Self.namespace(fixture, "production", "checkout")?["state"] == "awake" })

        fixture.clock.set(instant("2027-01-04T20:00:30Z"))
        #expect(await eventually { await fixture.isAsleep("production", "checkout") })
        #expect(await eventually { await Self.namespace(fixture, "production", "shop")?[path: ["heldBy", "plugin"]] == "policy/default.lua" })
        #expect(await Self.namespace(fixture, "production", "shop")?[path: ["heldBy", "reason"]] == "production sleeps only on a SleepInfo schedule")
        #expect(await fixture.replicas("production", "shop") == shop)
    }
}
