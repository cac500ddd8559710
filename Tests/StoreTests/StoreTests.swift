import Foundation
import GRDB
import Logging
import Scheduling
import TestSupport
import Testing
@testable import Store

/// The backends every store test runs against.
enum StoreBackendKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A fresh store for one test: a SQLite file in a temporary directory, or a new database on the
/// process's throwaway PostgreSQL server.
struct TestStore: Sendable {
    let store: Store
    let directory: TemporaryDirectory

    init(_ kind: StoreBackendKind) async throws {
        directory = try TemporaryDirectory("store-test")
        store = try await Store(location: try await Self.location(kind, directory: directory), logger: Logger(label: "store-test"))
    }

    static func location(_ kind: StoreBackendKind, directory: TemporaryDirectory) async throws -> StoreLocation {
        switch kind {
        case .sqlite: return .sqlite(path: directory.path + "/hub/sandman.sqlite")
        case .postgres:
            let server = try await PostgresServer.shared()
            return .postgres(try PostgresLocation(url: server.url(database: try await server.createDatabase())))
        }
    }

    func remove() {
        directory.remove()
    }
}

@Suite("Store on real SQLite files and a real PostgreSQL server")
struct StoreTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let allMigrations = [
        "v1: journal, overrides, operations, audit, tokens, outbox", "v2: schedule state", "v3: journal entries unique per namespace",
        "v4: overrides end with a reason and belong to their request; the schedule's memory",
        "v5: GitOps changes, operation stages, Argo CD self-heal pauses",
        "v6: operations and overrides keep the order they were accepted in",
        "v7: journal entries keep what a partial sleep kept running",
    ]

    @Test(arguments: StoreBackendKind.allCases) func migratesFromEmptyAndReopens(_ kind: StoreBackendKind) async throws {
        let directory = try TemporaryDirectory("store-test")
        defer { directory.remove() }
        let location = try await TestStore.location(kind, directory: directory)
        do {
            let store = try await Store(location: location, logger: Logger(label: "test"))
            #expect(try await store.appliedMigrations() == Self.allMigrations)
            try await store.record(AuditEntry(at: t0, actor: "alice", source: "cli", action: "wake", cluster: "staging", result: "ok"))
            await store.close()
        }
        let reopened = try await Store(location: location, logger: Logger(label: "test"))
        #expect(try await reopened.appliedMigrations() == Self.allMigrations)
        let entries = try await reopened.auditEntries()
        #expect(entries.map(\.actor) == ["alice"])
        #expect(entries.first?.at == t0)
        await reopened.close()
    }

    @Test func sqliteRunsInWALMode() async throws {
        let test = try await TestStore(.sqlite)
        defer { test.remove() }
        let backend = try #require(test.store.backend as? SQLiteBackend)
        #expect(try await backend.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") } == "wal")
    }

    @Test func corruptFileGivesAClearError() throws {
        let directory = try TemporaryDirectory("store-test")
        defer { directory.remove() }
        let path = try directory.write("hub/sandman.sqlite", String(repeating: "this is not sqlite\n", count: 400))
        let error = #expect(throws: StoreError.self) { try Store(path: path) }
        #expect(error?.reason == .notADatabase)
        #expect(error?.description.contains(path) == true)
    }

    @Test func unwritablePathGivesAClearError() throws {
        let directory = try TemporaryDirectory("store-test")
        defer { directory.remove() }
        // A regular file where the database directory should be.
        try directory.write("blocker", "x")
        let error = #expect(throws: StoreError.self) { try Store(path: directory.path + "/blocker/sandman.sqlite") }
        #expect(error?.reason == .cannotOpen)
        #expect(error?.description.contains("blocker/sandman.sqlite") == true)
    }

    @Test(arguments: StoreBackendKind.allCases) func newerSchemaIsRefused(_ kind: StoreBackendKind) async throws {
        let directory = try TemporaryDirectory("store-test")
        defer { directory.remove() }
        let location = try await TestStore.location(kind, directory: directory)
        do {
            let store = try await Store(location: location, logger: Logger(label: "test"))
            let table = kind == .sqlite ? "grdb_migrations (identifier)" : "\(PostgresSchema.table) (identifier, position)"
            let values = kind == .sqlite ? "('v99: from the future')" : "('v99: from the future', 99)"
            try await store.backend.write { db in try db.execute("INSERT INTO \(table) VALUES \(values)") }
            await store.close()
        }
        let error = await #expect(throws: StoreError.self) { try await Store(location: location, logger: Logger(label: "test")) }
        #expect(error?.reason == .newerSchema)
        #expect(error?.description.contains("v99: from the future") == true)
    }

    /// Both engines get the same migrations, and the tables they make have the same columns.
    @Test func bothBackendsHaveTheSameSchema() async throws {
        #expect(PostgresSchema.migrations.map(\.identifier) == Schema.identifiers)
        #expect(Schema.identifiers == Self.allMigrations)
        let sqlite = try await TestStore(.sqlite), postgres = try await TestStore(.postgres)
        defer { sqlite.remove(); postgres.remove() }
        let tables = ["operation", "journalEntry", "override", "auditEntry", "apiToken", "outboxMessage", "scheduleState", "gitopsChange", "argoPause"]
        for table in tables {
            let sqliteColumns = try await sqlite.store.backend.read { db in
                try db.query("SELECT name FROM pragma_table_info(?)", [table]).map { try $0.string("name").lowercased() }
            }
            let postgresColumns = try await postgres.store.backend.read { db in
                try db.query("SELECT column_name AS name FROM information_schema.columns WHERE table_name = ?", [table.lowercased()])
                    .map { try $0.string("name") }
            }
            #expect(!sqliteColumns.isEmpty)
            #expect(Set(sqliteColumns) == Set(postgresColumns), "table \(table)")
        }
        await postgres.store.close()
    }

    /// Dates keep the millisecond on both engines; booleans and JSON arrays read back as written.
    @Test(arguments: StoreBackendKind.allCases) func valuesRoundTripAlike(_ kind: StoreBackendKind) async throws {
        let test = try await TestStore(kind)
        defer { test.remove() }
        let odd = Date(timeIntervalSince1970: 1_800_000_000.123_456_7)
        let entry = try await test.store.record(AuditEntry(at: odd, actor: "a", source: "api", action: "wake", result: "ok"))
        #expect(entry.id != nil)
        let read = try await test.store.auditEntries()
        #expect(read.first?.at == SQLValue.date(milliseconds: 1_800_000_000_123))
        #expect(try await test.store.auditEntries(.init(since: read[0].at, until: read[0].at)).count == 1)
        let operation = OperationRecord(cluster: "c", namespaces: ["web", "shop \"quoted\"", ""], action: "sleep", source: "api", actor: "a", state: .waiting, createdAt: t0)
        let change = GitOpsChangeRecord(
            operationId: operation.id, cluster: "c", namespace: "web", overrideId: "o1", removal: true, kind: .wake, until: nil, reason: nil,
            actor: "a", annotation: nil, path: "web.yaml", application: "web", needsApproval: true, createdAt: t0
        )
        #expect(try await test.store.acceptGitOps(operation, changes: [change], at: t0).isEmpty)
        #expect(try await test.store.operation(id: operation.id) == operation)
        #expect(try await test.store.gitopsChange(id: change.id) == change)
        await test.store.close()
    }

    /// Two replicas starting together on a fresh database: both come up, each migration applied once.
    @Test func replicasStartingTogetherMigrateOnce() async throws {
        let directory = try TemporaryDirectory("store-test")
        defer { directory.remove() }
        let location = try await TestStore.location(.postgres, directory: directory)
        let stores = try await withThrowingTaskGroup(of: Store.self) { group in
            for _ in 0..<3 { group.addTask { try await Store(location: location, logger: Logger(label: "test")) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for store in stores {
            #expect(try await store.appliedMigrations() == Self.allMigrations)
        }
        for store in stores { await store.close() }
    }

    @Test func sqliteBackupCopiesALiveDatabase() async throws {
        let test = try await TestStore(.sqlite)
        defer { test.remove() }
        try await test.store.record(AuditEntry(at: t0, actor: "alice", source: "cli", action: "sleep", result: "ok"))
        let copy = test.directory.path + "/backup.sqlite"
        try await test.store.backup(to: copy)
        #expect(try await Store(path: copy).auditEntries().count == 1)
    }

    @Test func postgresBackupPointsAtPgDump() async throws {
        let test = try await TestStore(.postgres)
        defer { test.remove() }
        let error = await #expect(throws: StoreError.self) { try await test.store.backup(to: test.directory.path + "/backup") }
        #expect(error?.reason == .unsupported)
        #expect(error?.description.contains("pg_dump") == true)
        await test.store.close()
    }

    /// `sslmode=require` is honoured: the test server speaks no TLS, so the connection is refused.
    @Test func postgresTLSModeIsApplied() async throws {
        let server = try await PostgresServer.shared()
        let database = try await server.createDatabase()
        let location = try PostgresLocation(url: server.url(database: database) + "?sslmode=require")
        #expect(location.tls == .require)
        let error = await #expect(throws: StoreError.self) { try await Store(location: .postgres(location), logger: Logger(label: "test")) }
        #expect(error?.reason == .cannotOpen)
        let plain = try await Store(location: .postgres(try PostgresLocation(url: server.url(database: database))), logger: Logger(label: "test"))
        await plain.close()
    }

    /// A store dropped without `close()` (a CLI command that ends) closes its connections itself.
    @Test func aPostgresStoreDroppedWithoutClosingLetsGo() async throws {
        let directory = try TemporaryDirectory("store-test")
        defer { directory.remove() }
        let location = try await TestStore.location(.postgres, directory: directory)
        do {
            let store = try await Store(location: location, logger: Logger(label: "test"))
            try await store.save(APITokenRecord(id: "t1", name: "ci", hash: "h1", role: "admin", teams: [], clusters: [], createdAt: t0))
        }
        let again = try await Store(location: location, logger: Logger(label: "test"))
        #expect(try await again.tokens().map(\.id) == ["t1"])
        await again.close()
    }

    /// A refused connection names the database, never the password.
    @Test func postgresErrorsNeverShowThePassword() async throws {
        let server = try await PostgresServer.shared()
        let location = try PostgresLocation(url: "postgres://nobody:s3cret-pw@\(server.host):\(server.port)/missing_db")
        #expect(!location.description.contains("s3cret-pw"))
        let error = await #expect(throws: StoreError.self) { try await Store(location: .postgres(location), logger: Logger(label: "test")) }
        #expect(error?.reason == .cannotOpen)
        #expect(error.map { !"\($0)".contains("s3cret-pw") } == true)
        #expect(error?.description.contains("postgres://nobody@\(server.host):\(server.port)/missing_db") == true)
    }

    @Test(arguments: StoreBackendKind.allCases) func concurrentReadersWithOneWriter(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        // Fewer on PostgreSQL: postgres-nio decodes rows slowly in debug builds, and the readers reread every row.
        let writes = kind == .sqlite ? 300 : 100
        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                for index in 0..<writes {
                    try await store.store.record(AuditEntry(at: t0.addingTimeInterval(Double(index)), actor: "writer", source: "test", action: "a\(index)", result: "ok"))
                }
                return writes
            }
            for _ in 0..<4 {
                group.addTask {
                    var last = 0
                    while last < writes {
                        let count = try await store.store.auditEntries(.init(limit: 10_000)).count
                        // Readers see a growing, consistent prefix and never block on the writer.
                        #expect(count >= last)
                        last = count
                    }
                    return last
                }
            }
            for try await seen in group { #expect(seen == writes) }
        }
        let newest = try await store.store.auditEntries(.init(limit: 1))
        #expect(newest.first?.action == "a\(writes - 1)")
        await store.store.close()
    }

    @Test(arguments: StoreBackendKind.allCases) func auditQueriesFilterByTimeActorAndCluster(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        for (offset, actor, cluster) in [(0.0, "alice", "staging"), (60, "bob", "dev"), (120, "alice", "dev")] {
            try await store.store.record(AuditEntry(at: t0.addingTimeInterval(offset), actor: actor, source: "api", action: "wake", cluster: cluster, result: "ok"))
        }
        #expect(try await store.store.auditEntries(.init(actor: "alice")).count == 2)
        #expect(try await store.store.auditEntries(.init(cluster: "dev")).map(\.actor) == ["alice", "bob"])
        #expect(try await store.store.auditEntries(.init(since: t0.addingTimeInterval(30))).count == 2)
        #expect(try await store.store.auditEntries(.init(until: t0.addingTimeInterval(30))).map(\.actor) == ["alice"])
        await store.store.close()
    }

    @Test(arguments: StoreBackendKind.allCases) func overridesExpireAndClear(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        let expiring = OverrideRecord(cluster: "staging", namespace: nil, kind: .wake, until: t0.addingTimeInterval(3600), reason: "demo", actor: "alice", createdAt: t0)
        let forever = OverrideRecord(cluster: "staging", namespace: "web", kind: .sleep, until: nil, reason: nil, actor: "bob", createdAt: t0)
        try await store.store.place([expiring, forever], at: t0)
        #expect(try await store.store.activeOverrides(at: t0.addingTimeInterval(10)).count == 2)
        #expect(try await store.store.activeOverrides(at: t0.addingTimeInterval(7200)).map(\.id) == [forever.id])
        #expect(try await store.store.closeOverride(id: forever.id, at: t0, because: .cleared))
        #expect(try await !store.store.closeOverride(id: forever.id, at: t0, because: .cleared))
        #expect(try await store.store.override(id: forever.id)?.endReason == .cleared)
        #expect(try await store.store.activeOverrides(at: t0.addingTimeInterval(10), cluster: "staging").map(\.id) == [expiring.id])
        #expect(try await store.store.overrides(idPrefix: String(expiring.id.prefix(6))).map(\.id) == [expiring.id])
        await store.store.close()
    }

    /// Rule 1 of the override model: a new override replaces the older ones it covers, closed as
    /// superseded with what replaced them; other clusters and other namespaces keep theirs.
    @Test(arguments: StoreBackendKind.allCases) func aNewOverrideReplacesTheOnesItCovers(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        func make(_ namespace: String?, _ kind: OverrideRecord.Kind, cluster: String = "staging", at offset: TimeInterval) -> OverrideRecord {
            OverrideRecord(cluster: cluster, namespace: namespace, kind: kind, until: nil, reason: nil, actor: "a", createdAt: t0.addingTimeInterval(offset))
        }
        let web = make("web", .sleep, at: 0), shop = make("shop", .wake, at: 1), other = make("web", .sleep, cluster: "dev", at: 2)
        #expect(try await store.store.place([web, shop, other], at: t0).isEmpty)
        let webWake = make("web", .wake, at: 10)
        #expect(try await store.store.place([webWake], at: t0.addingTimeInterval(10)).map(\.id) == [web.id])
        let closed = try #require(try await store.store.override(id: web.id))
        #expect(closed.endReason == .superseded && closed.replacedBy == webWake.id && closed.clearedAt == t0.addingTimeInterval(10))
        let clusterSkip = make(nil, .skip, at: 20)
        #expect(Set(try await store.store.place([clusterSkip], at: t0.addingTimeInterval(20)).map(\.id)) == [webWake.id, shop.id])
        #expect(try await store.store.openOverrides(cluster: "staging").map(\.id) == [clusterSkip.id])
        #expect(try await store.store.openOverrides(cluster: "dev").map(\.id) == [other.id])
        await store.store.close()
    }

    /// A request and its overrides are stored together; a request that failed closes its
    /// overrides (those of the namespaces that failed, when given).
    @Test(arguments: StoreBackendKind.allCases) func requestsAreAcceptedWithTheirOverrides(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        let operation = OperationRecord(cluster: "staging", namespaces: ["web", "shop"], action: "wake", source: "api", actor: "a", createdAt: t0)
        let overrides = ["web", "shop"].map { OverrideRecord(cluster: "staging", namespace: $0, kind: .wake, until: nil, reason: nil, actor: "a", createdAt: t0, operationId: operation.id) }
        try await store.store.accept(operation, overrides: overrides, at: t0)
        let work = try await store.store.pendingWork(cluster: "staging")
        #expect(work.operations.map(\.id) == [operation.id])
        #expect(work.overrides.map(\.id) == overrides.map(\.id))
        #expect(try await store.store.closeOverrides(ofOperation: operation.id, namespaces: ["shop"], at: t0, because: .failed).map(\.namespace) == ["shop"])
        #expect(try await store.store.openOverrides(cluster: "staging").map(\.namespace) == ["web"])
        // A duplicate operation id is refused whole: nothing of it is stored.
        let again = [OverrideRecord(cluster: "staging", namespace: "other", kind: .sleep, until: nil, reason: nil, actor: "a", createdAt: t0)]
        await #expect(throws: (any Error).self) { try await store.store.accept(operation, overrides: again, at: t0) }
        #expect(try await store.store.openOverrides(cluster: "staging").map(\.namespace) == ["web"])
        await store.store.close()
    }

    @Test(arguments: StoreBackendKind.allCases) func outboxDeduplicatesAndReturnsDueMessages(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        let message = OutboxMessage(dedupKey: "sleep:staging:web:1", destination: "chat.postMessage", channel: "#web", payload: "{}", createdAt: t0)
        #expect(try await store.store.enqueue(message))
        #expect(try await !store.store.enqueue(message))
        var due = try await store.store.dueMessages(at: t0)
        #expect(due.count == 1)
        due[0].attempts = 1
        due[0].nextAttemptAt = t0.addingTimeInterval(30)
        try await store.store.update(due[0])
        #expect(try await store.store.dueMessages(at: t0.addingTimeInterval(10)).isEmpty)
        #expect(try await store.store.dueMessages(at: t0.addingTimeInterval(30)).first?.attempts == 1)
        await store.store.close()
    }

    /// Replicas sharing a store each take different messages; a message taken by a replica that
    /// never reports back is due again once the claim's lease has passed.
    @Test(arguments: StoreBackendKind.allCases) func outboxClaimsAreExclusiveAndLapse(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        for index in 0..<30 {
            let message = OutboxMessage(dedupKey: "k\(index)", destination: "webhook", channel: nil, payload: "{}", createdAt: t0.addingTimeInterval(Double(index)))
            try await store.store.enqueue(message)
        }
        let now = t0.addingTimeInterval(60)
        async let first = store.store.claimDueMessages(at: now, lease: .seconds(60), limit: 20)
        async let second = store.store.claimDueMessages(at: now, lease: .seconds(60), limit: 20)
        let (a, b) = try await (first.map(\.dedupKey), second.map(\.dedupKey))
        #expect(Set(a).isDisjoint(with: b), "\(a) \(b)")
        #expect(Set(a + b) == Set((0..<30).map { "k\($0)" }))
        #expect(try await store.store.claimDueMessages(at: now.addingTimeInterval(59), lease: .seconds(60)).isEmpty)

        // Claimed messages are still pending; written back unchanged, one is released at once.
        #expect(try await store.store.dueMessages(at: .distantFuture).count == 30)
        let released = try await store.store.claimDueMessages(at: now.addingTimeInterval(60), lease: .seconds(60), limit: 1)
        #expect(released.map(\.dedupKey) == ["k0"])
        #expect(released.first?.nextAttemptAt == now.addingTimeInterval(60), "as the lapsed claim left it")
        try await store.store.update(released[0])
        #expect(try await store.store.claimDueMessages(at: now.addingTimeInterval(61), lease: .seconds(60)).count == 30)
        await store.store.close()
    }

    /// What an evaluation reads at once is what each unit would read on its own.
    @Test(arguments: StoreBackendKind.allCases) func scheduleStatesOfAClusterAreReadTogether(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        #expect(try await store.store.scheduleStates(cluster: "staging").isEmpty)
        for (cluster, namespace) in [("staging", "web"), ("staging", "api"), ("dev", "web")] {
            _ = try await store.store.scheduleState(cluster: cluster, namespace: namespace, unit: "nights", now: t0)
        }
        try await store.store.remember(ScheduleMemory(lastTransition: t0 + 60, wants: .sleep), cluster: "staging", namespace: "web", unit: "nights")
        let states = try await store.store.scheduleStates(cluster: "staging")
        #expect(states.map(\.namespace).sorted() == ["api", "web"])
        for state in states {
            #expect(try await store.store.scheduleState(cluster: "staging", namespace: state.namespace, unit: "nights", now: t0 + 999) == state)
        }
        #expect(states.first { $0.namespace == "web" }?.lastExecutedAt == t0 + 60)
        await store.store.close()
    }

    @Test(arguments: StoreBackendKind.allCases) func journalKeepsRestoreDataPerOperation(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        let operation = OperationRecord(cluster: "staging", namespaces: ["web"], action: "sleep", source: "schedule", actor: "schedule", createdAt: t0)
        try await store.store.save(operation)
        try await store.store.journal([
            JournalEntry(operationId: operation.id, cluster: "staging", namespace: "web", sleepInfo: "nights", groupKind: "Deployment.apps", name: "api", restorePatch: #"{"spec":{"replicas":3}}"#, updatedAt: t0),
            JournalEntry(operationId: operation.id, cluster: "staging", namespace: "web", sleepInfo: "nights", groupKind: "CronJob.batch", name: "nightly", restorePatch: #"{"spec":{"suspend":false}}"#, updatedAt: t0),
        ])
        var entries = try await store.store.journalEntries(operationId: operation.id)
        #expect(entries.map(\.name) == ["api", "nightly"])
        try await store.store.markJournalEntries([(try #require(entries[0].id), .slept)], at: t0)
        entries = try await store.store.journalEntries(operationId: operation.id)
        #expect(entries.map(\.state) == [.slept, .planned])
        #expect(try await store.store.operation(id: operation.id)?.namespaces == ["web"])
        await store.store.close()
    }

    @Test(arguments: StoreBackendKind.allCases) func oneOperationOverSeveralNamespacesKeepsEachNamespacesEntries(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        let operation = OperationRecord(cluster: "staging", namespaces: [], action: "sleep", source: "api", actor: "admin", createdAt: t0)
        try await store.store.save(operation)
        var saved: [JournalEntry] = []
        for (namespace, replicas) in [("web", 3), ("shop", 5)] {
            saved += try await store.store.journal([
                JournalEntry(operationId: operation.id, cluster: "staging", namespace: namespace, sleepInfo: "hub-nights", groupKind: "Deployment.apps", name: "app-0", restorePatch: #"{"spec":{"replicas":\#(replicas)}}"#, updatedAt: t0),
            ])
        }
        #expect(Set(saved.compactMap(\.id)).count == 2, "same object name, different namespaces: two entries")
        // A resumed run gets its own namespace's entry back, not the other's.
        let again = try await store.store.journal([
            JournalEntry(operationId: operation.id, cluster: "staging", namespace: "shop", sleepInfo: "hub-nights", groupKind: "Deployment.apps", name: "app-0", restorePatch: "{}", updatedAt: t0),
        ])
        #expect(again.first?.id == saved[1].id)
        #expect(again.first?.restorePatch == #"{"spec":{"replicas":5}}"#)
        let web = try await store.store.latestSleepEntries(cluster: "staging", namespace: "web", sleepInfo: "hub-nights")
        #expect(web.map(\.restorePatch) == [#"{"spec":{"replicas":3}}"#])
        await store.store.close()
    }

    @Test(arguments: StoreBackendKind.allCases) func tokensAreFoundByHashUntilRevoked(_ kind: StoreBackendKind) async throws {
        let store = try await TestStore(kind)
        defer { store.remove() }
        let token = APITokenRecord(id: "t1", name: "ci", hash: "abc123", role: "operator", teams: ["web"], clusters: [], createdAt: t0)
        try await store.store.save(token)
        #expect(try await store.store.token(hash: "abc123")?.teams == ["web"])
        #expect(try await store.store.revokeToken(id: "t1", at: t0))
        #expect(try await store.store.token(hash: "abc123") == nil)
        #expect(try await store.store.tokens().first?.revokedAt == t0)
        await store.store.close()
    }

}
