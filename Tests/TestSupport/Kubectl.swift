import Foundation

/// Runs the real `kubectl` against a kubeconfig, as an independent check of the simulator.
/// Fails loudly when kubectl is not installed: these tests must not silently pass without it.
public struct Kubectl: Sendable {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the process was stopped by the timeout rather than exiting by itself.
        public var timedOut: Bool
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

    /// Runs `kubectl ARGS`; after `timeout` the process is stopped and what it printed is returned.
    public func run(_ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(30)) async throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--kubeconfig", kubeconfig, "--cache-dir", cacheDirectory] + arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        // Drain the pipes while the process runs so that large outputs do not block it. The reads
        // block, so they run on threads of their own, never on the cooperative pool (which also
        // serves the in-process simulator kubectl is talking to).
        async let stdoutData = Self.readToEnd(out.fileHandleForReading)
        async let stderrData = Self.readToEnd(err.fileHandleForReading)
        let timer = Task {
            try await Task.sleep(for: timeout)
            process.terminate()
        }
        for await _ in exited.stream {}
        let timedOut = timer.isCancelled == false && process.terminationReason == .uncaughtSignal
        timer.cancel()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: await stdoutData, as: UTF8.self),
            stderr: String(decoding: await stderrData, as: UTF8.self),
            timedOut: timedOut
        )
    }

    private static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: readAll(handle.fileDescriptor)) }.start()
        }
    }

    /// Reads until end of file, retrying reads interrupted by signals (Foundation's
    /// `readDataToEndOfFile` traps on EINTR).
    private static func readAll(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count < 0, errno == EINTR {
                continue
            } else {
                return data
            }
        }
    }
}
