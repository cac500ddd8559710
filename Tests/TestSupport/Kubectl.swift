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

    /// A specific kubectl binary, e.g. one of `releases(...)`.
    public init(executable: String, kubeconfig: String, cacheDirectory: String) {
        self.executable = executable
        self.kubeconfig = kubeconfig
        self.cacheDirectory = cacheDirectory
    }

    /// A kubectl of one minor release: Debian's `kubectl` package (Google Cloud SDK) installs
    /// `kubectl.1.27` ... `kubectl.1.33` beside its version-dispatching `kubectl`.
    public struct MissingRelease: Error, CustomStringConvertible {
        public var minor: Int
        public var description: String {
            "kubectl 1.\(minor) is not installed: the compatibility tests drive several kubectl releases (Debian's kubectl package installs /usr/lib/google-cloud-sdk/bin/kubectl.1.\(minor))"
        }
    }

    public static func release(_ minor: Int) throws -> String {
        let candidates = ["/usr/lib/google-cloud-sdk/bin/kubectl.1.\(minor)", "/usr/local/bin/kubectl.1.\(minor)", "/usr/bin/kubectl.1.\(minor)"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { throw MissingRelease(minor: minor) }
        return found
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
