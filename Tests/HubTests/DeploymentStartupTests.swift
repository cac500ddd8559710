import Foundation
import JSON
import Kube
import TestSupport
import Testing

/// What a deployment relies on at `sandman serve`: the bootstrap admin token from a Secret
/// (hashed, never logged) and plugins shipped in their folders (a flat directory is refused).
@Suite("Deployment startup", .serialized)
struct DeploymentStartupTests {
    /// A hub with one cluster that is never reached: enough to start and answer the API.
    static func files(plugins: [String: String] = [:]) throws -> (TemporaryDirectory, config: String) {
        let directory = try TemporaryDirectory("deploy-startup")
        try directory.write("kube/edge.yaml", """
            apiVersion: v1
            kind: Config
            clusters: [{name: edge, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: edge, context: {cluster: edge, user: u}}]
            current-context: edge
            """)
        try directory.write("clusters/edge.yaml", "tier: staging\nkubeconfig: ../kube/edge.yaml\n")
        for (path, text) in plugins { try directory.write("plugins/" + path, text) }
        let config = try directory.write("sandman.yaml", "listen: 127.0.0.1:0\ndatabase: hub.sqlite\nplugins: {directory: plugins}\n")
        return (directory, config)
    }

    @Test func bootstrapTokenIsAnAdminTokenStoredHashedNeverLoggedAndRevokedWhenRemoved() async throws {
        let (directory, config) = try Self.files()
        defer { directory.remove() }
        let secret = "sm_bootstrap_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let log = directory.path + "/serve.log"
        var serve = try CrashRecoveryTests.ServeProcess(config: config, log: log, environment: ["SANDMAN_BOOTSTRAP_TOKEN": secret])
        defer { serve.stop() }
        let logText = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        var url: String {
            let line = logText().split(separator: "\n").last { $0.contains("hub listening") } ?? ""
            return line.range(of: "url=").map { String(line[$0.upperBound...].prefix { $0 != " " }) } ?? "http://127.0.0.1:1"
        }
        // Reloading plugins needs the admin role.
        func status(_ token: String) async -> Int? {
            var request = URLRequestLike(method: "POST", url: url + "/api/v1/plugins/reload")
            request.headers["Authorization"] = "Bearer \(token)"
            return try? await request.send().status
        }
        #expect(await eventually(timeout: .seconds(60)) { await status(secret) == 200 }, "\(logText())")
        #expect(await status(secret + "x") == 401)
        serve.stop()

        var stored = ""
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasPrefix("hub.sqlite") {
            stored += String(decoding: try Data(contentsOf: URL(fileURLWithPath: directory.path + "/" + file)), as: UTF8.self)
        }
        #expect(!stored.isEmpty)
        #expect(!stored.contains(secret), "the database holds the token itself")
        #expect(!logText().contains(secret), "the log shows the token")
        #expect(logText().contains("bootstrap admin token"))

        // The Secret removed: the next start revokes the token.
        // (ServeProcess starts its log afresh.)
        serve = try CrashRecoveryTests.ServeProcess(config: config, log: log)
        #expect(await eventually(timeout: .seconds(60)) { logText().contains("hub listening") }, "\(logText())")
        #expect(logText().contains("change=revoked"))
        #expect(await status(secret) == 401)
    }

    @Test func aShortBootstrapTokenIsRefusedNamingTheVariable() async throws {
        let (directory, config) = try Self.files()
        defer { directory.remove() }
        let result = try await ProcessOutput.run(HubFixture.binary, arguments: ["config", "validate", "--config", config], environment: ["SANDMAN_BOOTSTRAP_TOKEN": "short"], timeout: .seconds(120))
        #expect(result.status != 0)
        #expect((result.stdout + result.stderr).contains("SANDMAN_BOOTSTRAP_TOKEN must be at least 32 characters"), "\(result.stdout)\(result.stderr)")
    }

    @Test(arguments: [
        // One ConfigMap of every plugin mounted as a whole: a flat directory.
        ["default.lua": "function decide(ctx) return nil end", "commands.lua": "function handle(cmd) return nil end"],
        // A ConfigMap as the kubelet mounts it: hidden timestamped folder, ..data, symlinks (here plain files).
        ["..2027_01_04/default.lua": "function decide(ctx) return nil end", "README.md": "plugins"],
        // Folders, but not the plugin folders.
        ["policies/default.lua": "function decide(ctx) return nil end"],
    ])
    func aPluginDirectoryWithFilesButNoPluginIsRefusedAtServe(plugins: [String: String]) async throws {
        let (directory, config) = try Self.files(plugins: plugins)
        defer { directory.remove() }
        let result = try await ProcessOutput.run(HubFixture.binary, arguments: ["serve", "--config", config], timeout: .seconds(120))
        #expect(result.status != 0)
        let output = result.stdout + result.stderr
        #expect(output.contains("plugin directory \(directory.path)/plugins has files"), "\(output)")
        #expect(output.contains("policy/*.lua, teams/<team>.lua, slack/commands.lua or notify/*.lua"), "\(output)")
    }

    @Test func anEmptyOrFolderedPluginDirectoryStarts() async throws {
        for plugins in [[:], ["policy/default.lua": "function decide(ctx) return nil end"]] {
            let (directory, config) = try Self.files(plugins: plugins)
            defer { directory.remove() }
            let log = directory.path + "/serve.log"
            let serve = try CrashRecoveryTests.ServeProcess(config: config, log: log)
            defer { serve.stop() }
            #expect(await eventually(timeout: .seconds(60)) {
                ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("hub listening")
            })
        }
    }
}
