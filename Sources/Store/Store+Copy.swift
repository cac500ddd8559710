import Foundation

/// How many rows of each table a copy moved, in copy order.
public struct StoreCopyReport: Sendable, Equatable {
    public var rows: [(table: String, count: Int)]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.rows.map(\.table) == rhs.rows.map(\.table) && lhs.rows.map(\.count) == rhs.rows.map(\.count)
    }
}

extension Store {
    /// Copies every row of `source` into this store, which must hold none yet (a fresh database):
    /// `sandman migrate` moves a SQLite hub to PostgreSQL this way. The source is read in one
    /// transaction (a consistent state, while its hub runs) and written in one, so the copy is
    /// whole or absent. Ids, timestamps and the order of operations and overrides are kept.
    public func copyAll(from source: Store) async throws -> StoreCopyReport {
        let snapshot = try await source.backend.read { db in try StoreSnapshot(db) }
        let generatesIDs = backend.resetsGeneratedIDs
        let location = location
        return try await backend.write { db in
            let present = try StoreSnapshot.tables.filter { try db.fetchCount("SELECT COUNT(*) AS count FROM \($0)") > 0 }
            guard present.isEmpty else {
                throw StoreError(
                    path: location.description, reason: .notEmpty,
                    detail: "the target already holds rows (\(present.joined(separator: ", "))); copy into a new, empty database"
                )
            }
            try snapshot.insert(into: db)
            for table in ["auditEntry", "journalEntry", "outboxMessage"] where generatesIDs {
                // Rows came with their ids: the next generated one follows the largest.
                try db.query("SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM \(table)), false)", [table.lowercased()])
            }
            return snapshot.report
        }
    }
}

/// Every row of a store, read in one transaction, in an order that inserts cleanly (operations
/// before what references them; operations and overrides in the order they were accepted).
private struct StoreSnapshot: Sendable {
    static let tables = ["operation", "journalEntry", "gitopsChange", "override", "auditEntry", "apiToken", "outboxMessage", "scheduleState", "argoPause"]

    var operations: [OperationRecord]
    var journal: [JournalEntry]
    var gitops: [GitOpsChangeRecord]
    var overrides: [OverrideRecord]
    var audit: [AuditEntry]
    var tokens: [APITokenRecord]
    var outbox: [OutboxMessage]
    var schedules: [ScheduleState]
    var pauses: [ArgoPauseRecord]

    init(_ db: any SQLSession) throws {
        operations = try db.fetchAll(OperationRecord.self, "SELECT * FROM operation ORDER BY seq, createdAt")
        journal = try db.fetchAll(JournalEntry.self, "SELECT * FROM journalEntry ORDER BY id")
        gitops = try db.fetchAll(GitOpsChangeRecord.self, "SELECT * FROM gitopsChange ORDER BY createdAt, id")
        overrides = try db.fetchAll(OverrideRecord.self, "SELECT * FROM override ORDER BY seq, createdAt")
        audit = try db.fetchAll(AuditEntry.self, "SELECT * FROM auditEntry ORDER BY id")
        tokens = try db.fetchAll(APITokenRecord.self, "SELECT * FROM apiToken ORDER BY createdAt, id")
        outbox = try db.fetchAll(OutboxMessage.self, "SELECT * FROM outboxMessage ORDER BY id")
        schedules = try db.fetchAll(ScheduleState.self, "SELECT * FROM scheduleState ORDER BY cluster, namespace, unit")
        pauses = try db.fetchAll(ArgoPauseRecord.self, "SELECT * FROM argoPause ORDER BY cluster, application, namespace, unit")
    }

    func insert(into db: any SQLSession) throws {
        for record in operations { try db.insert(record) }
        for record in journal { try db.insert(record, id: record.id) }
        for record in gitops { try db.insert(record) }
        for record in overrides { try db.insert(record) }
        for record in audit { try db.insert(record, id: record.id) }
        for record in tokens { try db.insert(record) }
        for record in outbox { try db.insert(record, id: record.id) }
        for record in schedules { try db.insert(record) }
        for record in pauses { try db.insert(record) }
    }

    var report: StoreCopyReport {
        StoreCopyReport(rows: [
            ("operation", operations.count), ("journalEntry", journal.count), ("gitopsChange", gitops.count), ("override", overrides.count),
            ("auditEntry", audit.count), ("apiToken", tokens.count), ("outboxMessage", outbox.count), ("scheduleState", schedules.count),
            ("argoPause", pauses.count),
        ])
    }
}
