import Foundation
import GRDB

/// A sleep or wake run on one cluster: requested, running, then finished with a summary.
public struct OperationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "operation"

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

extension Store {
    public func save(_ operation: OperationRecord) async throws {
        try await writer.write { db in try operation.save(db) }
    }

    /// Changes an operation in one write transaction: the namespaces of one operation finish
    /// concurrently, each adding its part.
    @discardableResult
    public func updateOperation(id: String, _ change: @escaping @Sendable (inout OperationRecord) -> Void) async throws -> OperationRecord? {
        try await writer.write { db in
            guard var record = try OperationRecord.fetchOne(db, key: id) else { return nil }
            change(&record)
            try record.save(db)
            return record
        }
    }

    /// Accepts a person's request: the operation and the overrides that keep its result are
    /// stored together, so that neither exists without the other. Returns the overrides replaced.
    public func accept(_ operation: OperationRecord, overrides: [OverrideRecord], at now: Date) async throws -> [OverrideRecord] {
        try await writer.write { db in
            try operation.insert(db)
            return try Self.place(overrides, at: now, in: db)
        }
    }

    /// What an agent works from: its cluster's open overrides and unfinished operations, read
    /// together so that a request accepted meanwhile is seen whole or not at all.
    public func pendingWork(cluster: String) async throws -> (overrides: [OverrideRecord], operations: [OperationRecord]) {
        try await writer.read { db in
            (try Self.openOverrides(cluster: cluster, in: db), try Self.unfinishedOperations(cluster: cluster, in: db))
        }
    }

    public func operation(id: String) async throws -> OperationRecord? {
        try await writer.read { db in try OperationRecord.fetchOne(db, key: id) }
    }

    /// Operations that started and never finished (the hub stopped midway), oldest first.
    public func unfinishedOperations(cluster: String) async throws -> [OperationRecord] {
        try await writer.read { db in try Self.unfinishedOperations(cluster: cluster, in: db) }
    }

    static func unfinishedOperations(cluster: String, in db: Database) throws -> [OperationRecord] {
        try OperationRecord
            .filter(Column("cluster") == cluster)
            .filter([OperationRecord.State.pending.rawValue, OperationRecord.State.running.rawValue].contains(Column("state")))
            // Requests made in the same instant keep the order they were accepted in.
            .order(Column("createdAt"), Column.rowID)
            .fetchAll(db)
    }

    /// The newest operations, optionally of one cluster.
    public func operations(cluster: String? = nil, limit: Int = 100) async throws -> [OperationRecord] {
        try await writer.read { db in
            var request = OperationRecord.all()
            if let cluster { request = request.filter(Column("cluster") == cluster) }
            return try request.order(Column("createdAt").desc, Column.rowID.desc).limit(limit).fetchAll(db)
        }
    }
}
