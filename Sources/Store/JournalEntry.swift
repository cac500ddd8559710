import Foundation
import GRDB

/// The restore data of one object slept by one operation, written before the object is patched.
public struct JournalEntry: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "journalEntry"

    public enum State: String, Codable, Sendable {
        /// Restore data saved; the object may or may not have been patched yet.
        case planned
        /// The object was patched to its slept state.
        case slept
        /// The restore patch was applied.
        case restored
        /// Left alone on wake (changed by someone meanwhile, or gone).
        case skipped
    }

    public var id: Int64?
    public var operationId: String
    public var cluster: String
    public var namespace: String
    public var sleepInfo: String
    /// `Kind.group`, as kube-green keys its restore data (`Deployment.apps`).
    public var groupKind: String
    public var name: String
    /// RFC 7386 JSON merge patch that restores the object.
    public var restorePatch: String
    public var state: State
    public var updatedAt: Date

    public init(operationId: String, cluster: String, namespace: String, sleepInfo: String, groupKind: String, name: String, restorePatch: String, state: State = .planned, updatedAt: Date) {
        self.operationId = operationId
        self.cluster = cluster
        self.namespace = namespace
        self.sleepInfo = sleepInfo
        self.groupKind = groupKind
        self.name = name
        self.restorePatch = restorePatch
        self.state = state
        self.updatedAt = updatedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension Store {
    /// Saves the entries of a whole plan in one transaction; returns them with their ids. An
    /// entry the operation already has (it is being resumed) is kept as it was: its restore
    /// patch was taken before anything was touched.
    @discardableResult
    public func journal(_ entries: [JournalEntry]) async throws -> [JournalEntry] {
        try await writer.write { db in
            try entries.map { entry in
                if let existing = try JournalEntry
                    .filter(Column("operationId") == entry.operationId && Column("cluster") == entry.cluster && Column("namespace") == entry.namespace)
                    .filter(Column("sleepInfo") == entry.sleepInfo && Column("groupKind") == entry.groupKind && Column("name") == entry.name)
                    .fetchOne(db) {
                    return existing
                }
                var entry = entry
                try entry.insert(db)
                return entry
            }
        }
    }

    /// The entries of the newest sleep of a namespace under a SleepInfo: the mirror of the
    /// restore data, for when the Secret is gone.
    public func latestSleepEntries(cluster: String, namespace: String, sleepInfo: String) async throws -> [JournalEntry] {
        try await writer.read { db in
            try JournalEntry.fetchAll(db, sql: """
                SELECT journalEntry.* FROM journalEntry
                WHERE cluster = ? AND namespace = ? AND sleepInfo = ? AND operationId = (
                    SELECT operation.id FROM operation JOIN journalEntry j ON j.operationId = operation.id
                    WHERE operation.action = 'sleep' AND j.cluster = ? AND j.namespace = ? AND j.sleepInfo = ?
                    ORDER BY operation.createdAt DESC LIMIT 1)
                ORDER BY id
                """, arguments: [cluster, namespace, sleepInfo, cluster, namespace, sleepInfo])
        }
    }

    public func journalEntries(operationId: String) async throws -> [JournalEntry] {
        try await writer.read { db in
            try JournalEntry.filter(Column("operationId") == operationId).order(Column("id")).fetchAll(db)
        }
    }

    public func markJournalEntry(id: Int64, as state: JournalEntry.State, at date: Date) async throws {
        try await writer.write { db in
            try db.execute(sql: "UPDATE journalEntry SET state = ?, updatedAt = ? WHERE id = ?", arguments: [state.rawValue, date, id])
        }
    }
}
