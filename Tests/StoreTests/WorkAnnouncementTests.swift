import Foundation
import TestSupport
import Testing
@testable import Store

/// Announcements between replicas sharing PostgreSQL, on a real server.
@Suite("Work announcements", .awaitingCleanup)
struct WorkAnnouncementTests {
    /// The listening connection killed by the server (a restart, an administrator, a proxy):
    /// the listener connects again and the announcements made since reach it.
    @Test func theListenerComesBackAfterItsConnectionIsKilled() async throws {
        let test = try await TestStore(.postgres)
        defer { afterTest { await test.store.close(); test.remove() } }
        let store = test.store
        let heard = Heard()
        let listener = Task { await store.followAnnouncements { cluster in await heard.add(cluster) } }
        defer { listener.cancel() }
        func announceUntilHeard(_ cluster: String) async -> Bool {
            await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
                await store.announceWork(cluster: cluster)
                return await heard.clusters.contains(cluster)
            }
        }
        #expect(await announceUntilHeard("before"))

        let postgres = try #require(store.backend as? PostgresBackend)
        let killed = try await postgres.write { db in
            try db.query(
                "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'", []
            ).count
        }
        #expect(killed == 1, "the listener's connection")
        let heardAfter = await announceUntilHeard("after")
        let clusters = await heard.clusters
        #expect(heardAfter, "heard: \(clusters)")
    }
}

private actor Heard {
    private(set) var clusters: [String] = []
    func add(_ cluster: String) { clusters.append(cluster) }
}
