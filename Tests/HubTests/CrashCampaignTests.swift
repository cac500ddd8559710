import Foundation
import JSON
import Kube
import Sleep
import TestSupport
import Testing

/// A hostile operator and SIGKILL: `sandman serve` killed at random moments of sleeps and wakes
/// of 64 Deployments in four namespaces of a long-lived `sandman sim`, with people's requests
/// made at random, also while the hub starts. After every kill no Deployment is lost (each is
/// awake as it was, or asleep with its original in the restore Secret); after every resume each
/// namespace is as the newest request said, and no operation is left unfinished.
///
/// `SANDMAN_CRASH_KILLS` (default 20) and `SANDMAN_CRASH_SEED` set the length and the sequence;
/// `SANDMAN_CRASH_KILLS=200 swift test --filter CrashCampaign` is the long run (docs/operations.md).
@Suite("Crash campaign", .serialized)
struct CrashCampaignTests {
    static let namespaces = ["n0", "n1", "n2", "n3"]

    @Test func randomKillsLoseNothingAndReverseNothing() async throws {
        let environment = ProcessInfo.processInfo.environment
        let kills = environment["SANDMAN_CRASH_KILLS"].flatMap(Int.init) ?? 20
        let seed = environment["SANDMAN_CRASH_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64(UInt32.max))
        var campaign = try await Campaign.start(seed: seed)
        defer { campaign.stop() }
        let failures = try await campaign.play(kills: kills)
        #expect(failures.isEmpty, "seed \(seed) (rerun with SANDMAN_CRASH_SEED=\(seed)):\n\(failures.joined(separator: "\n"))\n\(campaign.logTail)")
        // The kills must land in the middle of operations for the campaign to prove anything.
        #expect(campaign.interrupted >= kills / 2, "only \(campaign.interrupted) of \(kills) kills interrupted an operation (seed \(seed))")
    }
}

/// The processes of the campaign and what the operator asked for so far.
struct Campaign {
    let directory: TemporaryDirectory
    let sim: Process
    let client: KubeClient
    let config: String
    let log: String
    let token: String
    var serve: CrashRecoveryTests.ServeProcess?
    var random: SeededGenerator
    /// The original replicas of every Deployment, by namespace and name.
    var original: [String: [String: Int64]] = [:]
    /// The newest accepted request for each namespace: true for sleep.
    var newest: [String: Bool] = [:]
    var history: [String] = []
    /// Kills that found an operation unfinished.
    var interrupted = 0

    static func start(seed: UInt64) async throws -> Campaign {
        let directory = try TemporaryDirectory("campaign")
        let fixtures = CrashCampaignTests.namespaces.map { HubFixture.shop($0, deployments: 16) }.joined(separator: "\n---\n")
        try directory.write("fixtures/shops.yaml", fixtures)
        let kubeconfig = directory.path + "/kube.yaml"
        let sim = Process()
        sim.executableURL = URL(fileURLWithPath: HubFixture.binary)
        // Every API call takes 30 ms: sleeps and wakes last long enough to be killed in the middle
        // (a whole-cluster one about a second, as long as the longest wait before a kill).
        sim.arguments = ["sim", "--fixtures", directory.path + "/fixtures", "--kubeconfig", kubeconfig, "--latency", "30ms"]
        sim.standardOutput = FileHandle.nullDevice
        sim.standardError = FileHandle.nullDevice
        try sim.run()
        #expect(await eventually(timeout: .seconds(30)) { FileManager.default.fileExists(atPath: kubeconfig) }, "sandman sim did not start")
        let access = try Kubeconfig(document: String(contentsOfFile: kubeconfig, encoding: .utf8)).access(context: "kubesim")
        let client = try KubeClient(name: "campaign", access: access)
        try directory.write("clusters/staging.yaml", """
            tier: staging
            kubeconfig: ../kube.yaml
            context: kubesim
            schedules:
              - {name: rare, namespaces: ["n*"], weekdays: "0", sleepAt: "03:00", wakeUpAt: "03:01"}
            client: {qps: 1000, burst: 1000, concurrency: 2}
            """)
        let config = try directory.write("sandman.yaml", "listen: 127.0.0.1:0\ndatabase: hub.sqlite\n")
        let created = try await ProcessOutput.run(HubFixture.binary, arguments: ["token", "create", "--role", "admin", "--name", "ci", "--config", config], timeout: .seconds(120))
        var campaign = Campaign(
            directory: directory, sim: sim, client: client, config: config, log: directory.path + "/serve.log",
            token: created.stdout.trimmingCharacters(in: .whitespacesAndNewlines), random: SeededGenerator(seed: seed)
        )
        for namespace in CrashCampaignTests.namespaces { campaign.original[namespace] = try await campaign.replicas(namespace) }
        return campaign
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    var logTail: String {
        let text = logText
        return "history:\n" + history.joined(separator: "\n") + "\nlog tail:\n" + text.split(separator: "\n").suffix(40).joined(separator: "\n")
    }

    /// Where the running hub listens, from its log.
    var url: String {
        let line = logText.split(separator: "\n").last { $0.contains("hub listening") } ?? ""
        guard let start = line.range(of: "url=") else { return "http://127.0.0.1:1" }
        return String(line[start.upperBound...].prefix { $0 != " " })
    }

    func api(_ method: String, _ path: String, body: String? = nil) async throws -> (status: Int, body: JSONValue) {
        var request = URLRequestLike(method: method, url: url + path, body: body)
        request.headers["Authorization"] = "Bearer \(token)"
        return try await request.send()
    }

    func replicas(_ namespace: String) async throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for deployment in try await client.list(Deployment.self, namespace: namespace) {
            result[deployment.name] = deployment.object[path: ["spec", "replicas"]]?.int
        }
        return result
    }

