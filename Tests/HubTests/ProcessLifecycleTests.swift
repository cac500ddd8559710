import Demo
import Foundation
import Hub
import JSON
import Kube
import KubeSim
import Logging
import TestSupport
import Testing

/// `sandman serve` and `sandman demo` as processes: they say why they cannot start and exit, and
/// they stop soon after SIGTERM or SIGINT when nothing is under way.
@Suite("Process start and stop", .awaitingCleanup)
struct ProcessLifecycleTests {
    /// A folder with a one-cluster configuration for `sim`, listening on `port`.
    static func configuration(for sim: KubeSim, port: Int = 0) throws -> (directory: TemporaryDirectory, config: String) {
        let directory = try TemporaryDirectory("lifecycle")
        try directory.write("kube.yaml", sim.kubeconfig(user: "sandman", contextName: "dev"))
        try directory.write("clusters/dev.yaml", """
            tier: development
            kubeconfig: ../kube.yaml
            context: dev
            schedules:
              - {name: rare, namespaces: ["*"], weekdays: "0", sleepAt: "03:00", wakeUpAt: "03:01"}
            """)
        let config = try directory.write("sandman.yaml", "listen: 127.0.0.1:\(port)\ndatabase: hub.sqlite\n")
        return (directory, config)
    }

    @Test func serveOnABusyPortSaysSoAndExits() async throws {
        // The simulator holds a port; the hub is told to listen on it.
        let sim = try await KubeSim.start()
        defer { afterTest { await sim.shutdown() } }
        let (directory, config) = try Self.configuration(for: sim, port: sim.port)
        defer { directory.remove() }
        // Before the fix the process hung here until killed: the timeout is the failure.
        let serve = try await ProcessOutput.run(HubFixture.binary, arguments: ["serve", "--config", config], timeout: .seconds(60))
        #expect(serve.status == 1)
        #expect(serve.stderr.contains("error: address 127.0.0.1:\(sim.port) is already in use"), "\(serve.stderr)")
    }

    @Test func theDemoOnABusyPortSaysSo() async throws {
        let busy = try await KubeSim.start()
        defer { afterTest { await busy.shutdown() } }
        let state = try TemporaryDirectory("demo-busy")
        defer { state.remove() }
        var logger = Logger(label: "demo-busy")
        logger.logLevel = .critical
        await #expect {
            _ = try await DemoEnvironment.start(
                configPath: repositoryFile("sandman.yaml"), port: busy.port, speed: 1, stateDirectory: state.path,
                handleSignals: false, logger: logger
            )
        } throws: { error in
            "\(error)" == "address 127.0.0.1:\(busy.port) is already in use"
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func serveStopsSoonAfterASignal(signal: Int32) async throws {
        let sim = try await KubeSim.start()
        defer { afterTest { await sim.shutdown() } }
        let (directory, config) = try Self.configuration(for: sim)
        defer { directory.remove() }
        let process = try SignalledProcess(arguments: ["serve", "--config", config], log: directory.path + "/serve.log")
        #expect(await process.waitForLog(containing: "cluster ready"), "\(process.logText)")
        let elapsed = try await process.stop(with: signal)
        #expect(process.status == 0, "\(process.logText)")
        // Idle, it stops in milliseconds; the bound leaves room for a loaded machine.
        #expect(elapsed < .seconds(4), "\(elapsed)")
    }

    /// A second cluster whose context is not in the kubeconfig.
    static func addTypo(to directory: TemporaryDirectory) throws -> String {
        try directory.write("clusters/typo.yaml", """
            tier: development
            kubeconfig: ../kube.yaml
            context: dev-typo
            """)
    }

    @Test func validateFindsAContextMissingFromTheKubeconfigWithoutProbing() async throws {
        let sim = try await KubeSim.start()
        let (directory, config) = try Self.configuration(for: sim)
        await sim.shutdown()
        defer { directory.remove() }
        let file = try Self.addTypo(to: directory)
        let output = try await ProcessOutput.run(HubFixture.binary, arguments: ["config", "validate", "--config", config], timeout: .seconds(60))
        #expect(output.status == 1)
        let lines = output.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(file):3: context: kubeconfig \(directory.path)/kube.yaml, context \"dev-typo\": contexts: context \"dev-typo\" not found; contexts: dev", "\(output.stderr)")
        #expect(lines.last == "1 problem(s) found")
    }

