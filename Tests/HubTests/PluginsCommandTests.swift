import Foundation
import Kube
import TestSupport
import Testing

/// `sandman plugins test|lint`, run as the binary: what a team runs before pushing a change.
@Suite("sandman plugins")
struct PluginsCommandTests {
    func plugins(_ arguments: [String]) async throws -> ProcessOutput {
        try await ProcessOutput.run(HubFixture.binary, arguments: ["plugins"] + arguments, environment: ["NO_COLOR": "1"], timeout: .seconds(60))
    }

    @Test func theShippedPluginsPassTheirTests() async throws {
        let output = try await plugins(["test", repositoryFile("plugins")])
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains(" passed, 0 failed"))
    }

    @Test func aFailingCaseAndABrokenFileExitNonZero() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", "function decide(ctx) return {action = 'keep'} end")
        try directory.write("policy/tests/p.yaml", "plugin: policy/p.lua\ncases:\n  - name: wrong on purpose\n    input: {action: sleep}\n    output: {action: sleep}\n")
        let failing = try await plugins(["test", directory.path])
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("FAIL policy/tests/p.yaml: wrong on purpose"))
        #expect(failing.stdout.contains("output.action: expected \"sleep\", got \"keep\""))
        #expect(failing.stdout.contains("0 passed, 1 failed"))

        let clean = try await plugins(["lint", directory.path])
        #expect(clean.status == 0, "\(clean.stderr)")
        try directory.write("policy/q.lua", "function decide(ctx")
        let broken = try await plugins(["lint", directory.path])
        #expect(broken.status == 1)
        #expect(broken.stderr.contains("policy/q.lua:1: ')' expected near <eof>"), "\(broken.stderr)")
        #expect(broken.stdout.contains("2 plugin(s) checked, 1 problem(s)"))
    }

    @Test func listSaysEachPluginOnceAndFailsWhenOneDoesNotLoad() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("policy/p.lua", "function decide(ctx) return {action = 'keep'} end")
        let loaded = try await plugins(["list", directory.path])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        #expect(loaded.stdout.split(separator: "\n").map { $0.split(separator: " ").prefix(3) } == [["FILE", "KIND", "STATE"], ["policy/p.lua", "policy", "loaded"]])
        #expect(loaded.stderr.isEmpty, "\(loaded.stderr)")

        try directory.write("policy/q.lua", "function decide(ctx")
        let broken = try await plugins(["list", directory.path])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("policy/q.lua  policy  failed  -"), "\(broken.stdout)")
        #expect(broken.stdout.contains("policy/q.lua:1: ')' expected near <eof>"))
        #expect(broken.stderr.isEmpty, "\(broken.stderr)")
        // The host's log when asked for.
        let logged = try await plugins(["list", directory.path, "--log-level", "info"])
        #expect(logged.stderr.contains("plugin loaded"), "\(logged.stderr)")
    }
}
