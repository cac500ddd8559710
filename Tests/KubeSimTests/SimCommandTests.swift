import Foundation
import JSON
import Kube
import TestSupport
import Testing

/// `sandman sim` as a user runs it: flags, the kubeconfig it writes, the control endpoints.
@Suite("sandman sim", .serialized)
struct SimCommandTests {
    struct MissingBinary: Error, CustomStringConvertible {
        var description: String { "the sandman binary is not built: run `swift build` first" }
    }

    static func binary() throws -> String {
        for candidate in [".build/debug/sandman", ".build/x86_64-unknown-linux-gnu/debug/sandman"] {
            let path = repositoryFile(candidate)
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw MissingBinary()
    }

    /// A running `sandman sim` whose output goes to a file (as when redirected by a user).
    final class Running: @unchecked Sendable {
        let process = Process()
        let output: String
        let kubeconfig: String

        init(_ arguments: [String], directory: TemporaryDirectory) throws {
            output = directory.path + "/sim.out"
            kubeconfig = directory.path + "/sim.kubeconfig"
            FileManager.default.createFile(atPath: output, contents: nil)
            process.executableURL = URL(fileURLWithPath: try SimCommandTests.binary())
            process.arguments = ["sim", "--kubeconfig", kubeconfig] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: repositoryFile(""))
            process.standardOutput = FileHandle(forWritingAtPath: output)
            process.standardError = FileHandle(forWritingAtPath: output)
            try process.run()
        }

        var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

        /// The server URL, once the banner is in the output file.
        func url() async -> String? {
            guard await eventually(timeout: .seconds(20), { self.text.contains("KubeSim serving") }) else { return nil }
            return text.split(separator: "\n").first { $0.hasPrefix("KubeSim serving") }?.split(separator: " ")[2].description
        }

        func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    @Test func httpWritesAUsableKubeconfigAndServesTheControlEndpoints() async throws {
        let directory = try TemporaryDirectory("sim-command")
        defer { directory.remove() }
        let sim = try Running(["--http", "--ready-delay", "2s", "--latency", "5ms", "--rate-limit", "500"], directory: directory)
        defer { sim.stop() }
        let url = try #require(await sim.url(), "no banner in: \(sim.text)")
        #expect(url.hasPrefix("http://"))
        let kubectl = try Kubectl(kubeconfig: sim.kubeconfig, cacheDirectory: directory.path + "/cache")
        let namespaces = try await kubectl.run(["get", "namespaces", "-o", "name"])
        #expect(namespaces.status == 0, "\(namespaces.stderr)")
        #expect(namespaces.stdout.contains("namespace/default"))
        // The SleepInfo CRD is there without any fixture.
        #expect(try await kubectl.run(["get", "sleepinfos", "-A"]).status == 0)

        let counts = try await ProcessOutput.run("/usr/bin/curl", arguments: ["-s", url + "/kubesim/requests"], timeout: .seconds(120))
        let body = try JSONValue(parsing: counts.stdout)
        #expect((body[path: ["counts", "list namespaces"]]?.int ?? 0) >= 1, "\(counts.stdout)")
        let faults = try await ProcessOutput.run("/usr/bin/curl", arguments: ["-s", url + "/kubesim/faults"], timeout: .seconds(120))
        let current = try JSONValue(parsing: faults.stdout)
        #expect(current["latencyMilliseconds"] == 5)
        #expect(current[path: ["rateLimit", "qps"]]?.double == 500)
        let changed = try await ProcessOutput.run("/usr/bin/curl", arguments: ["-s", "-X", "PUT", "-d", #"{"errorRate": 1}"#, url + "/kubesim/faults"], timeout: .seconds(120))
        #expect(try JSONValue(parsing: changed.stdout)["errorRate"]?.double == 1)
        #expect(try await kubectl.run(["get", "namespaces"]).stderr.contains("injected server error"))
        let refused = try await ProcessOutput.run("/usr/bin/curl", arguments: ["-s", "-X", "PUT", "-d", #"{"errorRat": 1}"#, url + "/kubesim/faults"], timeout: .seconds(120))
        #expect(refused.stdout.contains("errorRat: unknown field"))
        // A refusal worded as kube-apiserver words it, as kubectl shows it.
        let forbidding = #"{"errorRate": 1, "errorStatus": 403, "errorVerbs": ["list"]}"#
        _ = try await ProcessOutput.run("/usr/bin/curl", arguments: ["-s", "-X", "PUT", "-d", forbidding, url + "/kubesim/faults"], timeout: .seconds(120))
        let forbidden = try await kubectl.run(["get", "namespaces"])
        #expect(forbidden.stderr.contains(#"Error from server (Forbidden): namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope"#), "\(forbidden.stderr)")
        let badStatus = try await ProcessOutput.run("/usr/bin/curl", arguments: ["-s", "-X", "PUT", "-d", #"{"errorStatus": 418}"#, url + "/kubesim/faults"], timeout: .seconds(120))
        #expect(badStatus.stdout.contains("errorStatus: must be one of 403, 404, 409, 422, 500, 503"), "\(badStatus.stdout)")
    }

    /// docs/kubesim.md's example: the demo fixtures, whose SleepInfos need the bundled CRD.
    @Test func servesTheDemoFixturesWithSleepInfos() async throws {
        let directory = try TemporaryDirectory("sim-command")
        defer { directory.remove() }
        let sim = try Running(["--fixtures", "clusters/demo/dev"], directory: directory)
        defer { sim.stop() }
        #expect(await sim.url() != nil, "\(sim.text)")
        let kubectl = try Kubectl(kubeconfig: sim.kubeconfig, cacheDirectory: directory.path + "/cache")
        let sleepInfos = try await kubectl.run(["get", "sleepinfos", "-A", "-o", "name"])
        #expect(sleepInfos.status == 0, "\(sleepInfos.stderr)")
        #expect(!sleepInfos.stdout.isEmpty)
    }

    @Test(arguments: [
        (["--fixtures", "no/such/dir"], "--fixtures no/such/dir: no such directory"),
        (["all", "--gitops", "no/such/dir"], "--gitops no/such/dir: no such directory"),
        (["--ready-delay", "soon"], "--ready-delay: invalid duration"),
        (["--error-rate", "2"], "--error-rate: must be a number from 0 to 1"),
        (["--kubernetes-version", "1.32"], "--kubernetes-version 1.32: expected a version like v1.32.4"),
    ])
    func badOptionsAreRefused(arguments: [String], message: String) async throws {
        let result = try await ProcessOutput.run(try Self.binary(), arguments: ["sim"] + arguments, timeout: .seconds(60))
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
