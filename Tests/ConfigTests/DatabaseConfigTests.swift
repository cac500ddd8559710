import Foundation
import Store
import TestSupport
import Testing
@testable import Config

/// `database:` as a SQLite path or a PostgreSQL URL, with the password from the environment or a file.
@Suite("Database configuration")
struct DatabaseConfigTests {
    /// Loads a hub file with this `database:` and, unless `election` is nil, `leaderElection:`.
    private func load(
        _ database: String, election: String? = "{homeCluster: staging}", environment: [String: String] = [:],
        files: [String: String] = [:]
    ) throws -> HubConfiguration {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (name, text) in files { try directory.write(name, text) }
        var hub = "database: \(database.replacingOccurrences(of: "DIR", with: directory.path))\n"
        if let election { hub += "leaderElection: \(election)\n" }
        let path = try directory.write("sandman.yaml", hub)
        try directory.write("clusters/staging.yaml", "tier: staging\n")
        return try ConfigLoader.load(path: path, environment: environment)
    }

    private func issues(_ database: String, election: String? = nil, environment: [String: String] = [:]) -> [ConfigIssue] {
        let error = #expect(throws: ConfigError.self) { try load(database, election: election, environment: environment) }
        return error?.issues ?? []
    }

    /// Replicas sharing a PostgreSQL store must split the clusters, so leader election is on by
    /// default there and needs its home cluster; turning it off is allowed for one replica, with a warning.
    @Test func aPostgresStoreTurnsLeaderElectionOn() throws {
        let missingHome = issues("postgres://sandman@db/hub")
        #expect(missingHome.map(\.field) == ["leaderElection.homeCluster"])
        #expect(missingHome.first?.message.contains("on by default") == true)
        #expect(missingHome.first?.message.contains("leaderElection.enabled: false") == true)

        let homed = try load("postgres://sandman@db/hub")
        #expect(homed.leaderElection.enabled && homed.leaderElection.homeCluster == "staging")
        #expect(homed.warnings.isEmpty)

        let single = try load("postgres://sandman@db/hub", election: "{enabled: false}")
        #expect(!single.leaderElection.enabled)
        #expect(single.warnings.map(\.field) == ["leaderElection.enabled"])
        #expect(single.warnings.first?.message.contains("run one replica only") == true)

        let sqlite = try load("state/hub.sqlite", election: nil)
        #expect(!sqlite.leaderElection.enabled && sqlite.warnings.isEmpty)
        let explicit = issues("state/hub.sqlite", election: "{enabled: true}")
        #expect(explicit.map(\.message) == ["required when leaderElection.enabled is true: the cluster holding the Leases"])
    }

    /// `SANDMAN_DATABASE_URL` decides the store, so it decides the default too.
    @Test func theEnvironmentURLTurnsLeaderElectionOn() {
        let found = issues("data/hub.sqlite", environment: ["SANDMAN_DATABASE_URL": "postgres://sandman:pw@db/hub"])
        #expect(found.map(\.field) == ["leaderElection.homeCluster"])
    }

    @Test func aPathIsSQLite() throws {
        guard case .sqlite(let path) = try load("state/hub.sqlite").database else { Issue.record("not SQLite"); return }
        #expect(path.hasPrefix("/") && path.hasSuffix("/state/hub.sqlite"))
    }

    @Test(arguments: ["postgres", "postgresql"]) func aURLIsPostgres(_ scheme: String) throws {
        let location = try load("\(scheme)://sandman@db.internal:6543/hub?sslmode=verify-full&pool_size=20").database
        #expect(location == .postgres(PostgresLocation(host: "db.internal", port: 6543, user: "sandman", database: "hub", tls: .verifyFull, poolSize: 20)))
        #expect(location.description == "postgres://sandman@db.internal:6543/hub")
    }

    @Test func thePasswordComesFromAFileAndIsNeverShown() throws {
        let yaml = "\n  url: postgres://sandman@db/hub\n  passwordFile: DIR/pg-password\n  sslmode: require\n  poolSize: 3"
        let configuration = try load(yaml, files: ["pg-password": "s3cret-file\n"])
        guard case .postgres(let location) = configuration.database else { Issue.record("not Postgres"); return }
        #expect(location.password == "s3cret-file" && location.tls == .require && location.poolSize == 3)
        #expect(!"\(configuration.database)".contains("s3cret"))
    }

    @Test func theEnvironmentURLCarriesThePasswordAndWins() throws {
        let configuration = try load("data/hub.sqlite", environment: ["SANDMAN_DATABASE_URL": "postgres://sandman:p%40ss@db:5432/hub"])
        guard case .postgres(let location) = configuration.database else { Issue.record("not Postgres"); return }
        #expect(location.password == "p@ss" && location.host == "db" && location.database == "hub")
        #expect(!configuration.database.description.contains("p@ss"))
    }

    /// Bad input names the field, and never repeats the URL (it may hold a password).
    @Test(arguments: [
        ("postgres://sandman:pw-123@db/hub?sslmode=sometimes", "sslmode must be one of disable, require, verify-full"),
        ("postgres://sandman:pw-123@db/", "names no database"),
        ("postgres://:pw-123@db/hub", "names no user"),
        ("postgres://sandman:pw-123@db/hub?pool_size=0", "pool_size must be a number from 1 to 100"),
        ("postgres://sandman:pw-123@db/hub?colour=blue", "unknown URL parameter colour"),
    ])
    func badURLsNameTheField(_ url: String, _ message: String) {
        let found = issues(url)
        #expect(found.contains { $0.field == "database" && $0.message.contains(message) }, "\(found)")
        #expect(!found.contains { $0.description.contains("pw-123") })
    }

    @Test func aMappingNeedsAURLAndKnownFields() {
        let found = issues("\n  passwordFile: /nonexistent/pw\n  poolSize: 500\n  colour: blue")
        #expect(found.contains { $0.field == "database.url" && $0.message.contains("is required") }, "\(found)")
        #expect(found.contains { $0.field == "database.passwordFile" && $0.message.contains("cannot read the password file") }, "\(found)")
        #expect(found.contains { $0.field == "database.poolSize" }, "\(found)")
        #expect(found.contains { $0.field.contains("colour") || $0.message.contains("colour") }, "\(found)")
    }
}
