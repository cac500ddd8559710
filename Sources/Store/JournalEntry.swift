import Foundation

/// The restore data of one object slept by one operation, written before the object is patched.
public struct JournalEntry: Codable, Sendable, Equatable {

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
    /// What a partial sleep kept running (`1`, `50%`), as the state Secret's
    /// `sandman-downtime-replicas` says it: the wake judges the objects by it should the Secret
    /// be gone. Nil for a full sleep.
    public var downtimeReplicas: String?

    public init(
        operationId: String, cluster: String, namespace: String, sleepInfo: String, groupKind: String, name: String, restorePatch: String,
        state: State = .planned, updatedAt: Date, downtimeReplicas: String? = nil
    ) {
        self.operationId = operationId
        self.cluster = cluster
        self.namespace = namespace
        self.sleepInfo = sleepInfo
        self.groupKind = groupKind
        self.name = name
        self.restorePatch = restorePatch
        self.state = state
        self.updatedAt = updatedAt
        self.downtimeReplicas = downtimeReplicas
    }
}

extension JournalEntry: SQLRecord {
    static let table = "journalEntry"
    static let primaryKey = ["id"]

    init(row: SQLRow) throws {
        self.init(
            operationId: try row.string("operationId"), cluster: try row.string("cluster"), namespace: try row.string("namespace"),
            sleepInfo: try row.string("sleepInfo"), groupKind: try row.string("groupKind"), name: try row.string("name"),
            restorePatch: try row.string("restorePatch"), state: try row.enumeration("state"), updatedAt: try row.date("updatedAt"),
            downtimeReplicas: try row.optionalString("downtimeReplicas")
        )
        id = try row.int64("id")
    }

    var columns: [(String, SQLValue)] {
        [
            ("operationId", operationId.sqlValue), ("cluster", cluster.sqlValue), ("namespace", namespace.sqlValue),
            ("sleepInfo", sleepInfo.sqlValue), ("groupKind", groupKind.sqlValue), ("name", name.sqlValue),
            ("restorePatch", restorePatch.sqlValue), ("state", state.sqlValue), ("updatedAt", updatedAt.sqlValue),
            ("downtimeReplicas", downtimeReplicas.sqlValue),
        ]
    }
}

extension Store {
    /// Saves the entries of a whole plan in one transaction; returns them with their ids. An
    /// entry the operation already has (it is being resumed) is kept as it was: its restore
    /// patch was taken before anything was touched.
    @discardableResult
    public func journal(_ entries: [JournalEntry]) async throws -> [JournalEntry] {
        try await backend.write { db in
            // What each namespace of the operation has already, read once per namespace.
            var saved: [String: [String: JournalEntry]] = [:]
            return try entries.map { entry in
                let scope = [entry.operationId, entry.cluster, entry.namespace, entry.sleepInfo]
                let key = scope.joined(separator: "\u{0}")
                if saved[key] == nil {
                    let rows = try db.fetchAll(JournalEntry.self, """
                        SELECT * FROM journalEntry WHERE operationId = ? AND cluster = ? AND namespace = ? AND sleepInfo = ?
                        """, scope)
                    saved[key] = Dictionary(rows.map { ("\($0.groupKind)/\($0.name)", $0) }) { first, _ in first }
                }
                if let existing = saved[key]?["\(entry.groupKind)/\(entry.name)"] { return existing }
                var entry = entry
                entry.id = try db.insertReturningID(entry)
                saved[key]?["\(entry.groupKind)/\(entry.name)"] = entry
                return entry
            }
        }
    }

    /// The entries of the newest sleep of a namespace under a SleepInfo: the mirror of the
    /// restore data, for when the Secret is gone.
    public func latestSleepEntries(cluster: String, namespace: String, sleepInfo: String) async throws -> [JournalEntry] {
        try await backend.read { db in
            try db.fetchAll(JournalEntry.self, """
                SELECT journalEntry.* FROM journalEntry
                WHERE cluster = ? AND namespace = ? AND sleepInfo = ? AND operationId = (
                    SELECT operation.id FROM operation JOIN journalEntry j ON j.operationId = operation.id
                    WHERE operation.action = 'sleep' AND j.cluster = ? AND j.namespace = ? AND j.sleepInfo = ?
                    ORDER BY operation.createdAt DESC, operation.seq DESC LIMIT 1)
                ORDER BY id
                """, [cluster, namespace, sleepInfo, cluster, namespace, sleepInfo])
        }
    }

    /// The entries one operation wrote for one unit (a namespace under one SleepInfo or schedule).
    public func journalEntries(operationId: String, namespace: String, sleepInfo: String) async throws -> [JournalEntry] {
        try await backend.read { db in
            try db.fetchAll(JournalEntry.self, "SELECT * FROM journalEntry WHERE operationId = ? AND namespace = ? AND sleepInfo = ? ORDER BY id", [
                operationId, namespace, sleepInfo,
            ])
        }
    }

    public func journalEntries(operationId: String) async throws -> [JournalEntry] {
        try await backend.read { db in
            try db.fetchAll(JournalEntry.self, "SELECT * FROM journalEntry WHERE operationId = ? ORDER BY id", [operationId])
        }
    }

    /// Records what became of a pass's objects, in one transaction: an entry left `planned` by a
    /// crash before this is read as the objects themselves say (asleep or not).
    public func markJournalEntries(_ marks: [(id: Int64, state: JournalEntry.State)], at date: Date) async throws {
        guard !marks.isEmpty else { return }
        try await backend.write { db in
            for mark in marks {
                try db.execute("UPDATE journalEntry SET state = ?, updatedAt = ? WHERE id = ?", [mark.state.rawValue, date, mark.id])
            }
        }
    }
}
