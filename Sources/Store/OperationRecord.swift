import Foundation

/// A sleep or wake run on one cluster: requested, running, then finished with a summary.
public struct OperationRecord: Codable, Sendable, Equatable {

    public enum State: String, Codable, Sendable {
        case pending, running, succeeded, partial, failed
        /// Never run: a newer request the other way covered it first.
        case superseded
        /// A GitOps request on its way through git (merge request, merge, Argo CD sync): the
        /// agent takes it up (`pending`) once the change has reached the cluster.
        case waiting
        /// A GitOps request whose merge request was closed without being merged.
        case rejected

        public var isFinished: Bool { self != .pending && self != .running && self != .waiting }
    }

    public var id: String
    public var cluster: String
    public var namespaces: [String]
    /// `sleep` or `wake`.
    public var action: String
    public var source: String
    public var actor: String
    public var reason: String?
    public var state: State
    /// JSON summary of what was done, skipped and failed (shape owned by the sleep engine).
    public var summary: String?
    public var createdAt: Date
    public var finishedAt: Date?
    /// GitOps requests: the stages passed (JSON array of `{stage, at, namespace, detail, url}`).
    public var stages: String?

    public init(id: String = UUID().uuidString.lowercased(), cluster: String, namespaces: [String], action: String, source: String, actor: String, reason: String? = nil, state: State = .pending, summary: String? = nil, createdAt: Date, finishedAt: Date? = nil, stages: String? = nil) {
        self.id = id
        self.cluster = cluster
        self.namespaces = namespaces
        self.action = action
        self.source = source
        self.actor = actor
        self.reason = reason
        self.state = state
        self.summary = summary
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.stages = stages
    }
}

extension OperationRecord: SQLRecord {
    static let table = "operation"
    static let primaryKey = ["id"]
    /// Requests made in the same instant keep the order they were accepted in.
    static let computedOnInsert = [(column: "seq", expression: "(SELECT COALESCE(MAX(seq), 0) + 1 FROM operation)")]

    init(row: SQLRow) throws {
        self.init(
            id: try row.string("id"), cluster: try row.string("cluster"), namespaces: try row.stringArray("namespaces"),
            action: try row.string("action"), source: try row.string("source"), actor: try row.string("actor"),
            reason: try row.optionalString("reason"), state: try row.enumeration("state"), summary: try row.optionalString("summary"),
            createdAt: try row.date("createdAt"), finishedAt: try row.optionalDate("finishedAt"), stages: try row.optionalString("stages")
        )
    }

    var columns: [(String, SQLValue)] {
        [
            ("id", id.sqlValue), ("cluster", cluster.sqlValue), ("namespaces", JSONArrayColumn.encode(namespaces)),
            ("action", action.sqlValue), ("source", source.sqlValue), ("actor", actor.sqlValue), ("reason", reason.sqlValue),
            ("state", state.sqlValue), ("summary", summary.sqlValue), ("createdAt", createdAt.sqlValue), ("finishedAt", finishedAt.sqlValue),
            ("stages", stages.sqlValue),
        ]
    }
}

extension SQLSession {
    func operation(id: String) throws -> OperationRecord? {
        try fetchOne(OperationRecord.self, "SELECT * FROM operation WHERE id = ?", [id])
    }
}

extension Store {
    public func save(_ operation: OperationRecord) async throws {
        try await backend.write { db in try db.save(operation) }
    }

    /// Changes an operation in one write transaction: the namespaces of one operation finish
    /// concurrently, each adding its part.
    @discardableResult
    public func updateOperation(id: String, _ change: @escaping @Sendable (inout OperationRecord) -> Void) async throws -> OperationRecord? {
        try await backend.write { db in
            guard var record = try db.operation(id: id) else { return nil }
            change(&record)
            try db.save(record)
            return record
        }
    }

    /// Marks a pending operation running, leaving the rest of the record unread: its summary
    /// grows to megabytes in an operation over many namespaces.
    public func markRunning(id: String) async throws {
        _ = try await backend.write { db in
            try db.execute("UPDATE operation SET state = ? WHERE id = ? AND state = ?", [OperationRecord.State.running.rawValue, id, OperationRecord.State.pending.rawValue])
        }
    }

    /// Accepts a person's request: the operation and the overrides that keep its result are
    /// stored together, so that neither exists without the other. Returns the overrides replaced.
    public func accept(_ operation: OperationRecord, overrides: [OverrideRecord], at now: Date) async throws -> [OverrideRecord] {
        try await backend.write { db in
            try db.insert(operation)
            return try Self.place(overrides, at: now, in: db)
        }
    }

    /// What an agent works from: its cluster's open overrides and unfinished operations, read
    /// together so that a request accepted meanwhile is seen whole or not at all.
    public func pendingWork(cluster: String) async throws -> (overrides: [OverrideRecord], operations: [OperationRecord]) {
        let work = try await backend.read { db in
            OverridesAndOperations(overrides: try Self.openOverrides(cluster: cluster, in: db), operations: try Self.unfinishedOperations(cluster: cluster, in: db))
        }
        return (work.overrides, work.operations)
    }

    public func operation(id: String) async throws -> OperationRecord? {
        try await backend.read { db in try db.operation(id: id) }
    }

    /// Whether an operation has finished, nil if there is none by that id: one small column
    /// read, for whoever waits on an operation whose summary is large.
    public func isOperationFinished(id: String) async throws -> Bool? {
        try await backend.read { db in
            try db.query("SELECT finishedAt FROM operation WHERE id = ?", [id]).first.map { row in try !row.isNull("finishedAt") }
        }
    }

    /// Operations that started and never finished (the hub stopped midway), oldest first.
    public func unfinishedOperations(cluster: String) async throws -> [OperationRecord] {
        try await backend.read { db in try Self.unfinishedOperations(cluster: cluster, in: db) }
    }

    static func unfinishedOperations(cluster: String, in db: any SQLSession) throws -> [OperationRecord] {
        try db.fetchAll(
            OperationRecord.self, "SELECT * FROM operation WHERE cluster = ? AND state IN (?, ?) ORDER BY createdAt, seq",
            [cluster, OperationRecord.State.pending.rawValue, OperationRecord.State.running.rawValue]
        )
    }

    /// The newest operations, optionally of one cluster.
    public func operations(cluster: String? = nil, limit: Int = 100) async throws -> [OperationRecord] {
        try await backend.read { db in
            if let cluster {
                try db.fetchAll(OperationRecord.self, "SELECT * FROM operation WHERE cluster = ? ORDER BY createdAt DESC, seq DESC LIMIT ?", [cluster, limit])
            } else {
                try db.fetchAll(OperationRecord.self, "SELECT * FROM operation ORDER BY createdAt DESC, seq DESC LIMIT ?", [limit])
            }
        }
    }
}

/// What `pendingWork` reads in one transaction.
private struct OverridesAndOperations: Sendable {
    var overrides: [OverrideRecord]
    var operations: [OperationRecord]
}
