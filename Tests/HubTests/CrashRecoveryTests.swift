import Foundation
import JSON
import Kube
import KubeSim
import Store
import TestSupport
import Testing

/// `sandman serve` as a real process, killed with SIGKILL in the middle of a sleep.
@Suite("Crash recovery of sandman serve", .serialized, .awaitingCleanup)
struct CrashRecoveryTests {
    /// A `sandman serve` process writing its log to a file. Unchecked: one test drives it.
    final class ServeProcess: @unchecked Sendable {
        let process = Process()

        init(config: String, log: String, environment: [String: String] = [:]) throws {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            output.seekToEndOfFile()
            process.executableURL = URL(fileURLWithPath: HubFixture.binary)
            process.arguments = ["serve", "--config", config, "--log-level", "debug"]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = output
            process.standardError = output
            try process.run()
        }

        func kill() {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func stop() {
            guard process.isRunning else { return }
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// `sandman serve` set up from files, with one simulated cluster holding 12 Deployments in
    /// `shop`, an admin token made by `sandman token create`, and the hub started.
    struct ServedHub: Sendable {
        let directory: TemporaryDirectory
        let sim: KubeSim
        let config: String
        let log: String
        let token: String
        var serve: ServeProcess

        static func start(namespaces: [String] = ["shop"]) async throws -> ServedHub {
            let directory = try TemporaryDirectory("crash")
            let sim = try await cluster(in: directory, namespaces: namespaces, deployments: 12)
            // Port 0: each start binds a free port and logs it (a port chosen beforehand may be
            // taken by another test meanwhile).
            let config = try directory.write("sandman.yaml", "listen: 127.0.0.1:0\ndatabase: hub.sqlite\n")
            let created = try await ProcessOutput.run(HubFixture.binary, arguments: ["token", "create", "--role", "admin", "--name", "ci", "--config", config], timeout: .seconds(120))
            #expect(created.status == 0, "\(created.stderr)")
            let log = directory.path + "/serve.log"
            let hub = ServedHub(
                directory: directory, sim: sim, config: config, log: log,
                token: created.stdout.trimmingCharacters(in: .whitespacesAndNewlines), serve: try ServeProcess(config: config, log: log)
            )
            #expect(await eventually(timeout: .seconds(30)) { await hub.ready() }, "hub did not start: \(hub.logText)")
            #expect(await eventually(timeout: .seconds(30)) { (try? await hub.api("GET", "/api/v1/clusters/staging/namespaces"))?["namespaces"]?.array?.count == namespaces.count })
            return hub
        }

        /// A KubeSim with `deployments` Deployments in each of `namespaces`, and the files of the
        /// cluster `staging` over it in `directory` (`clusters/staging.yaml`, `kube/staging.yaml`).
        static func cluster(in directory: TemporaryDirectory, namespaces: [String], deployments: Int) async throws -> KubeSim {
            var simConfiguration = KubeSim.Configuration()
            simConfiguration.bookmarkInterval = .milliseconds(500)
            let sim = try await KubeSim.start(simConfiguration)
            try await sim.load(manifests: HubFixture.crd)
            for namespace in namespaces { try await sim.load(manifests: HubFixture.shop(namespace, deployments: deployments)) }
            try directory.write("kube/staging.yaml", sim.kubeconfig(user: "sandman", contextName: "staging"))
            // A schedule whose transitions are far away: only the requested sleep acts.
            try directory.write("clusters/staging.yaml", """
                tier: staging
                kubeconfig: ../kube/staging.yaml
                context: staging
                schedules:
                  - {name: rare, namespaces: [\(namespaces.joined(separator: ", "))], weekdays: "0", sleepAt: "03:00", wakeUpAt: "03:01"}
                client: {qps: 500, burst: 500, concurrency: 1}
                """)
            return sim
        }

        /// Starts `sandman serve` again on the same files, after a kill.
        mutating func restart() throws {
            serve = try ServeProcess(config: config, log: log)
        }

        /// A request, repeated until the hub takes it (while it starts it cannot answer, then answers 503 until synced).
        func request(_ action: String, _ body: String) async throws -> String {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if let id = (try? await api("POST", "/api/v1/clusters/staging/\(action)", body: body))?[path: ["operation", "id"]]?.string {
                    return id
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("the hub did not take the \(action) request: \(logText)")
            return ""
        }

        func operation(_ id: String) async -> JSONValue {
            (try? await api("GET", "/api/v1/operations/\(id)"))?["operation"] ?? .null
        }

        /// Waits until every operation the hub has is finished.
        func settled() async -> Bool {
            await eventually(timeout: .seconds(60)) {
                guard let operations = (try? await api("GET", "/api/v1/operations"))?["operations"]?.array else { return false }
                return operations.allSatisfy { $0["finishedAt"] != .null && $0["finishedAt"] != nil }
            }
        }

        func replicas(_ namespace: String) async -> [String: Int64] {
            var result: [String: Int64] = [:]
            for object in await sim.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: namespace) {
                result[object[path: ["metadata", "name"]]?.string ?? "?"] = object[path: ["spec", "replicas"]]?.int
            }
            return result
        }

        /// The Warning events blaming people for changes made while asleep.
        func blame(_ namespace: String) async -> [JSONValue] {
            await sim.objects(apiVersion: "v1", kind: "Event", namespace: namespace).filter { $0["reason"] == "ModifiedDuringSleep" }
        }

        /// How many objects the state Secret holds restore data for.
        func restoreEntries(_ namespace: String) async -> Int {
            let secret = await sim.object(apiVersion: "v1", kind: "Secret", namespace: namespace, name: "sleepinfo-hub-rare")
            let info = secret?[path: ["data", "original-resource-info"]]?.string.flatMap { Data(base64Encoded: $0) }.flatMap { try? JSONValue(parsing: $0) }
            return info?["Deployment.apps"]?.object?.count ?? 0
        }

        var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        /// Where the latest start of the hub listens, from its log.
        var url: String { ServedHubAPI(log: log, token: token).url ?? "http://127.0.0.1:1" }

        func ready() async -> Bool {
            (try? await URLRequestLike(method: "GET", url: url + "/readyz").send().status) == 200
        }

        func api(_ method: String, _ path: String, body: String? = nil) async throws -> JSONValue {
            try await ServedHubAPI(log: log, token: token).api(method, path, body: body)
        }

        func replicas() async -> [String: Int64] {
            await replicas("shop")
        }

        /// Every Deployment of shop at 0 replicas (and shop has some).
        func isAsleep() async -> Bool {
            allAsleep(await replicas())
        }

        func stop() async {
            serve.stop()
            await sim.shutdown()
            directory.remove()
        }
    }

    @Test func sigtermFinishesTheOperationUnderWayThenExitsCleanly() async throws {
        let served = try await ServedHub.start()
        defer { afterTest { [served] in await served.stop() } }
        // One patch at a time, 300 ms each: the 12 Deployments take seconds.
        served.sim.setFaults(.init(latency: .milliseconds(300)))
        let answer = try await served.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop"],"reason":"shutdown test"}"#)
        let id = try #require(answer[path: ["operation", "id"]]?.string)
        #expect(await eventually(timeout: .seconds(30)) { await served.replicas().values.filter { $0 == 0 }.count >= 2 })

        // The signal comes in the middle of the sleep.
        let before = await served.replicas().values.filter { $0 == 0 }.count
        served.serve.process.terminate()
        #expect(before < 12, "the sleep was over before the signal: nothing to check")
        #expect(await eventually(timeout: .seconds(40)) { !served.serve.process.isRunning }, "\(served.logText)")
        #expect(served.serve.process.terminationStatus == 0, "\(served.logText)")
        // The sleep under way was finished, not abandoned halfway.
        #expect(await served.isAsleep())
        let store = try Store(path: served.directory.path + "/hub.sqlite")
        let operation = try await store.operation(id: id)
        #expect(operation?.state == .succeeded)
        #expect(operation?.finishedAt != nil)
    }

    @Test func killsRightAfterTheSecretAndInTheMiddleOfAWakeLoseNothing() async throws {
        var served = try await ServedHub.start()
        defer { afterTest { [served] in await served.stop() } }
        let original = await served.replicas()

        // Every patch fails: the restore data is written, no workload is touched yet, and then the hub dies.
        served.sim.setFaults(.init(errorRate: 1, errorVerbs: ["patch"]))
        _ = try await served.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop"]}"#)
        #expect(await eventually(timeout: .seconds(30)) { await served.sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "sleepinfo-hub-rare") != nil })
        served.serve.kill()
        #expect(await served.replicas() == original)
        served.sim.setFaults(.init())
        served.serve = try ServeProcess(config: served.config, log: served.log)
        #expect(await eventually(timeout: .seconds(30)) { await served.isAsleep() }, "\(served.logText)")

        // Killed halfway through the wake: the restart finishes it, each object back as it was.
        served.sim.setFaults(.init(latency: .milliseconds(300)))
        _ = try await served.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"]}"#)
        #expect(await eventually(timeout: .seconds(30)) { await served.replicas().values.filter { $0 > 0 }.count >= 3 })
        served.serve.kill()
        let halfway = await served.replicas().values.filter { $0 > 0 }.count
        #expect(halfway >= 3 && halfway < 12, "killed too late to test anything")
        served.sim.setFaults(.init())
        served.serve = try ServeProcess(config: served.config, log: served.log)
        #expect(await eventually(timeout: .seconds(30)) { await served.replicas() == original }, "\(served.logText)")
        #expect(await eventually {
            await served.sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "sleepinfo-hub-rare")?[path: ["data", "operation-type"]] == .string(Data("WAKE_UP".utf8).base64EncodedString())
        })
    }

