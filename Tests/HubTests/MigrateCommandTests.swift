import Foundation
import Kube
import Store
import TestSupport
import Testing

/// `sandman migrate`, then the CLI on the PostgreSQL store it filled, run as the binary.
@Suite("sandman migrate")
struct MigrateCommandTests {
    func sandman(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessOutput {
        try await ProcessOutput.run(HubFixture.binary, arguments: arguments, environment: ["NO_COLOR": "1"].merging(environment) { $1 }, timeout: .seconds(60))
    }

    @Test func aSQLiteHubMovesToPostgresAndTheCLIUsesIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let sqlite = directory.path + "/hub.sqlite"
        do {
            let store = try Store(path: sqlite)
            try await store.save(APITokenRecord(id: "t1", name: "ci-pipeline", hash: "h1", role: "operator", teams: [], clusters: [], createdAt: Date()))
        }
        let server = try await PostgresServer.shared()
        let url = server.url(database: try await server.createDatabase())

        let migrated = try await sandman(["migrate", "--from", "sqlite:" + sqlite], environment: ["SANDMAN_DATABASE_URL": url])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("apiToken: 1"), "\(migrated.stdout)")

        let again = try await sandman(["migrate", "--from", "sqlite:" + sqlite, "--to", url])
        #expect(again.status == 1)
        #expect(again.stderr.contains("already holds rows"), "\(again.stderr)")

        let config = try directory.write("sandman.yaml", "database: \(url)\nleaderElection: {homeCluster: a}\n")
        try directory.write("clusters/a.yaml", "tier: staging\n")
        let tokens = try await sandman(["token", "list", "--config", config])
        #expect(tokens.status == 0, "\(tokens.stderr)")
        #expect(tokens.stdout.contains("ci-pipeline"), "\(tokens.stdout)")

        let backup = try await sandman(["backup", "--config", config, directory.path + "/copy"])
        #expect(backup.status == 1)
        #expect(backup.stderr.contains("pg_dump"), "\(backup.stderr)")

        let badSource = try await sandman(["migrate", "--from", sqlite, "--to", url])
        #expect(badSource.status == 64)
        #expect(badSource.stderr.contains("expected sqlite:PATH"))
    }
}
