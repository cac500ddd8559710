import Foundation
import Hub
import JSON
import Kube
import KubeSim
import Sleep
import Synchronization
import TestSupport
import Testing

/// Stops a hub's sleeps and wakes at a chosen moment, for good: what a kill at that moment
/// leaves behind. The stopped task never resumes, even when cancelled.
final class KillSwitch: Sendable {
    private let state = Mutex<(trigger: (@Sendable (SleepExecutor.Checkpoint) -> Bool)?, hit: SleepExecutor.Checkpoint?)>((nil, nil))

    /// The next checkpoint for which `trigger` is true stops there.
    func arm(_ trigger: @escaping @Sendable (SleepExecutor.Checkpoint) -> Bool) {
        state.withLock { $0 = (trigger, nil) }
    }

    var hit: SleepExecutor.Checkpoint? { state.withLock { $0.hit } }

    func checkpoint(_ point: SleepExecutor.Checkpoint) async {
        let stop = state.withLock { state -> Bool in
            guard state.hit == nil, let trigger = state.trigger, trigger(point) else { return state.hit != nil }
            state.hit = point
            return true
        }
        guard stop else { return }
        await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
    }

    /// The first object a wake restores.
    static func firstWake() -> @Sendable (SleepExecutor.Checkpoint) -> Bool {
        { point in
            if case .patched(_, .wakeUp) = point { return true }
            return false
        }
    }
}

/// A person acting while the hub restarts after a kill: nothing lost, nothing reversed, nobody
/// blamed (issue 13). The kill is the hub stopped at a named checkpoint and abandoned, and a
/// new hub started on the same database; the same scenarios run with SIGKILL in
/// `CrashSafetyProcessTests`.
@Suite("Crash safety", .serialized, .awaitingCleanup)
struct CrashSafetyTests {
    // Monday 10:00 UTC; the schedule's transitions are far away (Sundays 03:00): only people act.
    static let start = instant("2027-01-04T10:00:00Z")
    static let cluster = """
        schedules:
          - {name: rare, namespaces: [shop, blog], weekdays: "0", sleepAt: "03:00", wakeUpAt: "03:01"}
        client: {qps: 500, burst: 500, concurrency: 1}
        """

    struct Crash {
        var fixture: HubFixture
        let kill = KillSwitch()
        var original: [String: [String: Int64]] = [:]

        static func start(namespaces: [String] = ["shop"], deployments: Int = 6) async throws -> Crash {
            var crash = Crash(fixture: try await HubFixture.make(clusters: ["staging": ("staging", CrashSafetyTests.cluster)], start: CrashSafetyTests.start))
            try await crash.fixture.simulators["staging"]!.load(manifests: namespaces.map { HubFixture.shop($0, deployments: deployments) }.joined(separator: "\n---\n"))
            for namespace in namespaces { crash.original[namespace] = await crash.fixture.replicas("staging", namespace) }
            let kill = crash.kill
            try await crash.fixture.startHub(checkpoint: { await kill.checkpoint($0) })
            #expect(await crash.fixture.settle())
            return crash
        }

        /// The first hub is dead; a second starts on its database.
        mutating func restart() async throws {
            fixture.server?.kill()
            try await fixture.startHub()
        }

        /// A request, repeated until the hub takes it (it answers 503 until its agent has synced).
        func request(_ action: String, _ body: String) async throws -> String {
            var answer = try await fixture.api("POST", "/api/v1/clusters/staging/\(action)", body: body)
            let deadline = ContinuousClock.now + .seconds(30)
            while answer.status == 503, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                answer = try await fixture.api("POST", "/api/v1/clusters/staging/\(action)", body: body)
            }
            #expect(answer.status == 202, "\(answer.body)")
            return answer.body[path: ["operation", "id"]]?.string ?? ""
        }

        func operation(_ id: String) async throws -> JSONValue {
            try await fixture.api("GET", "/api/v1/operations/\(id)").body["operation"] ?? .null
        }

        func asleep(_ namespace: String) async -> Bool {
            let replicas = await fixture.replicas("staging", namespace)
            return allAsleep(replicas)
        }

