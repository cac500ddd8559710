import Foundation
import JSON
import Kube
import Store
import TestSupport
import Testing

/// Tokens and backups as an operator handles them: the CLI on the hub's machine, next to a
/// running `sandman serve`.
@Suite("Token lifecycle and backup", .serialized, .awaitingCleanup)
struct TokenLifecycleTests {
    typealias ServedHub = CrashRecoveryTests.ServedHub

    func sandman(_ arguments: [String]) async throws -> ProcessOutput {
        try await ProcessOutput.run(HubFixture.binary, arguments: arguments, environment: ["NO_COLOR": "1"], timeout: .seconds(120))
    }

    func status(_ served: ServedHub, token: String) async throws -> Int {
        var request = URLRequestLike(method: "GET", url: served.url + "/api/v1/clusters")
        request.headers["Authorization"] = "Bearer \(token)"
        return try await request.send().status
    }

    @Test func aRevokedTokenIsRefusedAtOnceAndBothChangesAreAudited() async throws {
        let served = try await ServedHub.start()
        defer { afterTest { [served] in await served.stop() } }
        let created = try await sandman(["token", "create", "--config", served.config, "--role", "viewer", "--name", "grafana"])
        #expect(created.status == 0, "\(created.stderr)")
        let secret = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await status(served, token: secret) == 200)

        let listed = try await sandman(["token", "list", "--config", served.config])
        let row = try #require(listed.stdout.split(separator: "\n").first { $0.contains(" grafana ") }, "\(listed.stdout)")
        let id = String(row.prefix { $0 != " " })
        let revoked = try await sandman(["token", "revoke", "--config", served.config, id])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        #expect(try await status(served, token: secret) == 401)
        let again = try await sandman(["token", "revoke", "--config", served.config, id])
        #expect(again.status == 1)
        #expect(again.stderr.contains("no active token \(id)"))

        let audit = try await served.api("GET", "/api/v1/audit?since=2000-01-01T00:00:00Z")["entries"]?.array ?? []
        let changes = audit.filter { $0["target"]?.string == id }.compactMap { $0["action"]?.string }
        #expect(changes.sorted() == ["token-create", "token-revoke"], "\(audit)")
    }

    @Test func aBackupTakenWhileTheHubRunsHoldsItsHistory() async throws {
        let served = try await ServedHub.start()
        defer { afterTest { [served] in await served.stop() } }
        let id = try await served.request("sleep", #"{"namespaces":["shop"]}"#)
        #expect(await served.settled())
        let copy = served.directory.path + "/backup.sqlite"
        let backup = try await sandman(["backup", "--config", served.config, copy])
        #expect(backup.status == 0, "\(backup.stderr)")
        let store = try Store(path: copy)
        #expect(try await store.operation(id: id)?.state == .succeeded)
        #expect(try await !store.tokens().isEmpty)
        let refused = try await sandman(["backup", "--config", served.config, "/nonexistent/dir/backup.sqlite"])
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("error: cannot write the copy to /nonexistent/dir/backup.sqlite"), "\(refused.stderr)")
    }
}