    func restoreData(_ namespace: String) async throws -> RestoreSecret.Contents? {
        do {
            return try RestoreSecret.read(try await client.get(Secret.self, namespace: namespace, name: "sleepinfo-hub-rare"))
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
    }

    // MARK: Playing

    mutating func play(kills: Int) async throws -> [String] {
        var failures: [String] = []
        for round in 0..<kills {
            serve = try CrashRecoveryTests.ServeProcess(config: config, log: log)
            if Bool.random(using: &random) {
                // A resume left alone: it finishes, and the namespaces are as the newest requests said.
                failures += await settledState(after: "resume \(round)")
            }
            for _ in 0..<Int.random(in: 1...2, using: &random) { try await ask() }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...900, using: &random)))
            let unfinished = await unfinishedOperations()
            serve?.kill()
            if unfinished > 0 { interrupted += 1 }
            history.append("kill \(round) with \(unfinished) operation(s) unfinished")
            failures += try await nothingLost(after: "kill \(round)")
            if !failures.isEmpty { return failures }
        }
        serve = try CrashRecoveryTests.ServeProcess(config: config, log: log)
        failures += await settledState(after: "the last resume")
        if try await !send("wake", namespaces: []) { failures.append("the hub did not take the last whole-cluster wake") }
        if await settled() {
            for namespace in CrashCampaignTests.namespaces where try await replicas(namespace) != original[namespace] {
                failures.append("\(namespace) is not as it was after the last wake")
            }
        }
        serve?.stop()
        return failures
    }

    /// One request of a random action on the whole cluster or some namespaces, repeated until the
    /// hub takes it (it may be starting).
    mutating func ask() async throws {
        let sleep = Bool.random(using: &random)
        let namespaces = Bool.random(using: &random) ? [] : Array(CrashCampaignTests.namespaces.shuffled(using: &random).prefix(Int.random(in: 1...3, using: &random)))
        guard try await send(sleep ? "sleep" : "wake", namespaces: namespaces) else { return }
        for namespace in namespaces.isEmpty ? CrashCampaignTests.namespaces : namespaces { newest[namespace] = sleep }
        history.append("\(sleep ? "sleep" : "wake") \(namespaces.isEmpty ? "all" : namespaces.joined(separator: ","))")
    }

    func send(_ action: String, namespaces: [String]) async throws -> Bool {
        // No namespaces: the whole cluster, which the API takes only when asked for explicitly.
        let body = (namespaces.isEmpty ? JSONValue.object(["all": true]) : .object(["namespaces": .array(namespaces.map(JSONValue.string))])).serialized()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let answer = try? await api("POST", "/api/v1/clusters/staging/\(action)", body: body), answer.status == 202 { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// How many operations the hub has not finished; -1 when it does not answer.
    func unfinishedOperations() async -> Int {
        guard let answer = try? await api("GET", "/api/v1/operations?limit=1000"), answer.status == 200 else { return -1 }
        return (answer.body["operations"]?.array ?? []).filter { $0["finishedAt"] == .null || $0["finishedAt"] == nil }.count
    }

    func settled() async -> Bool {
        await eventually(timeout: .seconds(90)) { await unfinishedOperations() == 0 }
    }

    // MARK: Checking

    /// Every Deployment awake as it was, or asleep with its original in the restore Secret.
    func nothingLost(after moment: String) async throws -> [String] {
        var failures: [String] = []
        for namespace in CrashCampaignTests.namespaces {
            let current = try await replicas(namespace)
            let restore = try await restoreData(namespace)?.restore ?? RestoreData()
            for (name, replicas) in current where replicas != original[namespace]?[name] {
                let saved = restore.patch(groupKind: "Deployment.apps", name: name).flatMap { try? JSONValue(parsing: $0) }
                if replicas != 0 || saved?[path: ["spec", "replicas"]]?.int != original[namespace]?[name] {
                    failures.append("after \(moment): \(namespace)/\(name) at \(replicas) replicas, restore data \(saved?.serialized() ?? "none"), originally \(original[namespace]?[name] ?? -1)")
                }
            }
        }
        return failures
    }

    /// Once every operation is finished: each namespace as the newest request for it said.
    func settledState(after moment: String) async -> [String] {
        guard await settled() else { return ["after \(moment): operations still unfinished after 90 s"] }
        var failures: [String] = []
        for namespace in CrashCampaignTests.namespaces {
            guard let asleep = newest[namespace], let current = try? await replicas(namespace) else { continue }
            let expected = asleep ? original[namespace]!.mapValues { _ in Int64(0) } : original[namespace]!
            if current != expected {
                failures.append("after \(moment): \(namespace) should be \(asleep ? "asleep" : "awake"): \(current)")
            }
        }
        return failures + ((try? await nothingLost(after: moment)) ?? [])
    }

    func stop() {
        serve?.stop()
        sim.terminate()
        sim.waitUntilExit()
        directory.remove()
    }
}