        /// The restore data the namespace's state Secret holds, as kube-green reads it.
        func restoreData(_ namespace: String) async throws -> RestoreSecret.Contents {
            let secret = try #require(await fixture.simulators["staging"]!.objects(apiVersion: "v1", kind: "Secret", namespace: namespace)
                .first { $0[path: ["metadata", "name"]]?.string?.hasPrefix("sleepinfo-") == true })
            return try RestoreSecret.read(Secret(object: secret))
        }

        func warnings(_ namespace: String) async -> [String] {
            await fixture.simulators["staging"]!.objects(apiVersion: "v1", kind: "Event", namespace: namespace)
                .filter { $0["reason"] == "ModifiedDuringSleep" }.compactMap { $0["message"]?.string }
        }

        func stop() async {
            fixture.server?.kill()
            for sim in fixture.simulators.values { await sim.shutdown() }
            fixture.directory.remove()
        }
    }

    /// Scenario 1: a wake killed once a Deployment is back up, then a sleep asked for at once.
    /// The restored Deployment sleeps again with its restore data; a later wake restores all.
    @Test func aSleepRightAfterAKilledWakeLosesNothing() async throws {
        var crash = try await Crash.start()
        defer { afterTest { [crash] in await crash.stop() } }
        _ = try await crash.request("sleep", #"{"namespaces":["shop"]}"#)
        #expect(await crash.fixture.settle())
        #expect(await crash.asleep("shop"))
        crash.kill.arm(KillSwitch.firstWake())
        let wake = try await crash.request("wake", #"{"namespaces":["shop"]}"#)
        #expect(await eventually { crash.kill.hit != nil })
        #expect(await crash.fixture.replicas("staging", "shop").values.contains { $0 > 0 }, "one Deployment is back up")

        try await crash.restart()
        let sleep = try await crash.request("sleep", #"{"namespaces":["shop"]}"#)
        #expect(await crash.fixture.settle())
        #expect(await crash.asleep("shop"))
        // The resumed wake ran first, or the sleep, asked before it was taken up, replaced it.
        let resumed = try await crash.operation(wake)
        let slept = try await crash.operation(sleep)
        #expect(slept["state"] == "succeeded")
        #expect(resumed["state"] == "superseded" || (resumed["state"] == "succeeded" && resumed["finishedAt"]!.string! <= slept["finishedAt"]!.string!))
        let contents = try await crash.restoreData("shop")
        #expect(contents.operation == .sleep)
        #expect(contents.restore.count == crash.original["shop"]!.count, "every Deployment's original is kept")

        _ = try await crash.request("wake", #"{"namespaces":["shop"]}"#)
        #expect(await crash.fixture.settle())
        #expect(await crash.fixture.replicas("staging", "shop") == crash.original["shop"])
        #expect(await crash.warnings("shop").isEmpty)
    }

    /// Scenario 2: a whole-cluster sleep, then `wake shop` killed midway and `wake blog` asked
    /// meanwhile: after the restart both wakes finish, and nothing puts blog back to sleep.
    @Test func aPersonsWakeIsNotReversedAfterARestart() async throws {
        var crash = try await Crash.start(namespaces: ["shop", "blog"])
        defer { afterTest { [crash] in await crash.stop() } }
        _ = try await crash.request("sleep", #"{"all":true}"#)
        #expect(await crash.fixture.settle())
        #expect(await crash.asleep("shop"))
        #expect(await crash.asleep("blog"))
        crash.kill.arm(KillSwitch.firstWake())
        let shop = try await crash.request("wake", #"{"namespaces":["shop"]}"#)
        #expect(await eventually { crash.kill.hit != nil })
        let blog = try await crash.request("wake", #"{"namespaces":["blog"]}"#)

        try await crash.restart()
        #expect(await crash.fixture.settle())
        #expect(try await crash.operation(shop)["state"] == "succeeded")
        #expect(try await crash.operation(blog)["state"] == "succeeded")
        for hours in [1.0, 6, 12] {
            await crash.fixture.settle(at: Self.start.addingTimeInterval(hours * 3600))
            #expect(await crash.fixture.replicas("staging", "blog") == crash.original["blog"], "blog stays awake \(hours)h later")
            #expect(await crash.fixture.replicas("staging", "shop") == crash.original["shop"])
        }
        let operations = try await crash.fixture.api("GET", "/api/v1/operations?limit=100").body["operations"]?.array ?? []
        #expect(operations.map { $0["action"] } == ["wake", "wake", "sleep"], "nothing but the three requests")
    }

    /// Scenario 3a: a wake killed midway and a sleep asked for at once: the sleep replaces the
    /// wake, which never runs again; the cluster is not woken and slept back.
    @Test func aSleepAfterAKilledWakeReplacesIt() async throws {
        var crash = try await Crash.start(namespaces: ["shop", "blog"])
        defer { afterTest { [crash] in await crash.stop() } }
        _ = try await crash.request("sleep", #"{"all":true}"#)
        #expect(await crash.fixture.settle())
        crash.kill.arm(KillSwitch.firstWake())
        let wake = try await crash.request("wake", #"{"all":true}"#)
        #expect(await eventually { crash.kill.hit != nil })
        // Asked while the wake hangs: the hub stores it and is killed before taking it up.
        let sleep = try await crash.request("sleep", #"{"all":true}"#)

        try await crash.restart()
        #expect(await crash.fixture.settle())
        #expect(try await crash.operation(wake)["state"] == "superseded")
        #expect(try await crash.operation(wake)[path: ["summary", "supersededBy"]]?.string == sleep)
        #expect(try await crash.operation(sleep)["state"] == "succeeded")
        #expect(await crash.asleep("shop"))
        #expect(await crash.asleep("blog"))
        let operations = try await crash.fixture.api("GET", "/api/v1/operations?limit=100").body["operations"]?.array ?? []
        #expect(operations.count == 3, "sleep, the superseded wake, sleep: \(operations.map { $0["action"] })")
        _ = try await crash.request("wake", #"{"all":true}"#)
        #expect(await crash.fixture.settle())
        #expect(await crash.fixture.replicas("staging", "shop") == crash.original["shop"])
        #expect(await crash.fixture.replicas("staging", "blog") == crash.original["blog"])
    }

    /// Scenario 3b: a sleep killed midway and a wake asked for at once: the wake replaces the
    /// sleep; the objects the sleep never reached are awake already, not "changed by someone".
    @Test func aWakeAfterAKilledSleepBlamesNobody() async throws {
        var crash = try await Crash.start(namespaces: ["shop"])
        defer { afterTest { [crash] in await crash.stop() } }
        crash.kill.arm { point in
            if case .patched(_, .sleep) = point { return true }
            return false
        }
        let sleep = try await crash.request("sleep", #"{"namespaces":["shop"]}"#)
        #expect(await eventually { crash.kill.hit != nil })
        let wake = try await crash.request("wake", #"{"namespaces":["shop"]}"#)

        try await crash.restart()
        #expect(await crash.fixture.settle())
        #expect(try await crash.operation(sleep)["state"] == "superseded")
        let woken = try await crash.operation(wake)
        #expect(woken["state"] == "succeeded")
        let skipped = (woken[path: ["summary", "skipped"]]?.array ?? []).compactMap { $0["reason"]?.string }
        #expect(!skipped.contains { $0.contains("changed by someone") }, "\(skipped)")
        #expect(skipped.filter { $0 == "already awake" }.count == crash.original["shop"]!.count - 1)
        #expect(await crash.warnings("shop").isEmpty)
        #expect(await crash.fixture.replicas("staging", "shop") == crash.original["shop"])
    }

    /// Scenario 4: a wake killed right after an object was restored, before the journal said so:
    /// the resumed wake finds it awake and blames nobody.
    @Test func aResumedWakeDoesNotBlameItselfForWhatItRestored() async throws {
        var crash = try await Crash.start(namespaces: ["shop"])
        defer { afterTest { [crash] in await crash.stop() } }
        _ = try await crash.request("sleep", #"{"namespaces":["shop"]}"#)
        #expect(await crash.fixture.settle())
        crash.kill.arm(KillSwitch.firstWake())
        let wake = try await crash.request("wake", #"{"namespaces":["shop"]}"#)
        #expect(await eventually { crash.kill.hit != nil })

        try await crash.restart()
        #expect(await crash.fixture.settle())
        let woken = try await crash.operation(wake)
        #expect(woken["state"] == "succeeded")
        let skipped = (woken[path: ["summary", "skipped"]]?.array ?? []).compactMap { $0["reason"]?.string }
        #expect(skipped == ["already awake"], "the one restored before the kill: \(skipped)")
        #expect(await crash.warnings("shop").isEmpty)
        #expect(try await crash.restoreData("shop").operation == .wakeUp)
        #expect(await crash.fixture.replicas("staging", "shop") == crash.original["shop"])
    }
}
