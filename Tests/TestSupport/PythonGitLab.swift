import Foundation
import Kube

/// python-gitlab (PyPI) in a virtual environment the tests create once and then reuse, as an
/// independent GitLab client to check GitLabSim against. Fails loudly when python3, its `venv`
/// module (Debian: python3-venv, installed by `make deps`) or PyPI is missing.
public enum PythonGitLab {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// `.build/python-gitlab-venv` of this package, shared by test runs.
    static let venv: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/python-gitlab-venv")

    private static let ready = SetupOnce()

    /// The venv's python, with python-gitlab importable.
    public static func python() async throws -> String {
        try await ready.run { try await prepare() }
        return venv.path + "/bin/python"
    }

    /// Runs a Python script with the venv's python; `environment` is added to the process's.
    package static func run(script: String, environment: [String: String], timeout: Duration = .seconds(120)) async throws -> ProcessOutput {
        let python = try await python()
        return try await ProcessOutput.run(python, arguments: ["-c", script], environment: environment, timeout: timeout)
    }

    private static func prepare() async throws {
        let marker = venv.appendingPathComponent(".ready")
        if FileManager.default.fileExists(atPath: marker.path) { return }
        let lock = venv.path + ".lock"
        try FileManager.default.createDirectory(at: venv.deletingLastPathComponent(), withIntermediateDirectories: true)
        try await withDirectoryLock(lock) {
            if FileManager.default.fileExists(atPath: marker.path) { return }
            guard let python3 = findOnPath("python3") else {
                throw Unavailable(description: "python3 is not on PATH: the GitLabSim tests run python-gitlab (run `make deps`)")
            }
            try? FileManager.default.removeItem(at: venv)
            let created = try await ProcessOutput.run(python3, arguments: ["-m", "venv", venv.path], timeout: .seconds(120))
            guard created.status == 0 else {
                throw Unavailable(description: "python3 -m venv failed (install python3-venv: `make deps`): \(created.stderr)")
            }
            let installed = try await ProcessOutput.run(
                venv.path + "/bin/python", arguments: ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "python-gitlab>=4"],
                timeout: .seconds(600)
            )
            guard installed.status == 0 else {
                throw Unavailable(description: "pip install python-gitlab failed (PyPI must be reachable): \(installed.stderr)")
            }
            let check = try await ProcessOutput.run(venv.path + "/bin/python", arguments: ["-c", "import gitlab; print(gitlab.__version__)"], timeout: .seconds(60))
            guard check.status == 0 else { throw Unavailable(description: "python-gitlab does not import: \(check.stderr)") }
            try check.stdout.write(to: marker, atomically: true, encoding: .utf8)
        }
    }

    private static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A lock between processes (parallel test runs): a directory created atomically, waited for
    /// without blocking a thread, taken over when older than ten minutes (a crashed holder).
    private static func withDirectoryLock(_ path: String, _ body: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + .seconds(900)
        while true {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
                break
            } catch {
                let created = (try? FileManager.default.attributesOfItem(atPath: path)[.creationDate] as? Date) ?? Date()
                if Date().timeIntervalSince(created) > 600 { try? FileManager.default.removeItem(atPath: path) }
                guard ContinuousClock.now < deadline else { throw Unavailable(description: "timed out waiting for \(path)") }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await body()
    }
}

/// Runs a setup once per process; concurrent callers wait for the same run, and a failed run is
/// tried again by the next caller.
actor SetupOnce {
    private var running: Task<Void, any Error>?

    func run(_ setup: @escaping @Sendable () async throws -> Void) async throws {
        if let running, (try? await running.value) != nil { return }
        let task = Task { try await setup() }
        running = task
        try await task.value
    }
}
