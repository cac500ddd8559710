import Foundation
import JSON
import Logging
@testable import Scripting
import TestSupport
import Testing

/// The host over real files: loading, the hook contracts and their fallbacks, hot reload.
@Suite struct PluginHostTests {
    static let now = Date(timeIntervalSince1970: 1_772_476_200)

    /// A host over `directory` whose deadlines no busy machine reaches, unless a test sets one.
    func host(
        _ directory: TemporaryDirectory, timeout: Duration = .seconds(30), instructions: Int = 10_000_000,
        reloadInterval: Duration = .seconds(2), logs: LogRecorder = LogRecorder()
    ) -> PluginHost {
        Self.host(directory.path, timeout: timeout, instructions: instructions, reloadInterval: reloadInterval, logs: logs)
    }

    static func host(
        _ directory: String, timeout: Duration = .seconds(30), instructions: Int = 10_000_000,
        reloadInterval: Duration = .seconds(2), logs: LogRecorder = LogRecorder()
    ) -> PluginHost {
        PluginHost(
            configuration: .init(
                directory: directory, callTimeout: timeout, reloadInterval: reloadInterval, instructionLimit: instructions,
                loadTimeout: .seconds(30), deadlineGrace: .seconds(60)
            ),
            clock: { Self.now }, logger: logs.logger
        )
    }

    static func policy(_ action: String, _ reason: String) -> String {
        "function decide(ctx) return {action = '\(action)', reason = '\(reason)'} end"
    }

    @Test func loadsEveryKindAndReportsEachFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/a.lua", Self.policy("sleep", "a"))
        try directory.write("teams/payments.lua", "return {decide = function(ctx) return nil end}")
        try directory.write("slack/commands.lua", "function handle(cmd) return {response = {text = 'hi'}} end")
        try directory.write("notify/n.lua", "function format(event) return nil end")
        try directory.write("notify/broken.lua", "function format(event) return nil")
        try directory.write("policy/nohook.lua", "function decied(ctx) end")
        try directory.write("policy/a_test.lua", "error('tests are not plugins')")
        try directory.write("policy/tests/a.yaml", "cases: []")
        try directory.write("lib/util.lua", "error('not a plugin place')")
        let host = host(directory)
        await host.reload()
        let statuses = host.statuses()
        #expect(statuses.map(\.file) == ["policy/a.lua", "policy/nohook.lua", "teams/payments.lua", "slack/commands.lua", "notify/broken.lua", "notify/n.lua"])
        #expect(statuses.map(\.state) == [.loaded, .failed, .loaded, .loaded, .failed, .loaded])
        #expect(statuses.map(\.kind) == [.policy, .policy, .team, .slackCommands, .notify, .notify])
        let broken = try #require(statuses.first { $0.file == "notify/broken.lua" }?.loadError)
        #expect(broken.reason == .compile)
        #expect(broken.line == 1)
        #expect(broken.description == "notify/broken.lua:1: 'end' expected near <eof>")
        let missing = try #require(statuses.first { $0.file == "policy/nohook.lua" }?.loadError)
        #expect(missing.reason == .missingHook("decide"))
        #expect(missing.description == "policy/nohook.lua: a policy plugin must define function decide(ctx)")
        #expect(statuses.first?.loadedAt == Self.now)
        #expect(statuses.first?.version?.count == 16)
    }

    @Test func policiesRunInFileOrderThenTheTeamAndEachSeesTheProposalSoFar() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/10-first.lua", Self.policy("sleep", "first"))
        try directory.write("policy/20-quiet.lua", "function decide(ctx) return nil end")
        try directory.write("policy/30-echo.lua", """
            function decide(ctx)
              return {action = 'keep', reason = 'saw ' .. ctx.proposal.action .. ' from ' .. ctx.proposal.plugin}
            end
            """)
        try directory.write("teams/payments.lua", """
            function decide(ctx) return {action = 'wake', reason = ctx.namespace .. ' after ' .. ctx.proposal.reason} end
            """)
        let host = host(directory)
        await host.reload()

        let outcome = await host.decide(["namespace": "payments-api"], team: "payments")
        #expect(outcome.consulted == ["policy/10-first.lua", "policy/20-quiet.lua", "policy/30-echo.lua", "teams/payments.lua"])
        #expect(outcome.opinions.map(\.plugin) == ["policy/10-first.lua", "policy/30-echo.lua", "teams/payments.lua"])
        #expect(outcome.decision == PolicyDecision(action: .wake, reason: "payments-api after saw sleep from policy/10-first.lua", plugin: "teams/payments.lua"))
        #expect(outcome.failures.isEmpty)

        let otherTeam = await host.decide(["namespace": "search"], team: "search")
        #expect(otherTeam.decision?.plugin == "policy/30-echo.lua")
        let noTeam = await host.decide(["namespace": "x"], team: nil)
        #expect(noTeam.consulted.count == 3)
    }

    @Test func aFailingPolicyCountsAsNoOpinionAndIsReportedLoggedAndCounted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/1-good.lua", Self.policy("sleep", "good"))
        try directory.write("policy/2-error.lua", "function decide(ctx)\n  return ctx.missing.field\nend")
        try directory.write("policy/3-shape.lua", "function decide(ctx) return {action = 'hibernate'} end")
        try directory.write("policy/4-slow.lua", "function decide(ctx) while true do end end")
        let logs = LogRecorder()
        // No instruction budget, so that the deadline is what stops the loop.
        let host = host(directory, timeout: .milliseconds(500), instructions: 0, logs: logs)
        await host.reload()

        // 4-slow.lua never ends by itself: an answer at all shows its deadline stopped it.
        let outcome = await host.decide([:], team: nil)
        #expect(outcome.decision == PolicyDecision(action: .sleep, reason: "good", plugin: "policy/1-good.lua"))
        #expect(outcome.failures.map(\.file) == ["policy/2-error.lua", "policy/3-shape.lua", "policy/4-slow.lua"])
        let runtime = outcome.failures[0]
        #expect(runtime.reason == .runtime)
        #expect(runtime.line == 2)
        #expect(runtime.description == "policy/2-error.lua:2: attempt to index a nil value (field 'missing')")
        #expect(runtime.traceback?.contains("policy/2-error.lua:2: in function") == true)
        #expect(outcome.failures[1].reason == .invalidResult(field: "result.action"))
        #expect(outcome.failures[2].reason == .timeout(.milliseconds(500)))

        _ = await host.decide([:], team: nil)
        let counts = Dictionary(uniqueKeysWithValues: host.statuses().map { ($0.file, $0.failureCount) })
        #expect(counts == ["policy/1-good.lua": 0, "policy/2-error.lua": 2, "policy/3-shape.lua": 2, "policy/4-slow.lua": 2])
        #expect(host.statuses().first { $0.file == "policy/4-slow.lua" }?.lastCallError?.reason == .timeout(.milliseconds(500)))
        let warnings = logs.entries.filter { $0.message == "plugin call failed" }
        #expect(warnings.count == 6)
        #expect(warnings.first?.metadata["plugin"] == "policy/2-error.lua")
    }

    @Test func slackCommandsFallBackToAGenericEphemeralReply() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let host = host(directory)
        await host.reload()
        let missing = await host.handleSlackCommand(["command": "/k8s-wake", "text": "dev"])
        #expect(missing.actions.isEmpty)
        #expect(missing.response["response_type"] == "ephemeral")
        #expect(missing.failure?.reason == .unavailable)

        try directory.write("slack/commands.lua", """
            function handle(cmd)
              if cmd.text == "boom" then error("no such cluster") end
              if cmd.text == "bad" then return {actions = {{type = "reboot"}}, response = {text = "ok"}} end
              return {actions = {{type = "wake", cluster = cmd.text, duration = "2h"}}, response = {text = "waking " .. cmd.text, response_type = "in_channel"}}
            end
            """)
        await host.reload()
        let handled = await host.handleSlackCommand(["command": "/k8s-wake", "text": "dev"])
        #expect(handled.actions == [.wake(cluster: "dev", namespaces: [], duration: .seconds(7200))])
        #expect(handled.response == ["text": "waking dev", "response_type": "in_channel"])
        #expect(handled.failure == nil)

        let failed = await host.handleSlackCommand(["command": "/k8s-wake", "text": "boom"])
        #expect(failed.actions.isEmpty)
        #expect(failed.response["text"]?.string?.hasPrefix("Sorry") == true)
        #expect(failed.failure?.description == "slack/commands.lua:2: no such cluster")

        let invalid = await host.handleSlackCommand(["command": "/k8s-wake", "text": "bad"])
        #expect(invalid.failure?.reason == .invalidResult(field: "result.actions[1].type"))
        #expect(host.statuses().first?.failureCount == 2)
    }

    @Test func everyFormatterIsAskedAndQuietOnesAreSkipped() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("notify/a.lua", "function format(e) if e.type == 'sleep_done' then return {text = 'a: ' .. e.cluster} end end")
        try directory.write("notify/b.lua", "function format(e) return {text = 'b', blocks = {{type = 'divider'}}} end")
        try directory.write("notify/c.lua", "function format(e) return {text = 'c', colour = 'red'} end")
        let host = host(directory)
        await host.reload()
        let sleep = await host.format(["type": "sleep_done", "cluster": "dev"])
        #expect(sleep.messages == [
            .init(plugin: "notify/a.lua", message: ["text": "a: dev"]),
            .init(plugin: "notify/b.lua", message: ["text": "b", "blocks": [["type": "divider"]]]),
        ])
        #expect(sleep.failures.map(\.description) == ["notify/c.lua: result.colour: unknown field (expected text, blocks or channel)"])
        let wake = await host.format(["type": "wake_done", "cluster": "dev"])
        #expect(wake.messages.map(\.plugin) == ["notify/b.lua"])
    }

    @Test func aBrokenVersionKeepsThePreviousOneServingAndTheNextReloadServesTheFix() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", Self.policy("sleep", "version 1"))
        // Reloads follow each other closely here; the production interval is 2 s, so a fix serves
        // within one interval plus a reload.
        #expect(PluginHost.Configuration(directory: directory.path).reloadInterval == .seconds(2))
        let host = host(directory, reloadInterval: .milliseconds(20))
        let reloading = Task { try await host.run() }
        defer { reloading.cancel() }
        try await waitForReloads(host, count: 1)
        #expect(await host.decide([:], team: nil).decision?.reason == "version 1")

        try directory.write("policy/p.lua", "function decide(ctx) return {action = 'wake', reason = 'version 2' end")
        try await waitForReloads(host, count: host.completedReloads + 2)
        let status = try #require(host.statuses().first)
        #expect(status.state == .stale)
        #expect(status.loadError?.reason == .compile)
        #expect(status.loadError?.line == 1)
        #expect(status.loadFailureCount == 1)
        #expect(await host.decide([:], team: nil).decision?.reason == "version 1")

        try directory.write("policy/p.lua", Self.policy("wake", "version 3"))
        try await waitForReloads(host, count: host.completedReloads + 2)
        #expect(await host.decide([:], team: nil).decision?.reason == "version 3")
        #expect(host.statuses().first?.state == .loaded)
        #expect(host.statuses().first?.loadError == nil)
        #expect(host.statuses().first?.loadFailureCount == 1)
    }

    @Test func followsTheSymlinkSwapOfAConfigMapVolume() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let files = FileManager.default
        // The layout kubelet writes: timestamped directories, `..data` pointing at the current
        // one, and top-level entries pointing through `..data`.
        try directory.write("..2026_03_02_18_00_00.1/policy/p.lua", Self.policy("sleep", "first revision"))
        try files.createSymbolicLink(atPath: directory.path + "/..data", withDestinationPath: "..2026_03_02_18_00_00.1")
        try files.createSymbolicLink(atPath: directory.path + "/policy", withDestinationPath: "..data/policy")
        let host = host(directory)
        await host.reload()
        #expect(await host.decide([:], team: nil).decision?.reason == "first revision")
        let firstVersion = host.statuses().first?.version

        // An update: a new timestamped directory, then `..data` swapped atomically with a rename.
        try directory.write("..2026_03_02_19_00_00.2/policy/p.lua", Self.policy("wake", "second revision"))
        try files.createSymbolicLink(atPath: directory.path + "/..data_tmp", withDestinationPath: "..2026_03_02_19_00_00.2")
        #expect(rename(directory.path + "/..data_tmp", directory.path + "/..data") == 0)
        try files.removeItem(atPath: directory.path + "/..2026_03_02_18_00_00.1")
        await host.reload()
        #expect(await host.decide([:], team: nil).decision?.reason == "second revision")
        #expect(host.statuses().map(\.file) == ["policy/p.lua"])
        #expect(host.statuses().first?.version != firstVersion)
    }

    @Test func aFileRewrittenWithTheSameContentKeepsItsLoadedVersion() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", "count = 0 function decide(ctx) count = count + 1 return {action = 'keep', reason = tostring(count)} end")
        let host = host(directory)
        await host.reload()
        #expect(await host.decide([:], team: nil).decision?.reason == "1")
        try directory.write("policy/p.lua", "count = 0 function decide(ctx) count = count + 1 return {action = 'keep', reason = tostring(count)} end")
        await host.reload()
        // Same state: the count goes on.
        #expect(await host.decide([:], team: nil).decision?.reason == "2")
    }

    @Test func aRemovedFileIsUnloaded() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/a.lua", Self.policy("sleep", "a"))
        try directory.write("policy/b.lua", Self.policy("wake", "b"))
        let host = host(directory)
        await host.reload()
        #expect(await host.decide([:], team: nil).decision?.plugin == "policy/b.lua")
        try FileManager.default.removeItem(atPath: directory.path + "/policy/b.lua")
        await host.reload()
        #expect(await host.decide([:], team: nil).decision?.plugin == "policy/a.lua")
        #expect(host.statuses().map(\.file) == ["policy/a.lua"])
    }

    @Test func manyConcurrentDecisionsAreAllAnswered() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", "function decide(ctx) return {action = 'keep', reason = ctx.namespace} end")
        try directory.write("teams/t.lua", "function decide(ctx) return {action = 'wake', reason = ctx.proposal.reason} end")
        let host = host(directory)
        await host.reload()
        let reasons = await withTaskGroup(of: String?.self) { group in
            for index in 0..<500 {
                group.addTask { await host.decide(["namespace": .string("ns-\(index)")], team: "t").decision?.reason }
            }
            var reasons: [String] = []
            for await reason in group { if let reason { reasons.append(reason) } }
            return reasons
        }
        #expect(Set(reasons) == Set((0..<500).map { "ns-\($0)" }))
    }

    /// A batch answers each question as asking about it alone would, in order: random contexts
    /// and teams over policies that depend on the namespace, the team and the proposal so far.
    @Test func aBatchAnswersEachQuestionAsAskingItAloneWould() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/10-odd.lua", """
            function decide(ctx)
              if ctx.n % 2 == 1 then return {action = 'keep', reason = 'odd ' .. ctx.n} end
            end
            """)
        try directory.write("policy/20-fails.lua", "function decide(ctx) if ctx.n % 5 == 0 then error('five') end end")
        try directory.write("policy/30-third.lua", """
            function decide(ctx)
              if ctx.n % 3 == 0 then return {action = 'sleep', reason = 'after ' .. (ctx.proposal and ctx.proposal.reason or '-')} end
            end
            """)
        try directory.write("teams/a.lua", "function decide(ctx) return {action = 'wake', reason = 'a saw ' .. ctx.n} end")
        try directory.write("teams/b.lua", "function decide(ctx) if ctx.n > 50 then return {action = 'sleep', reason = 'b'} end end")
        let host = host(directory)
        await host.reload()

        var random = SeededGenerator()
        let teams: [String?] = [nil, "a", "b", "unknown"]
        let questions = (0..<200).map { _ in
            PolicyQuestion(context: ["n": .int(Int64.random(in: 0..<100, using: &random))], team: teams.randomElement(using: &random)!)
        }
        let batch = await host.decide(questions)
        var alone: [PolicyOutcome] = []
        for question in questions { alone.append(await host.decide(question.context, team: question.team)) }
        #expect(batch == alone, "seed \(random.seed)")
        #expect(batch.contains { $0.failures.count == 1 } && batch.contains { $0.decision?.plugin == "teams/b.lua" })
        #expect(await host.decide([]) == [])
    }

    /// A call of a batch that runs past its deadline fails alone: the calls after it are answered
    /// by the plugin's fresh state.
    @Test func aCallOfABatchThatTimesOutFailsAlone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", """
            function decide(ctx)
              if ctx.namespace == 'slow' then while true do end end
              return {action = 'keep', reason = ctx.namespace}
            end
            """)
        let host = host(directory, timeout: .milliseconds(300), instructions: 0)
        await host.reload()
        let names = ["a", "b", "slow", "c", "d"]
        let outcomes = await host.decide(names.map { PolicyQuestion(context: ["namespace": .string($0)], team: nil) })
        #expect(outcomes.map { $0.decision?.reason } == ["a", "b", nil, "c", "d"])
        #expect(outcomes[2].failures.map(\.reason) == [.timeout(.milliseconds(300))])
        #expect(host.statuses().first?.failureCount == 1)
    }

    @Test func theDefaultPluginsLoadAndAnswerThroughTheHost() async throws {
        let plugins = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("plugins").path
        let host = Self.host(plugins)
        await host.reload()
        #expect(host.statuses().map(\.file) == ["policy/default.lua", "teams/example.lua", "slack/commands.lua", "notify/alerts.lua", "notify/lifecycle.lua"])
        #expect(host.statuses().allSatisfy { $0.state == .loaded })

        // A hub schedule asks to sleep a development namespace at noon: outside the default window.
        let noon = await host.decide(
            [
                "cluster": "dev", "tier": "development", "namespace": "web", "team": "example", "now": 1_772_449_200,
                "action": "sleep", "reason": "hub schedule lunch", "asleep": false,
                "schedule": ["source": "hub", "name": "lunch", "weekdays": "1-5", "sleepAt": "12:00", "wakeUpAt": "13:00", "timeZone": "Europe/Rome"],
                "overrides": [],
            ],
            team: "example"
        )
        #expect(noon.decision?.action == .keep)
        #expect(noon.decision?.plugin == "policy/default.lua")
        #expect(noon.consulted == ["policy/default.lua", "teams/example.lua"])
        #expect(noon.failures.isEmpty)

        let command = await host.handleSlackCommand(["command": "/k8s-wake", "text": "staging all 2h", "user_id": "U1", "clusters": ["staging"]])
        #expect(command.actions == [.wake(cluster: "staging", namespaces: [], all: true, duration: .seconds(7200))])

        let warning = await host.format(["type": "pre_sleep_warning", "cluster": "dev", "namespace": "web", "sleep_at": 1_772_477_400, "minutes": 10, "button_value": "dev/web"])
        #expect(warning.messages.map(\.plugin) == ["notify/lifecycle.lua"])
        #expect(warning.failures.isEmpty)
    }

    /// Waits until `host` has finished `count` reloads (the second one finished after a write has
    /// seen it). The limit only stops a hung test.
    private func waitForReloads(_ host: PluginHost, count: Int) async throws {
        let done = await eventually(within: .seconds(60)) { host.completedReloads >= count }
        try #require(done, "\(host.completedReloads) reloads finished, waiting for \(count)")
    }
}

/// Loading runs under the same limits as a call, on a thread per file: a file that never
/// finishes loading holds back neither the others nor the reload, and is tried again later.
@Suite struct PluginLoadingTests {
    static let now = Date(timeIntervalSince1970: 1_772_476_200)

    @Test func aFileThatNeverFinishesLoadingHoldsBackNeitherTheOthersNorTheReload() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // 1-stuck.lua asks the time when it loads, and the clock keeps that first caller waiting:
        // a load nothing can interrupt. (2-good.lua never asks; the host asks after the loads.)
        let clock = HeldClock(holds: HeldClock.firstCallers(1))
        defer { clock.release() }
        // A reload that waited for the stuck load would finish only once the clock is released:
        // it is released by the test, or by this guard, so that such a failure does not hang.
        let guardRelease = Task {
            try await Task.sleep(for: .seconds(300))
            clock.release()
        }
        defer { guardRelease.cancel() }
        try directory.write("policy/1-stuck.lua", "local now = sandman.time.now() function decide(ctx) return nil end")
        try directory.write("policy/2-good.lua", "function decide(ctx) return {action = 'keep', reason = 'v1'} end")
        let logs = LogRecorder()
        let loadTimeout = Duration.seconds(1)
        let host = PluginHost(
            configuration: .init(directory: directory.path, loadTimeout: loadTimeout, deadlineGrace: .milliseconds(500)),
            clock: clock.clock, logger: logs.logger
        )
        // The reload waits for the stuck load only until its deadline: it finishes with the load
        // still held.
        await host.reload()
        #expect(clock.blocked == 1)
        var statuses = Dictionary(uniqueKeysWithValues: host.statuses().map { ($0.file, $0) })
        #expect(statuses["policy/2-good.lua"]?.state == .loaded)
        #expect(statuses["policy/1-stuck.lua"]?.state == .failed)
        #expect(statuses["policy/1-stuck.lua"]?.loadError?.reason == .timeout(loadTimeout))
        #expect(statuses["policy/1-stuck.lua"]?.abandonedStates == 1)
        #expect(await host.decide([:], team: nil).decision?.reason == "v1")

        // Past its grace the stuck version is reported.
        let reported = await eventually(within: .seconds(60)) {
            logs.entries.contains { $0.message == "plugin disabled: a call could not be stopped" && $0.metadata["plugin"] == "policy/1-stuck.lua" }
        }
        #expect(reported)

        // A fix to the good file loads, with reloads side by side, while the stuck load still runs:
        // the stuck file's retry waits for it to end, even once its backoff has passed.
        try directory.write("policy/2-good.lua", "function decide(ctx) return {action = 'keep', reason = 'v2'} end")
        try await Task.sleep(for: PluginRegistry.retryDelay(afterAttempts: 1, loadTimeout: loadTimeout) + .milliseconds(100))
        async let first: Void = host.reload()
        async let second: Void = host.reload()
        _ = await (first, second)
        #expect(clock.blocked == 1)
        #expect(await host.decide([:], team: nil).decision?.reason == "v2")
        statuses = Dictionary(uniqueKeysWithValues: host.statuses().map { ($0.file, $0) })
        #expect(statuses["policy/1-stuck.lua"]?.state == .failed)
        #expect(statuses["policy/1-stuck.lua"]?.loadFailureCount == 1)

        // Once it ends, the next reload tries again, and the file loads.
        clock.release()
        #expect(await eventually(within: .seconds(60)) { host.statuses().first?.abandonedStates == 0 })
        await host.reload()
        #expect(host.statuses().first { $0.file == "policy/1-stuck.lua" }?.state == .loaded)
    }

    @Test func aLoadThatTimedOutIsTriedAgainAfterItsBackoffWithoutAFileChange() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let clock = HeldClock(held: false)
        clock.set(Date(timeIntervalSince1970: 100))
        // Busy until the clock says 200: its first load times out.
        try directory.write("policy/slow.lua", """
            while sandman.time.now() < 200 do end
            function decide(ctx) return {action = 'keep', reason = 'loaded'} end
            """)
        let host = PluginHost(
            configuration: .init(directory: directory.path, instructionLimit: 0, loadTimeout: .milliseconds(200)),
            clock: clock.clock, logger: LuaHarness().logs.logger
        )
        let started = ContinuousClock.now
        await host.reload()
        #expect(host.statuses().first?.loadError?.reason == .timeout(.milliseconds(200)))
        clock.set(Date(timeIntervalSince1970: 300))

        // Not before the backoff (twice the load timeout, after the 200 ms the load took): the
        // file did not change.
        await host.reload()
        if ContinuousClock.now - started < .milliseconds(600) {
            #expect(host.statuses().first?.state == .failed)
            #expect(host.statuses().first?.loadFailureCount == 1)
        }
        // After it, the load is tried again, and succeeds (the bound stops a hung test).
        let loaded = await eventually(within: .seconds(60)) {
            await host.reload()
            return host.statuses().first?.state == .loaded
        }
        #expect(loaded)
        #expect(ContinuousClock.now - started >= .milliseconds(600))
        #expect(await host.decide([:], team: nil).decision?.reason == "loaded")
    }

    @Test("backoff between attempts", arguments: [(1, 2), (2, 4), (3, 8), (4, 16), (9, 300), (60, 300)])
    func backoff(attempts: Int, seconds: Int64) {
        #expect(PluginRegistry.retryDelay(afterAttempts: attempts, loadTimeout: .seconds(1)) == .seconds(seconds))
    }

    @Test func aPluginWhoseCallCannotBeStoppedIsDisabledUntilItsFileChanges() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let clock = HeldClock(held: false)
        defer { clock.release() }
        try directory.write("policy/p.lua", "function decide(ctx) if ctx.block then sandman.time.now() end return {action = 'keep', reason = 'v1'} end")
        let host = PluginHost(
            configuration: .init(directory: directory.path, callTimeout: .milliseconds(200), deadlineGrace: .milliseconds(300)),
            clock: clock.clock, logger: LuaHarness().logs.logger
        )
        await host.reload()
        clock.hold()
        let outcome = await host.decide(["block": true], team: nil)
        #expect(outcome.failures.first?.reason == .timeout(.milliseconds(200)))
        #expect(await eventually(within: .seconds(60)) { host.statuses().first?.state == .disabled })
        let status = try #require(host.statuses().first)
        #expect(status.abandonedStates == 1)
        #expect(host.abandonedStateCount.running == 1)
        #expect(status.disabledError?.reason == .disabled)
        #expect(status.lastError == status.disabledError)
        #expect(await host.decide([:], team: nil).failures.first?.reason == .disabled)

        clock.release()
        #expect(await eventually(within: .seconds(60)) { host.statuses().first?.abandonedStates == 0 })
        #expect(host.statuses().first?.state == .disabled)
        try directory.write("policy/p.lua", "function decide(ctx) return {action = 'keep', reason = 'v2'} end")
        await host.reload()
        #expect(host.statuses().first?.state == .loaded)
        #expect(await host.decide([:], team: nil).decision?.reason == "v2")
    }
}
