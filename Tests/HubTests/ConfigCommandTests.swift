import Foundation
import JSON
import Kube
import TestSupport
import Testing

/// `sandman config validate` and the log formats, run as the binary.
@Suite("sandman config validate")
struct ConfigCommandTests {
    func sandman(_ arguments: [String]) async throws -> ProcessOutput {
        try await ProcessOutput.run(HubFixture.binary, arguments: arguments, environment: ["NO_COLOR": "1"], timeout: .seconds(60))
    }

    @Test func everyProblemIsPrintedWithFileLineAndFieldAndTheExitCodeSaysSo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = try directory.write("sandman.yaml", "listen: nowhere\nlogLevel: loud\n")
        try directory.write("clusters/a.yaml", "tier: prod\n")
        let broken = try await sandman(["config", "validate", "--config", config])
        #expect(broken.status == 1)
        let lines = broken.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains("\(config):1: listen: expected host:port with a port from 0 to 65535, got \"nowhere\""), "\(broken.stderr)")
        #expect(lines.contains("\(config):2: logLevel: expected one of trace, debug, info, notice, warning, error, critical, got \"loud\""))
        #expect(lines.contains("\(directory.path)/clusters/a.yaml:1: tier: expected one of production, staging, development, got \"prod\""))
        #expect(lines.last == "3 problem(s) found")
        // Every command that reads the configuration reports it the same way.
        for command in [["serve"], ["demo"], ["token", "list"]] {
            let output = try await sandman(command + ["--config", config])
            #expect(output.status == 1, "\(command)")
            #expect(output.stderr.contains("\(config):1: listen: expected host:port"), "\(command): \(output.stderr)")
            #expect(output.stderr.contains("3 problem(s) found"), "\(command)")
        }

        let missing = try await sandman(["config", "validate", "--config", directory.path + "/nope.yaml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope.yaml: file not found"))
    }

    @Test func theShippedConfigurationIsValid() async throws {
        let output = try await sandman(["config", "validate", "--config", repositoryFile("sandman.yaml")])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("cluster production (production)"))
    }

    @Test func jsonLogsAreOneObjectPerLine() async throws {
        let output = try await sandman(["plugins", "lint", repositoryFile("plugins"), "--log-format", "json", "--log-level", "info"])
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let entry = try JSONValue(parsing: Data(line.utf8))
            #expect(entry["level"]?.string != nil && entry["msg"]?.string != nil && entry["ts"]?.string != nil, "\(line)")
        }
    }
}
