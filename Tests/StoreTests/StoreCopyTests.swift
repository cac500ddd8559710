import Foundation
import Logging
import TestSupport
import Testing
@testable import Store

/// `sandman migrate`'s copy: every row of a SQLite hub into an empty PostgreSQL database.
@Suite("Store copy from SQLite to PostgreSQL")
struct StoreCopyTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000.25)

    /// Fills every table through the public API.
    private func fill(_ store: Store) async throws -> (operations: [OperationRecord], overrides: [OverrideRecord]) {
        // Two operations in the same instant: their order must survive the copy.
        let first = OperationRecord(id: "zz-first", cluster: "staging", namespaces: ["web", "shop"], action: "sleep", source: "api", actor: "a", createdAt: t0)
        let second = OperationRecord(id: "aa-second", cluster: "staging", namespaces: [], action: "wake", source: "api", actor: "b", createdAt: t0)
        let overrides = [
            OverrideRecord(id: "zz-o", cluster: "staging", namespace: "web", kind: .sleep, until: t0 + 60, reason: "r", actor: "a", createdAt: t0, operationId: first.id),
            OverrideRecord(id: "aa-o", cluster: "staging", namespace: "shop", kind: .wake, until: nil, reason: nil, actor: "b", createdAt: t0, operationId: second.id),
        ]
        try await store.accept(first, overrides: [overrides[0]], at: t0)
        try await store.accept(second, overrides: [overrides[1]], at: t0)
        try await store.journal([
            JournalEntry(operationId: first.id, cluster: "staging", namespace: "web", sleepInfo: "nights", groupKind: "Deployment.apps", name: "api", restorePatch: "{}", updatedAt: t0),
        ])
        for index in 0..<3 { try await store.record(AuditEntry(at: t0 + Double(index), actor: "a", source: "api", action: "a\(index)", result: "ok")) }
        try await store.save(APITokenRecord(id: "t1", name: "ci", hash: "h1", role: "admin", teams: ["web"], clusters: ["staging"], createdAt: t0))
        try await store.enqueue(OutboxMessage(dedupKey: "k1", destination: "webhook", channel: nil, payload: "{}", createdAt: t0))
        _ = try await store.scheduleState(cluster: "staging", namespace: "web", unit: "nights", now: t0)
        try await store.recordPause(ArgoPauseRecord(cluster: "staging", application: "web", namespace: "web", unit: "nights", syncPolicy: "null", operationId: first.id, pausedAt: t0))
        let gitops = OperationRecord(cluster: "prod", namespaces: ["web"], action: "wake", source: "api", actor: "a", state: .waiting, createdAt: t0)
        _ = try await store.acceptGitOps(gitops, changes: [
            GitOpsChangeRecord(operationId: gitops.id, cluster: "prod", namespace: "web", overrideId: "g-o", kind: .wake, until: nil, reason: nil,
                               actor: "a", annotation: "{}", path: "web.yaml", application: "web", needsApproval: true, createdAt: t0),
        ], at: t0)
        return ([first, second], overrides)
    }

    @Test func everyRowMovesWithItsIdsAndOrder() async throws {
        let directory = try TemporaryDirectory("store-copy")
        defer { directory.remove() }
        let sqlite = try Store(path: directory.path + "/hub.sqlite")
        let (operations, overrides) = try await fill(sqlite)
        let target = try await TestStore.location(.postgres, directory: directory)
        let postgres = try await Store(location: target, logger: Logger(label: "test"))

        let report = try await postgres.copyAll(from: sqlite)
        #expect(report.rows.map(\.count) == [3, 1, 1, 2, 3, 1, 1, 1, 1])

        #expect(try await postgres.unfinishedOperations(cluster: "staging").map(\.id) == operations.map(\.id))
        #expect(try await postgres.operations(limit: 10) == sqlite.operations(limit: 10))
        #expect(try await postgres.openOverrides(cluster: "staging").map(\.id) == overrides.map(\.id))
        #expect(try await postgres.auditEntries() == sqlite.auditEntries())
        #expect(try await postgres.tokens() == sqlite.tokens())
        #expect(try await postgres.dueMessages(at: t0) == sqlite.dueMessages(at: t0))
        #expect(try await postgres.journalEntries(operationId: operations[0].id) == sqlite.journalEntries(operationId: operations[0].id))
        #expect(try await postgres.scheduleState(cluster: "staging", namespace: "web", unit: "nights", now: t0 + 999).firstSeenAt == t0)
        #expect(try await postgres.pauses(cluster: "staging") == sqlite.pauses(cluster: "staging"))
        #expect(try await postgres.gitopsChangesNeedingWork() == sqlite.gitopsChangesNeedingWork())

        // New rows continue after the copied ids; a second copy into the same database is refused whole.
        let next = try await postgres.record(AuditEntry(at: t0, actor: "new", source: "api", action: "x", result: "ok"))
        #expect(next.id == (try await sqlite.auditEntries().compactMap(\.id).max() ?? 0) + 1)
        let error = await #expect(throws: StoreError.self) { try await postgres.copyAll(from: sqlite) }
        #expect(error?.reason == .notEmpty)
        #expect(try await postgres.auditEntries().count == 4)
        await postgres.close()
    }
}
