import Foundation
import Subprocess
import SystemPackage

/// The outcome of running a helper program to completion: exec credential plugins, and
/// kubectl in the tests.
package struct ProcessOutput: Sendable {
    package var status: Int32
    package var stdout: String
    package var stderr: String

    package struct TimedOut: Error, CustomStringConvertible {
        package var command: String
        package var description: String { "\(command) did not finish in time" }
    }

    /// Runs `command` (a path, or a name looked up on PATH) with extra environment variables
    /// and `input` on standard input; killed after `timeout`.
    package static func run(_ command: String, arguments: [String], environment: [String: String] = [:], input: String = "", timeout: Duration) async throws -> ProcessOutput {
        let executable: Executable = command.contains("/") ? .path(FilePath(command)) : .name(command)
        let overrides = Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, Optional($0.value)) })
        return try await withThrowingTaskGroup(of: ProcessOutput?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    executable, arguments: Arguments(arguments), environment: .inherit.updating(overrides),
                    input: .string(input), output: .string(limit: 4 << 20), error: .string(limit: 1 << 20)
                )
                let status: Int32 = switch result.terminationStatus {
                case .exited(let code): Int32(code)
                case .signaled(let signal): 128 + Int32(signal)
                }
                return ProcessOutput(status: status, stdout: result.standardOutput, stderr: result.standardError)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let output = first else { throw TimedOut(command: command) }
            return output
        }
    }
}
