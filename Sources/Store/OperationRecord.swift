import Foundation
import GRDB

/// A sleep or wake run on one cluster: requested, running, then finished with a summary.
public struct OperationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "operation"

    public enum State: String, Codable, Sendable {
        case pending, running, succeeded, partial, failed
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

    public init(id: String = UUID().uuidString.lowercased(), cluster: String, namespaces: [String], action: String, source: String, actor: String, reason: String? = nil, state: State = .pending, summary: String? = nil, createdAt: Date, finishedAt: Date? = nil) {
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

    public func operation(id: String) async throws -> OperationRecord? {
        try await writer.read { db in try OperationRecord.fetchOne(db, key: id) }
    }

    /// Operations that started and never finished (the hub stopped midway), oldest first.
    public func unfinishedOperations(cluster: String) async throws -> [OperationRecord] {
        try await writer.read { db in
            try OperationRecord
                .filter(Column("cluster") == cluster)
                .filter([OperationRecord.State.pending.rawValue, OperationRecord.State.running.rawValue].contains(Column("state")))
                .order(Column("createdAt"))
                .fetchAll(db)
        }
    }

    /// The newest operations, optionally of one cluster.
    public func operations(cluster: String? = nil, limit: Int = 100) async throws -> [OperationRecord] {
        try await writer.read { db in
            var request = OperationRecord.all()
            if let cluster { request = request.filter(Column("cluster") == cluster) }
            return try request.order(Column("createdAt").desc).limit(limit).fetchAll(db)
        }
    }
}
