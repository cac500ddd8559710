import Foundation
import Kube
import TestSupport
import Testing

/// Every `sh` block of README.md and docs/*.md, run as a user would copy it into a shell next to
/// a running `sandman demo`: documented commands cannot rot unnoticed. A block that cannot run
/// here is listed in `notRun` with the reason.
@Suite("Documented commands", .serialized)
struct DocumentedCommandsTests {
    struct Block: CustomStringConvertible {
        var file: String
        var line: Int
        var text: String
        var description: String { "\(file):\(line)" }
        /// How `notRun` names it.
        var key: String { "\(file): " + (text.components(separatedBy: "\n").first ?? "") }
    }

    /// Blocks not run, by file (every block of it) or by file and the block's first line, with why.
    static let notRun: [String: String] = [
        "README.md: make demo   # a hub against simulated production, staging and dev clusters, GitLab and Argo CD":
            "make demo and make test: the suite runs under make test, and starts the demo itself",
        "docs/deploy.md": "a real cluster, a container registry and docker",
        "docs/operations.md: SANDMAN_CRASH_KILLS=200 swift test --filter CrashCampaign   # SANDMAN_CRASH_SEED=N replays one":
            "a crash campaign under swift test, itself a test",
        "docs/operations.md: kubectl -n shop annotate sleepinfo nights \\": "kubectl against a cluster of one's own",
        "docs/operations.md: # stop the hub (or accept that what it writes after the copy starts stays behind), then:":
            "a PostgreSQL server and a hub database of one's own (db.internal, /var/lib/sandman)",
        "docs/operations.md: pg_dump --format=custom --no-owner --dbname=\"$SANDMAN_DATABASE_URL\" --file=/backups/sandman-$(date +%F).dump":
            "a PostgreSQL server of one's own",
        "docs/kubesim.md: curl -k https://127.0.0.1:PORT/kubesim/requests            # {\"total\": N, \"counts\": {\"list deployments.apps\": 3, ...}}":
            "the port of a simulator started by hand (PORT)",
        "docs/simulators.md: curl -H 'Authorization: Bearer argocd-sandman-sim' $ARGOCD/api/v1/applications/staging-payments":
            "$ARGOCD: the address of the simulators the block above starts",
        "docs/simulators.md: .build/debug/sandman sim gitlab --repo clusters/demo/gitops/repo --project platform/deploy":
            "the port of the GitLab simulator it starts (PORT)",
        "docs/simulators.md: .build/debug/sandman sim argocd --gitlab http://127.0.0.1:40111 --gitlab-token glpat-sandman-sim \\":
            "the port of a GitLab simulator started by hand",
        "docs/slack.md: export SANDMAN_SLACK_SIGNING_SECRETS=<Basic Information → Signing Secret>   # comma-separated during rotation":
            "the secrets of a real Slack app",
    ]

    /// Placeholders of the docs and what they stand for here (`demo`: the running demo).
    static func substitutions(hub: String, token: String, secret: String) -> [(String, String)] {
        [
            ("http://127.0.0.1:8080", hub), ("sm_...", token), ("=demo-secret", "=\(secret)"), ("[DIR]", ""),
            ("<id>", "$(sandman token list --config sandman.yaml | awk 'NR == 2 {print $1}')"),
            // Commands the suite is built by, and the demo it starts.
            ("swift build\n", "true\n"), ("make demo ", "true "), ("make demo\n", "true\n"),
        ]
    }

    static func blocks() throws -> [Block] {
        let root = repositoryFile("")
        let docs = try FileManager.default.contentsOfDirectory(atPath: root + "/docs").filter { $0.hasSuffix(".md") }.sorted()
        return try (["README.md"] + docs.map { "docs/" + $0 }).flatMap { file -> [Block] in
            let lines = try String(contentsOfFile: root + "/" + file, encoding: .utf8).components(separatedBy: "\n")
            var blocks: [Block] = []
            var open: Block?
            for (index, line) in lines.enumerated() {
                if var block = open {
                    if line.hasPrefix("```") {
                        blocks.append(block)
                        open = nil
                    } else {
                        block.text += line + "\n"
                        open = block
                    }
                } else if line == "```sh" {
                    open = Block(file: file, line: index + 1, text: "")
                }
            }
            return blocks
        }
    }

