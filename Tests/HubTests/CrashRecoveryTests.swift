import Foundation
import JSON
import Kube
import KubeSim
import TestSupport
import Testing

/// `sandman serve` as a real process, killed with SIGKILL in the middle of a sleep.
@Suite("Crash recovery of sandman serve", .serialized)
struct CrashRecoveryTests {
    /// A `sandman serve` process writing its log to a file.
    final class ServeProcess {
        let process = Process()

        init(config: String, log: String) throws {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            output.seekToEndOfFile()
            process.executableURL = URL(fileURLWithPath: HubFixture.binary)
            process.arguments = ["serve", "--config", config, "--log-level", "info"]
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

    @Test func aSleepInterruptedByAKillFinishesAfterRestartAndEverythingWakesAsItWas() async throws {
        let directory = try TemporaryDirectory("crash")
        var simConfiguration = KubeSim.Configuration()
        simConfiguration.bookmarkInterval = .milliseconds(500)
        let sim = try await KubeSim.start(simConfiguration)
        defer {
            Task {
                await sim.shutdown()
                directory.remove()
            }
        }
        try await sim.load(manifests: HubFixture.crd)
        try await sim.load(manifests: HubFixture.shop("shop", deployments: 12))
        let original = await replicas(sim)
        try directory.write("kube/staging.yaml", sim.kubeconfig(user: "sandman", contextName: "staging"))
        // A schedule whose transitions are far away: only the requested sleep acts.
        try directory.write("clusters/staging.yaml", """
            tier: staging
            kubeconfig: ../kube/staging.yaml
            context: staging
            schedules:
              - {name: rare, namespaces: [shop], weekdays: "0", sleepAt: "03:00", wakeUpAt: "03:01"}
            client: {qps: 500, burst: 500, concurrency: 1}
            """)
        let port = try await freePort()
        let config = try directory.write("sandman.yaml", "listen: 127.0.0.1:\(port)\ndatabase: hub.sqlite\n")
        let log = directory.path + "/serve.log"
        let hub = "http://127.0.0.1:\(port)"

        let created = try await ProcessOutput.run(HubFixture.binary, arguments: ["token", "create", "--role", "admin", "--name", "ci", "--config", config], timeout: .seconds(30))
        #expect(created.status == 0, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        var serve = try ServeProcess(config: config, log: log)
        defer { serve.stop() }
        #expect(await eventually(timeout: .seconds(30)) { await ready(hub) }, "hub did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(await eventually(timeout: .seconds(30)) { (try? await api(hub, token, "GET", "/api/v1/clusters/staging/namespaces"))?["namespaces"]?.array?.count == 1 })

        // Each API request now takes 100 ms: the sleep of 12 objects, one at a time, takes seconds.
        sim.setFaults(.init(latency: .milliseconds(100)))
        let answer = try await api(hub, token, "POST", "/api/v1/clusters/staging/sleep", body: #"{"namespaces":["shop"],"reason":"crash test"}"#)
        #expect(answer[path: ["operation", "state"]] == "pending")
        #expect(await eventually(timeout: .seconds(30)) { await replicas(sim).values.filter { $0 == 0 }.count >= 4 })
        serve.kill()

        let halfway = await replicas(sim)
        let asleep = halfway.values.filter { $0 == 0 }.count
        #expect(asleep >= 4 && asleep < 12, "killed too late to test anything: \(halfway)")
        let secret = await sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "sleepinfo-hub-rare")
        let info = secret?[path: ["data", "original-resource-info"]]?.string.flatMap { Data(base64Encoded: $0) }.flatMap { try? JSONValue(parsing: $0) }
        #expect(info?["Deployment.apps"]?.object?.count == 12, "the restore data was written before the first patch")

        sim.setFaults(.init())
        serve = try ServeProcess(config: config, log: log)
        #expect(await eventually(timeout: .seconds(30)) { await ready(hub) })
        // The unfinished operation runs again and finishes.
        #expect(await eventually(timeout: .seconds(30)) { await replicas(sim).values.allSatisfy { $0 == 0 } }, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        let woke = try await api(hub, token, "POST", "/api/v1/clusters/staging/wake", body: #"{"namespaces":["shop"]}"#)
        let id = try #require(woke[path: ["operation", "id"]]?.string, "\(woke)")
        #expect(await eventually(timeout: .seconds(30)) { (try? await api(hub, token, "GET", "/api/v1/operations/\(id)"))?[path: ["operation", "state"]] == "succeeded" })
        #expect(await replicas(sim) == original)
        let serveLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(serveLog.contains("resuming an unfinished operation"))
    }

    private func replicas(_ sim: KubeSim) async -> [String: Int64] {
        var result: [String: Int64] = [:]
        for object in await sim.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop") {
            result[object[path: ["metadata", "name"]]?.string ?? "?"] = object[path: ["spec", "replicas"]]?.int
        }
        return result
    }

    private func ready(_ hub: String) async -> Bool {
        (try? await URLRequestLike(method: "GET", url: hub + "/readyz").send().status) == 200
    }

    private func api(_ hub: String, _ token: String, _ method: String, _ path: String, body: String? = nil) async throws -> JSONValue {
        var request = URLRequestLike(method: method, url: hub + path, body: body)
        request.headers["Authorization"] = "Bearer \(token)"
        return try await request.send().body
    }
}

/// A TCP port nobody listens on right now.
func freePort() async throws -> Int {
    let server = try await TestHTTPServer.start { _ in .text(200, "") }
    let port = server.port
    await server.shutdown()
    return port
}
