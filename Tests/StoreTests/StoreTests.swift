import Foundation
import GRDB
import TestSupport
import Testing
@testable import Store

@Suite("Store on real SQLite files")
struct StoreTests {
    let directory = try! TemporaryDirectory("store-test")
    var path: String { directory.path + "/hub/sandman.sqlite" }
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func migratesFromEmptyAndReopens() async throws {
        defer { directory.remove() }
        do {
            let store = try Store(path: path)
            #expect(try await store.appliedMigrations() == [
                "v1: journal, overrides, operations, audit, tokens, outbox", "v2: schedule state", "v3: journal entries unique per namespace",
                "v4: overrides end with a reason and belong to their request; the schedule's memory",
                "v5: GitOps changes, operation stages, Argo CD self-heal pauses",
            ])
            let mode = try await store.writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
            try await store.record(AuditEntry(at: t0, actor: "alice", source: "cli", action: "wake", cluster: "staging", result: "ok"))
        }
        let reopened = try Store(path: path)
        #expect(try await reopened.appliedMigrations().count == 5)
        let entries = try await reopened.auditEntries()
        #expect(entries.map(\.actor) == ["alice"])
        #expect(entries.first?.at == t0)
    }

    @Test func corruptFileGivesAClearError() throws {
        defer { directory.remove() }
        try directory.write("hub/sandman.sqlite", String(repeating: "this is not sqlite\n", count: 400))
        let error = #expect(throws: StoreError.self) { try Store(path: path) }
        #expect(error?.reason == .notADatabase)
        #expect(error?.description.contains(path) == true)
    }

    @Test func unwritablePathGivesAClearError() throws {
        defer { directory.remove() }
        // A regular file where the database directory should be.
        try directory.write("blocker", "x")
        let error = #expect(throws: StoreError.self) { try Store(path: directory.path + "/blocker/sandman.sqlite") }
        #expect(error?.reason == .cannotOpen)
        #expect(error?.description.contains("blocker/sandman.sqlite") == true)
    }

    @Test func newerSchemaIsRefused() async throws {
        defer { directory.remove() }
        do {
            let store = try Store(path: path)
            try await store.writer.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
            }
        }
        let error = #expect(throws: StoreError.self) { try Store(path: path) }
        #expect(error?.reason == .newerSchema)
    }

    @Test func concurrentReadersWithOneWriter() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        let writes = 300
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for index in 0..<writes {
                    try await store.record(AuditEntry(at: t0.addingTimeInterval(Double(index)), actor: "writer", source: "test", action: "a\(index)", result: "ok"))
                }
                return writes
            }
            for _ in 0..<4 {
                group.addTask {
                    var last = 0
                    while last < writes {
                        let count = try await store.auditEntries(.init(limit: 10_000)).count
                        // Readers see a growing, consistent prefix and never block on the writer.
                        #expect(count >= last)
                        last = count
                    }
                    return last
                }
            }
            for try await seen in group { #expect(seen == writes) }
        }
        let newest = try await store.auditEntries(.init(limit: 1))
        #expect(newest.first?.action == "a\(writes - 1)")
    }

    @Test func auditQueriesFilterByTimeActorAndCluster() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        for (offset, actor, cluster) in [(0.0, "alice", "staging"), (60, "bob", "dev"), (120, "alice", "dev")] {
            try await store.record(AuditEntry(at: t0.addingTimeInterval(offset), actor: actor, source: "api", action: "wake", cluster: cluster, result: "ok"))
        }
        #expect(try await store.auditEntries(.init(actor: "alice")).count == 2)
        #expect(try await store.auditEntries(.init(cluster: "dev")).map(\.actor) == ["alice", "bob"])
        #expect(try await store.auditEntries(.init(since: t0.addingTimeInterval(30))).count == 2)
        #expect(try await store.auditEntries(.init(until: t0.addingTimeInterval(30))).map(\.actor) == ["alice"])
    }

    @Test func overridesExpireAndClear() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        let expiring = OverrideRecord(cluster: "staging", namespace: nil, kind: .wake, until: t0.addingTimeInterval(3600), reason: "demo", actor: "alice", createdAt: t0)
        let forever = OverrideRecord(cluster: "staging", namespace: "web", kind: .sleep, until: nil, reason: nil, actor: "bob", createdAt: t0)
        try await store.place([expiring, forever], at: t0)
        #expect(try await store.activeOverrides(at: t0.addingTimeInterval(10)).count == 2)
        #expect(try await store.activeOverrides(at: t0.addingTimeInterval(7200)).map(\.id) == [forever.id])
        #expect(try await store.closeOverride(id: forever.id, at: t0, because: .cleared))
        #expect(try await !store.closeOverride(id: forever.id, at: t0, because: .cleared))
        #expect(try await store.override(id: forever.id)?.endReason == .cleared)
        #expect(try await store.activeOverrides(at: t0.addingTimeInterval(10), cluster: "staging").map(\.id) == [expiring.id])
        #expect(try await store.overrides(idPrefix: String(expiring.id.prefix(6))).map(\.id) == [expiring.id])
    }

    /// Rule 1 of the override model: a new override replaces the older ones it covers, closed as
    /// superseded with what replaced them; other clusters and other namespaces keep theirs.
    @Test func aNewOverrideReplacesTheOnesItCovers() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        func make(_ namespace: String?, _ kind: OverrideRecord.Kind, cluster: String = "staging", at offset: TimeInterval) -> OverrideRecord {
            OverrideRecord(cluster: cluster, namespace: namespace, kind: kind, until: nil, reason: nil, actor: "a", createdAt: t0.addingTimeInterval(offset))
        }
        let web = make("web", .sleep, at: 0), shop = make("shop", .wake, at: 1), other = make("web", .sleep, cluster: "dev", at: 2)
        #expect(try await store.place([web, shop, other], at: t0).isEmpty)
        let webWake = make("web", .wake, at: 10)
        #expect(try await store.place([webWake], at: t0.addingTimeInterval(10)).map(\.id) == [web.id])
        let closed = try #require(try await store.override(id: web.id))
        #expect(closed.endReason == .superseded && closed.replacedBy == webWake.id && closed.clearedAt == t0.addingTimeInterval(10))
        let clusterSkip = make(nil, .skip, at: 20)
        #expect(Set(try await store.place([clusterSkip], at: t0.addingTimeInterval(20)).map(\.id)) == [webWake.id, shop.id])
        #expect(try await store.openOverrides(cluster: "staging").map(\.id) == [clusterSkip.id])
        #expect(try await store.openOverrides(cluster: "dev").map(\.id) == [other.id])
    }

    /// A request and its overrides are stored together; a request that failed closes its
    /// overrides (those of the namespaces that failed, when given).
    @Test func requestsAreAcceptedWithTheirOverrides() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        let operation = OperationRecord(cluster: "staging", namespaces: ["web", "shop"], action: "wake", source: "api", actor: "a", createdAt: t0)
        let overrides = ["web", "shop"].map { OverrideRecord(cluster: "staging", namespace: $0, kind: .wake, until: nil, reason: nil, actor: "a", createdAt: t0, operationId: operation.id) }
        try await store.accept(operation, overrides: overrides, at: t0)
        let work = try await store.pendingWork(cluster: "staging")
        #expect(work.operations.map(\.id) == [operation.id])
        #expect(work.overrides.map(\.id) == overrides.map(\.id))
        #expect(try await store.closeOverrides(ofOperation: operation.id, namespaces: ["shop"], at: t0, because: .failed).map(\.namespace) == ["shop"])
        #expect(try await store.openOverrides(cluster: "staging").map(\.namespace) == ["web"])
        // A duplicate operation id is refused whole: nothing of it is stored.
        let again = [OverrideRecord(cluster: "staging", namespace: "other", kind: .sleep, until: nil, reason: nil, actor: "a", createdAt: t0)]
        await #expect(throws: (any Error).self) { try await store.accept(operation, overrides: again, at: t0) }
        #expect(try await store.openOverrides(cluster: "staging").map(\.namespace) == ["web"])
    }

    @Test func outboxDeduplicatesAndReturnsDueMessages() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        let message = OutboxMessage(dedupKey: "sleep:staging:web:1", destination: "chat.postMessage", channel: "#web", payload: "{}", createdAt: t0)
        #expect(try await store.enqueue(message))
        #expect(try await !store.enqueue(message))
        var due = try await store.dueMessages(at: t0)
        #expect(due.count == 1)
        due[0].attempts = 1
        due[0].nextAttemptAt = t0.addingTimeInterval(30)
        try await store.update(due[0])
        #expect(try await store.dueMessages(at: t0.addingTimeInterval(10)).isEmpty)
        #expect(try await store.dueMessages(at: t0.addingTimeInterval(30)).first?.attempts == 1)
    }

    @Test func journalKeepsRestoreDataPerOperation() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        let operation = OperationRecord(cluster: "staging", namespaces: ["web"], action: "sleep", source: "schedule", actor: "schedule", createdAt: t0)
        try await store.save(operation)
        try await store.journal([
            JournalEntry(operationId: operation.id, cluster: "staging", namespace: "web", sleepInfo: "nights", groupKind: "Deployment.apps", name: "api", restorePatch: #"{"spec":{"replicas":3}}"#, updatedAt: t0),
            JournalEntry(operationId: operation.id, cluster: "staging", namespace: "web", sleepInfo: "nights", groupKind: "CronJob.batch", name: "nightly", restorePatch: #"{"spec":{"suspend":false}}"#, updatedAt: t0),
        ])
        var entries = try await store.journalEntries(operationId: operation.id)
        #expect(entries.map(\.name) == ["api", "nightly"])
        try await store.markJournalEntry(id: try #require(entries[0].id), as: .slept, at: t0)
        entries = try await store.journalEntries(operationId: operation.id)
        #expect(entries.map(\.state) == [.slept, .planned])
        #expect(try await store.operation(id: operation.id)?.namespaces == ["web"])
    }

    @Test func oneOperationOverSeveralNamespacesKeepsEachNamespacesEntries() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        let operation = OperationRecord(cluster: "staging", namespaces: [], action: "sleep", source: "api", actor: "admin", createdAt: t0)
        try await store.save(operation)
        var saved: [JournalEntry] = []
        for (namespace, replicas) in [("web", 3), ("shop", 5)] {
            saved += try await store.journal([
                JournalEntry(operationId: operation.id, cluster: "staging", namespace: namespace, sleepInfo: "hub-nights", groupKind: "Deployment.apps", name: "app-0", restorePatch: #"{"spec":{"replicas":\#(replicas)}}"#, updatedAt: t0),
            ])
        }
        #expect(Set(saved.compactMap(\.id)).count == 2, "same object name, different namespaces: two entries")
        // A resumed run gets its own namespace's entry back, not the other's.
        let again = try await store.journal([
            JournalEntry(operationId: operation.id, cluster: "staging", namespace: "shop", sleepInfo: "hub-nights", groupKind: "Deployment.apps", name: "app-0", restorePatch: "{}", updatedAt: t0),
        ])
        #expect(again.first?.id == saved[1].id)
        #expect(again.first?.restorePatch == #"{"spec":{"replicas":5}}"#)
        let web = try await store.latestSleepEntries(cluster: "staging", namespace: "web", sleepInfo: "hub-nights")
        #expect(web.map(\.restorePatch) == [#"{"spec":{"replicas":3}}"#])
    }

    @Test func tokensAreFoundByHashUntilRevoked() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        let token = APITokenRecord(id: "t1", name: "ci", hash: "abc123", role: "operator", teams: ["web"], clusters: [], createdAt: t0)
        try await store.save(token)
        #expect(try await store.token(hash: "abc123")?.teams == ["web"])
        #expect(try await store.revokeToken(id: "t1", at: t0))
        #expect(try await store.token(hash: "abc123") == nil)
        #expect(try await store.tokens().first?.revokedAt == t0)
    }

    @Test func backupCopiesALiveDatabase() async throws {
        defer { directory.remove() }
        let store = try Store(path: path)
        try await store.record(AuditEntry(at: t0, actor: "alice", source: "cli", action: "sleep", result: "ok"))
        let copy = directory.path + "/backup.sqlite"
        try await store.backup(to: copy)
        #expect(try await Store(path: copy).auditEntries().count == 1)
    }
}
