import Foundation
import Kube

/// Runs the real `kubectl` against a kubeconfig, as an independent check of the simulator.
/// Fails loudly when kubectl is not installed: these tests must not silently pass without it.
public struct Kubectl: Sendable {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public struct Missing: Error, CustomStringConvertible {
        public var description: String {
            "kubectl is not installed or not on PATH: the KubeSim tests need the real kubectl (install it, e.g. from Debian's kubernetes-client or the upstream binary)"
        }
    }

    public let executable: String
    public let kubeconfig: String
    public let cacheDirectory: String

    public init(kubeconfig: String, cacheDirectory: String) throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let found = path.split(separator: ":").map({ "\($0)/kubectl" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Missing()
        }
        self.executable = found
        self.kubeconfig = kubeconfig
        self.cacheDirectory = cacheDirectory
    }

    /// Runs `kubectl ARGS`; a run longer than `timeout` is killed and reported as a failure.
    /// Use kubectl's own `--request-timeout` to end watches.
    public func run(_ arguments: [String], stdin: String = "", timeout: Duration = .seconds(60)) async throws -> Output {
        let result = try await ProcessOutput.run(
            executable, arguments: ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory] + arguments,
            input: stdin, timeout: timeout
        )
        return Output(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }
}
