import Foundation
import GRDB

/// A person's exception to the schedule of a cluster or one of its namespaces.
public struct OverrideRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "override"

    public enum Kind: String, Codable, Sendable, CaseIterable {
        case wake, sleep, skip
    }

    public var id: String
    public var cluster: String
    /// Nil for the whole cluster.
    public var namespace: String?
    public var kind: Kind
    public var until: Date?
    public var reason: String?
    public var actor: String
    public var createdAt: Date
    public var clearedAt: Date?

    public init(id: String = UUID().uuidString.lowercased(), cluster: String, namespace: String?, kind: Kind, until: Date?, reason: String?, actor: String, createdAt: Date, clearedAt: Date? = nil) {
        self.id = id
        self.cluster = cluster
        self.namespace = namespace
        self.kind = kind
        self.until = until
        self.reason = reason
        self.actor = actor
        self.createdAt = createdAt
        self.clearedAt = clearedAt
    }
}

extension Store {
    public func save(_ override: OverrideRecord) async throws {
        try await writer.write { db in try override.save(db) }
    }

    /// Overrides not cleared and not expired at `now`.
    public func activeOverrides(at now: Date, cluster: String? = nil) async throws -> [OverrideRecord] {
        try await writer.read { db in
            var request = OverrideRecord.filter(Column("clearedAt") == nil).filter(Column("until") == nil || Column("until") > now)
            if let cluster { request = request.filter(Column("cluster") == cluster) }
            return try request.order(Column("createdAt")).fetchAll(db)
        }
    }

    /// Overrides not cleared yet, expired or not: the planner ends the expired ones.
    public func openOverrides(cluster: String) async throws -> [OverrideRecord] {
        try await writer.read { db in
            try OverrideRecord.filter(Column("cluster") == cluster).filter(Column("clearedAt") == nil).order(Column("createdAt")).fetchAll(db)
        }
    }

    /// An override by id, cleared or not.
    public func override(id: String) async throws -> OverrideRecord? {
        try await writer.read { db in try OverrideRecord.fetchOne(db, key: id) }
    }

    /// Marks an override cleared; false when there was no such active override.
    @discardableResult
    public func clearOverride(id: String, at now: Date) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE override SET clearedAt = ? WHERE id = ? AND clearedAt IS NULL", arguments: [now, id])
            return db.changesCount > 0
        }
    }
}