    @Test func aSleepInterruptedByAKillFinishesAfterRestartAndEverythingWakesAsItWas() async throws {
        var served = try await ServedHub.start()
        defer { afterTest { [served] in await served.stop() } }
        let sim = served.sim
        let original = await served.replicas()

        // Each API request now takes 300 ms: the sleep of 12 objects, one at a time, takes seconds.
        sim.setFaults(.init(latency: .milliseconds(300)))
        let answer = try await served.api("POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop"],"reason":"crash test"}"#)
        #expect(answer[path: ["operation", "state"]] == "pending")
        #expect(await eventually(timeout: .seconds(30)) { await served.replicas().values.filter { $0 == 0 }.count >= 4 })
        served.serve.kill()

        let halfway = await served.replicas()
        let asleep = halfway.values.filter { $0 == 0 }.count
        #expect(asleep >= 4 && asleep < 12, "killed too late to test anything: \(halfway)")
        let secret = await sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "sleepinfo-hub-rare")
        let info = secret?[path: ["data", "original-resource-info"]]?.string.flatMap { Data(base64Encoded: $0) }.flatMap { try? JSONValue(parsing: $0) }
        #expect(info?["Deployment.apps"]?.object?.count == 12, "the restore data was written before the first patch")

        sim.setFaults(.init())
        served.serve = try ServeProcess(config: served.config, log: served.log)
        #expect(await eventually(timeout: .seconds(30)) { await served.ready() })
        // The unfinished operation runs again and finishes.
        #expect(await eventually(timeout: .seconds(30)) { await served.isAsleep() }, "\(served.logText)")

        let woke = try await served.api("POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"]}"#)
        let id = try #require(woke[path: ["operation", "id"]]?.string, "\(woke)")
        #expect(await eventually(timeout: .seconds(30)) { (try? await served.api("GET", "/api/v1/operations/\(id)"))?[path: ["operation", "state"]] == "succeeded" })
        #expect(await served.replicas() == original)
        let serveLog = served.logText
        #expect(serveLog.contains("resuming an unfinished operation"))
    }

    // MARK: Issue 13's scenarios with SIGKILL

    /// Scenario 1: a wake killed once a Deployment is back up, and a sleep asked for as soon as
    /// the hub is back: nothing is lost, and a later wake restores every Deployment.
    @Test func sigkillDuringAWakeThenASleepLosesNothing() async throws {
        var served = try await ServedHub.start()
        defer { afterTest { [served] in await served.stop() } }
        let original = await served.replicas()
        _ = try await served.request("sleep", #"{"namespaces":["shop"]}"#)
        #expect(await served.settled())
        served.sim.setFaults(.init(latency: .milliseconds(100)))
        _ = try await served.request("wake", #"{"namespaces":["shop"]}"#)
        #expect(await eventually(timeout: .seconds(30)) { await served.replicas().values.contains { $0 > 0 } })
        served.serve.kill()
        served.sim.setFaults(.init())
        try served.restart()
        _ = try await served.request("sleep", #"{"namespaces":["shop"]}"#)
        #expect(await served.settled(), "\(served.logText)")
        #expect(await served.isAsleep())
        #expect(await served.restoreEntries("shop") == 12, "every original is kept")
        _ = try await served.request("wake", #"{"namespaces":["shop"]}"#)
        #expect(await served.settled())
        #expect(await served.replicas() == original)
        #expect(await served.blame("shop").isEmpty)
    }

    /// Scenario 2: `wake shop` killed midway with `wake blog` asked meanwhile: both finish after the
    /// restart, and nothing puts blog back to sleep.
    @Test func sigkillDoesNotReverseAPersonsWake() async throws {
        var served = try await ServedHub.start(namespaces: ["shop", "blog"])
        defer { afterTest { [served] in await served.stop() } }
        let original = (shop: await served.replicas("shop"), blog: await served.replicas("blog"))
        _ = try await served.request("sleep", #"{"all":true}"#)
        #expect(await served.settled())
        served.sim.setFaults(.init(latency: .milliseconds(100)))
        let shop = try await served.request("wake", #"{"namespaces":["shop"]}"#)
        #expect(await eventually(timeout: .seconds(30)) { await served.replicas("shop").values.contains { $0 > 0 } })
        let blog = try await served.request("wake", #"{"namespaces":["blog"]}"#)
        served.serve.kill()
        served.sim.setFaults(.init())
        try served.restart()
        #expect(await served.settled(), "\(served.logText)")
        #expect(await served.operation(shop)["state"] == "succeeded")
        #expect(await served.operation(blog)["state"] == "succeeded")
        #expect(await served.replicas("shop") == original.shop)
        #expect(await served.replicas("blog") == original.blog)
        // Evaluations go on (here after a namespace event); none of them sleeps blog again.
        let nudged = Date()
        try await served.sim.load(manifests: "apiVersion: v1\nkind: Namespace\nmetadata: {name: nudge}")
        #expect(await eventually(timeout: .seconds(30)) {
            let statuses = (try? await served.api("GET", "/api/v1/clusters/staging/namespaces"))?["namespaces"]?.array ?? []
            return !statuses.isEmpty && statuses.allSatisfy { status in
                (status["evaluatedAt"]?.string).flatMap { try? Date($0, strategy: .iso8601) }.map { $0 > nudged } ?? false
            }
        })
        let operations = (try await served.api("GET", "/api/v1/operations"))["operations"]?.array ?? []
        #expect(operations.count == 3, "the cluster's sleep and the two wakes: \(operations.map { $0["action"] })")
        #expect(await served.replicas("blog") == original.blog)
    }

    /// Scenario 3: a wake killed midway with a sleep asked meanwhile, and the reverse: the newer
    /// request replaces the older, which never runs again, and nobody is blamed.
    @Test(arguments: ["wake", "sleep"])
    func sigkillThenTheOtherWayRunsOnlyTheNewerRequest(killed: String) async throws {
        var served = try await ServedHub.start()
        defer { afterTest { [served] in await served.stop() } }
        let original = await served.replicas()
        if killed == "wake" {
            _ = try await served.request("sleep", #"{"namespaces":["shop"]}"#)
            #expect(await served.settled())
        }
        served.sim.setFaults(.init(latency: .milliseconds(300)))
        let older = try await served.request(killed, #"{"namespaces":["shop"]}"#)
        #expect(await eventually(timeout: .seconds(30)) {
            let values = await served.replicas().values
            return killed == "wake" ? values.contains { $0 > 0 } : values.contains { $0 == 0 }
        })
        let newer = try await served.request(killed == "wake" ? "sleep" : "wake", #"{"namespaces":["shop"]}"#)
        served.serve.kill()
        // The requests in flight when it died still land, 300 ms later: before the restart, not after its work.
        try await Task.sleep(for: .seconds(1))
        served.sim.setFaults(.init())
        try served.restart()
        #expect(await served.settled(), "\(served.logText)")
        #expect(await served.operation(older)["state"] == "superseded")
        let result = await served.operation(newer)
        #expect(result["state"] == "succeeded")
        let skipped = (result[path: ["summary", "skipped"]]?.array ?? []).compactMap { $0["reason"]?.string }
        #expect(!skipped.contains { $0.contains("changed by someone") }, "\(skipped)")
        #expect(await served.blame("shop").isEmpty)
        if killed == "wake" {
            #expect(await served.isAsleep())
            _ = try await served.request("wake", #"{"namespaces":["shop"]}"#)
            #expect(await served.settled())
        }
        #expect(await served.replicas() == original)
    }
}

/// The API of a `sandman serve` process, at the address its log gives.
struct ServedHubAPI: Sendable {
    struct NotListening: Error {}

    let log: String
    let token: String

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Where the latest start of the hub listens, from its log.
    var url: String? {
        let line = logText.split(separator: "\n").last { $0.contains("hub listening") } ?? ""
        guard let start = line.range(of: "url=") else { return nil }
        return String(line[start.upperBound...].prefix { $0 != " " })
    }

    func api(_ method: String, _ path: String, body: String? = nil) async throws -> JSONValue {
        guard let url else { throw NotListening() }
        var request = URLRequestLike(method: method, url: url + path, body: body)
        request.headers["Authorization"] = "Bearer \(token)"
        return try await request.send().body
    }
}
