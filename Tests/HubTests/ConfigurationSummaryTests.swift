import Config
import Foundation
import Hub
import Store
import TestSupport
import Testing

@Suite("Configuration summary")
struct ConfigurationSummaryTests {
    /// `sandman config validate` names the PostgreSQL database without its password.
    @Test func theDatabasePasswordIsNeverPrinted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("sandman.yaml", """
            database: postgres://sandman:hunter2-secret@db.internal/hub?sslmode=require
            leaderElection: {homeCluster: staging}

            """)
        try directory.write("clusters/staging.yaml", "tier: staging\n")
        let configuration = try ConfigLoader.load(path: path, environment: [:])
        let text = ConfigurationSummary(configuration).lines.joined(separator: "\n")
        #expect(text.contains("database postgres://sandman@db.internal:5432/hub"))
        #expect(!text.contains("hunter2"))
    }
}
