import ArgumentParser
import Foundation
import Kube

/// The `sandman` processes end-to-end benchmarks run (`sim`, `serve`), their logs, and the
/// manifests they load.
enum BenchProcess {
    /// The `sandman` binary built next to `sandman-bench`.
    static func sandmanBinary() throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sandman").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("\(binary) not found: build the sandman product next to sandman-bench")
        }
        return binary
    }

    /// Namespaces `team-0`... with `perNamespace` Deployments of 2 replicas each.
    static func deploymentFixtures(namespaces: Int, perNamespace: Int) -> String {
        var documents: [String] = []
        for namespace in 0..<namespaces {
            documents.append("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-\(namespace)}")
            for index in 0..<perNamespace {
                documents.append("""
                    apiVersion: apps/v1
                    kind: Deployment
                    metadata: {name: app-\(index), namespace: team-\(namespace)}
                    spec: {replicas: 2, selector: {matchLabels: {app: a\(index)}}, template: {metadata: {labels: {app: a\(index)}}, spec: {containers: [{name: a, image: nginx}]}}}
                    """)
            }
        }
        return documents.joined(separator: "\n---\n") + "\n"
    }

    /// Starts `binary` in the log's directory, its output into `log`.
    static func launch(_ binary: String, _ arguments: [String], log: String) throws -> Process {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: (log as NSString).deletingLastPathComponent)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// The first word after `marker` on the first line of `log` containing `needle`, waiting for it.
    static func waitForLine(in log: String, containing needle: String, after marker: String, timeout: Duration = .seconds(120)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains(needle) }), let range = line.range(of: marker) {
                return String(line[range.upperBound...].drop { $0 == " " }.prefix { $0 != " " })
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("no line with \"\(needle)\" in \(log)")
    }

    static func waitForLine(in log: String, prefix: String, timeout: Duration = .seconds(120)) async throws -> String {
        try await waitForLine(in: log, containing: prefix, after: prefix, timeout: timeout)
    }

    /// A `sandman sim` of `namespaces` namespaces `team-*` with `perNamespace` Deployments each
    /// (`flags`: its faults), and the hub's file for it as the cluster `staging`
    /// (`directory/clusters/staging.yaml`, with a schedule that never acts while measured);
    /// returns the running simulator and its URL. The caller terminates it.
    static func stagingCluster(
        _ binary: String, directory: String, namespaces: Int, perNamespace: Int, flags: [String] = []
    ) async throws -> (process: Process, url: String) {
        for folder in ["fixtures", "clusters"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
        }
        try deploymentFixtures(namespaces: namespaces, perNamespace: perNamespace)
            .write(toFile: directory + "/fixtures/apps.yaml", atomically: true, encoding: .utf8)
        let sim = try launch(binary, ["sim", "--fixtures", directory + "/fixtures", "--kubeconfig", directory + "/kube.yaml"] + flags, log: directory + "/sim.log")
        do {
            let url = try await waitForLine(in: directory + "/sim.log", prefix: "KubeSim serving ")
            try """
                tier: staging
                kubeconfig: ../kube.yaml
                schedules:
                  - {name: rare, namespaces: ["team-*"], weekdays: "0", sleepAt: "03:00", wakeUpAt: "03:01"}
                """.write(toFile: directory + "/clusters/staging.yaml", atomically: true, encoding: .utf8)
            return (sim, url)
        } catch {
            sim.terminate()
            throw error
        }
    }

    /// A `sandman serve` of `directory/sandman.yaml`, logging to `directory/serve.log`, with an admin
    /// token made beforehand; returns once it listens, with the moment it was launched. The caller
    /// terminates it.
    static func serve(_ binary: String, directory: String) async throws -> (process: Process, url: String, token: String, launched: ContinuousClock.Instant) {
        let config = directory + "/sandman.yaml"
        let token = try await ProcessOutput.run(binary, arguments: ["token", "create", "--role", "admin", "--name", "bench", "--config", config], timeout: .seconds(60))
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let launched = ContinuousClock.now
        let serve = try launch(binary, ["serve", "--config", config], log: directory + "/serve.log")
        do {
            return (serve, try await waitForLine(in: directory + "/serve.log", containing: "hub listening", after: "url="), token, launched)
        } catch {
            serve.terminate()
            throw error
        }
    }

    /// Resident and peak resident memory of a process, in bytes, from /proc.
    static func memory(of process: Process) -> (resident: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        func kilobytes(_ field: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return (kilobytes("VmRSS"), kilobytes("VmHWM"))
    }
}
