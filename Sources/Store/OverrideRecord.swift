import Foundation
import GRDB
import Scheduling

/// A person's exception to the schedule of a cluster or one of its namespaces.
public struct OverrideRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "override"

    public enum Kind: String, Codable, Sendable, CaseIterable {
        case wake, sleep, skip
    }

    /// Why an override is no longer open.
    public enum EndReason: String, Codable, Sendable {
        /// A person cleared it.
        case cleared
        /// A newer override replaced it (`replacedBy`).
        case superseded
        /// Its time was up.
        case ended
        /// A skip whose transition came.
        case used
        /// The request it belonged to failed: it never took effect.
        case failed
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
    /// The person's sleep or wake whose result this override keeps, if any.
    public var operationId: String?
    public var endReason: EndReason?
    public var replacedBy: String?

    public init(
        id: String = UUID().uuidString.lowercased(), cluster: String, namespace: String?, kind: Kind, until: Date?,
        reason: String?, actor: String, createdAt: Date, clearedAt: Date? = nil, operationId: String? = nil
    ) {
        self.id = id
        self.cluster = cluster
        self.namespace = namespace
        self.kind = kind
        self.until = until
        self.reason = reason
        self.actor = actor
        self.createdAt = createdAt
        self.clearedAt = clearedAt
        self.operationId = operationId
    }

    /// The override as the schedule planner sees it.
    public var scheduleOverride: ScheduleOverride {
        ScheduleOverride(
            id: id, kind: ScheduleOverride.Kind(rawValue: kind.rawValue) ?? .skip, scope: namespace == nil ? .cluster : .namespace,
            until: until, createdAt: createdAt
        )
    }

    public enum Columns {
        public static let cluster = Column(CodingKeys.cluster)
        public static let namespace = Column(CodingKeys.namespace)
        public static let clearedAt = Column(CodingKeys.clearedAt)
        public static let until = Column(CodingKeys.until)
        public static let createdAt = Column(CodingKeys.createdAt)
        public static let operationId = Column(CodingKeys.operationId)
    }
}

extension Store {
    /// Stores new overrides in one transaction, each closing the open overrides of its cluster
    /// that it replaces (`OverrideReplacement`); returns the replaced ones.
    @discardableResult
    public func place(_ overrides: [OverrideRecord], at now: Date) async throws -> [OverrideRecord] {
        try await writer.write { db in try Self.place(overrides, at: now, in: db) }
    }

    static func place(_ overrides: [OverrideRecord], at now: Date, in db: Database) throws -> [OverrideRecord] {
        var replaced: [OverrideRecord] = []
        for record in overrides {
            let open = try OverrideRecord.filter(OverrideRecord.Columns.cluster == record.cluster && OverrideRecord.Columns.clearedAt == nil)
                .fetchAll(db)
            let ids = Set(OverrideReplacement.replaced(by: record.namespace, among: open.map { (id: $0.id, namespace: $0.namespace) }))
            for var old in open where ids.contains(old.id) {
                old.clearedAt = now
                old.endReason = .superseded
                old.replacedBy = record.id
                try old.update(db)
                replaced.append(old)
            }
            try record.insert(db)
        }
        return replaced
    }

    /// Overrides open and not over at `now`, oldest first.
    public func activeOverrides(at now: Date, cluster: String? = nil) async throws -> [OverrideRecord] {
        try await writer.read { db in
            var request = OverrideRecord.filter(OverrideRecord.Columns.clearedAt == nil)
                .filter(OverrideRecord.Columns.until == nil || OverrideRecord.Columns.until > now)
            if let cluster { request = request.filter(OverrideRecord.Columns.cluster == cluster) }
            return try request.order(OverrideRecord.Columns.createdAt, Column.rowID).fetchAll(db)
        }
    }

    /// Overrides not closed yet, over or not (the planner ends those that are over), oldest first.
    public func openOverrides(cluster: String) async throws -> [OverrideRecord] {
        try await writer.read { db in try Self.openOverrides(cluster: cluster, in: db) }
    }

    static func openOverrides(cluster: String, in db: Database) throws -> [OverrideRecord] {
        try OverrideRecord.filter(OverrideRecord.Columns.cluster == cluster && OverrideRecord.Columns.clearedAt == nil)
            .order(OverrideRecord.Columns.createdAt, Column.rowID).fetchAll(db)
    }

    /// An override by id, open or not.
    public func override(id: String) async throws -> OverrideRecord? {
        try await writer.read { db in try OverrideRecord.fetchOne(db, key: id) }
    }

    /// The open overrides whose id starts with `prefix` (people type the first characters), ten at most.
    public func overrides(idPrefix prefix: String) async throws -> [OverrideRecord] {
        let pattern = prefix.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
        return try await writer.read { db in
            try OverrideRecord.filter(Column("id").like(pattern) && Column("clearedAt") == nil).limit(10).fetchAll(db)
        }
    }

    /// Closes an open override; false when it was closed already.
    @discardableResult
    public func closeOverride(id: String, at now: Date, because reason: OverrideRecord.EndReason) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE override SET clearedAt = ?, endReason = ? WHERE id = ? AND clearedAt IS NULL",
                arguments: [now, reason.rawValue, id]
            )
            return db.changesCount > 0
        }
    }

    /// Closes the open overrides of a request (of some of its namespaces, when given): it failed.
    @discardableResult
    public func closeOverrides(ofOperation id: String, namespaces: [String]? = nil, at now: Date, because reason: OverrideRecord.EndReason) async throws -> [OverrideRecord] {
        try await writer.write { db in
            var closed: [OverrideRecord] = []
            let open = try OverrideRecord.filter(OverrideRecord.Columns.operationId == id && OverrideRecord.Columns.clearedAt == nil).fetchAll(db)
            // With namespaces given, only their own overrides: a cluster's stays while any part succeeded.
            for var record in open where namespaces.map({ names in record.namespace.map(names.contains) ?? false }) ?? true {
                record.clearedAt = now
                record.endReason = reason
                try record.update(db)
                closed.append(record)
            }
            return closed
        }
    }
}