    /// The block as a script: stops at the first failing command, runs simulators in the
    /// background until their banner is out, and stops them at the end.
    static func script(_ block: Block, substitutions: [(String, String)]) -> String {
        var text = substitutions.reduce(block.text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
        text = text.replacingOccurrences(of: "\\\n", with: "")
        // Run as its own process group (setsid): at the end the whole group goes, simulators
        // started in the background included.
        var lines = ["set -eo pipefail", "trap 'status=$?; trap - EXIT; trap \"\" TERM; kill -- -$$ 2>/dev/null; exit $status' EXIT",
                     "curl() { command curl --fail-with-body -sS \"$@\"; }"]
        for (index, line) in text.components(separatedBy: "\n").enumerated() {
            let command = line.drop { $0 == " " }
            guard command.hasPrefix("sandman sim") || command.hasPrefix(".build/debug/sandman sim") else {
                lines.append(line)
                continue
            }
            let log = ".sim-\(index).log"
            lines += [
                "{", line, "} > \(log) 2>&1 &",
                "for _ in $(seq 1200); do grep -q 'Ctrl-C stops' \(log) && break; kill -0 $! 2>/dev/null || break; sleep 0.1; done",
                "grep -q 'Ctrl-C stops' \(log) || { cat \(log); exit 1; }",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func everyDocumentedCommandRunsAgainstTheDemo() async throws {
        let blocks = try Self.blocks()
        let keys = Set(blocks.flatMap { [$0.file, $0.key] })
        #expect(Set(Self.notRun.keys).subtracting(keys).isEmpty, "notRun names blocks that no longer exist")
        let runnable = blocks.filter { Self.notRun[$0.file] == nil && Self.notRun[$0.key] == nil }
        #expect(runnable.count >= 10, "\(runnable)")

        // A directory laid out like the repository, with the binary where the docs call it.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let fileManager = FileManager.default
        for name in ["clusters", "plugins", "deploy"] {
            try fileManager.createSymbolicLink(atPath: directory.path + "/" + name, withDestinationPath: repositoryFile(name))
        }
        try fileManager.copyItem(atPath: repositoryFile("sandman.yaml"), toPath: directory.path + "/sandman.yaml")
        for binaryDirectory in [".build/debug", "bin"] {
            try fileManager.createDirectory(atPath: directory.path + "/" + binaryDirectory, withIntermediateDirectories: true)
            try fileManager.createSymbolicLink(atPath: directory.path + "/\(binaryDirectory)/sandman", withDestinationPath: HubFixture.binary)
        }

        let demo = try SignalledProcess(arguments: ["demo", "--port", "0"], log: directory.path + "/demo.log", in: directory.path)
        #expect(await demo.waitForLog(containing: "Ctrl-C stops everything."), "\(demo.logText)")
        let log = demo.logText
        let hub = try #require(log.firstMatch(of: /Hub: +(http:\/\/\S+)/)?.1, "\(log)")
        let token = try #require(log.firstMatch(of: /SANDMAN_TOKEN=(sm_\S+)/)?.1, "\(log)")
        let secret = try #require(log.firstMatch(of: /SANDMAN_SLACK_SIGNING_SECRETS=(\S+)/)?.1, "\(log)")
        let substitutions = Self.substitutions(hub: String(hub), token: String(token), secret: String(secret))
        let environment = [
            "SANDMAN_HUB": String(hub), "SANDMAN_TOKEN": String(token), "SANDMAN_SLACK_SIGNING_SECRETS": String(secret),
            "PATH": directory.path + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "HOME": directory.path, "NO_COLOR": "1",
        ]
        // As a user who waits until `status` says every cluster is ready.
        let ready = await eventually {
            (try? await ProcessOutput.run(HubFixture.binary, arguments: ["status"], environment: environment, timeout: .seconds(60)))?.status == 0
        }
        #expect(ready, "\(demo.logText)")
        for block in runnable {
            let script = try directory.write(".block-\(block.line).sh", Self.script(block, substitutions: substitutions))
            let output = try await ProcessOutput.run(
                "/bin/bash", arguments: ["-c", "cd \(directory.path) && setsid --wait bash \(script)"], environment: environment,
                timeout: .seconds(180)
            )
            #expect(output.status == 0, "\(block) failed (\(output.status)):\n\(output.stdout)\n\(output.stderr)")
        }
        _ = try await demo.stop(with: SIGTERM)
    }
}