    @Test func serveRunsTheGoodClustersAndReportsTheBrokenOne() async throws {
        let sim = try await KubeSim.start()
        defer { afterTest { await sim.shutdown() } }
        let (directory, config) = try Self.configuration(for: sim)
        defer { directory.remove() }
        let file = try Self.addTypo(to: directory)
        let created = try await ProcessOutput.run(HubFixture.binary, arguments: ["token", "create", "--role", "admin", "--name", "ci", "--config", config], timeout: .seconds(60))
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let process = try SignalledProcess(arguments: ["serve", "--config", config], log: directory.path + "/serve.log")
        #expect(await process.waitForLog(containing: "hub listening"), "\(process.logText)")
        let line = process.logText.split(separator: "\n").last { $0.contains("hub listening") } ?? ""
        let url = line.range(of: "url=").map { String(line[$0.upperBound...].prefix { $0 != " " }) } ?? ""
        func clusters() async -> [JSONValue] {
            var request = URLRequestLike(method: "GET", url: url + "/api/v1/clusters")
            request.headers["Authorization"] = "Bearer \(token)"
            return (try? await request.send().body["clusters"]?.array) ?? []
        }
        #expect(await eventually(timeout: .seconds(30)) { await clusters().first { $0["name"] == "dev" }?["ready"] == true })
        let typo = await clusters().first { $0["name"] == "typo" }
        #expect(typo?["ready"] == false)
        #expect(typo?["lastError"]?.string?.hasPrefix("cluster typo (\(file)): kubeconfig") == true, "\(String(describing: typo))")
        #expect(typo?["lastError"]?.string?.contains("context \"dev-typo\" not found") == true)
        _ = try await process.stop(with: SIGTERM)
    }

    /// The demo's simulators are in the process: an idle keep-alive connection of the hub's used to
    /// hold each for NIOSSL's 5 s wait for the client's close_notify, one after the other.
    @Test func theDemoStopsSoonAfterSIGTERM() async throws {
        let sim = try await KubeSim.start()
        let (directory, config) = try Self.configuration(for: sim)
        await sim.shutdown()
        defer { directory.remove() }
        let process = try SignalledProcess(arguments: ["demo", "--config", config, "--port", "0"], log: directory.path + "/demo.log")
        #expect(await process.waitForLog(containing: "cluster ready"), "\(process.logText)")
        let elapsed = try await process.stop(with: SIGTERM)
        #expect(process.status == 0, "\(process.logText)")
        // The old wait was 15 s for the demo's three clusters; the bound leaves room for a loaded machine.
        #expect(elapsed < .seconds(10), "\(elapsed)")
    }
}

/// A `sandman` process writing its output to a file, stopped by a signal. Unchecked: one test
/// drives it.
final class SignalledProcess: @unchecked Sendable {
    let process = Process()
    let log: String

    init(arguments: [String], log: String, in directory: String? = nil) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: HubFixture.binary)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    var status: Int32 { process.terminationStatus }

    func waitForLog(containing text: String) async -> Bool {
        await eventually(timeout: .seconds(60)) { logText.contains(text) }
    }

    /// Sends `signal` and waits for the process to end (killing it after a minute); how long it took.
    func stop(with signal: Int32) async throws -> Duration {
        let start = ContinuousClock.now
        kill(process.processIdentifier, signal)
        let ended = await eventually(timeout: .seconds(60), every: .milliseconds(10)) { !process.isRunning }
        let elapsed = ContinuousClock.now - start
        if !ended {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("still running a minute after signal \(signal): \(logText)")
        }
        process.waitUntilExit()
        return elapsed
    }
}
