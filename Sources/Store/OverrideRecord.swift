import Foundation
import Scheduling

/// A person's exception to the schedule of a cluster or one of its namespaces.
public struct OverrideRecord: Codable, Sendable, Equatable {

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
}

extension OverrideRecord: SQLRecord {
    static let table = "override"
    static let primaryKey = ["id"]
    /// Overrides made in the same instant keep the order they were placed in.
    static let computedOnInsert = [(column: "seq", expression: "(SELECT COALESCE(MAX(seq), 0) + 1 FROM override)")]

    init(row: SQLRow) throws {
        self.init(
            id: try row.string("id"), cluster: try row.string("cluster"), namespace: try row.optionalString("namespace"),
            kind: try row.enumeration("kind"), until: try row.optionalDate("until"), reason: try row.optionalString("reason"),
            actor: try row.string("actor"), createdAt: try row.date("createdAt"), clearedAt: try row.optionalDate("clearedAt"),
            operationId: try row.optionalString("operationId")
        )
        endReason = try row.optionalEnumeration("endReason")
        replacedBy = try row.optionalString("replacedBy")
    }

    var columns: [(String, SQLValue)] {
        [
            ("id", id.sqlValue), ("cluster", cluster.sqlValue), ("namespace", namespace.sqlValue), ("kind", kind.sqlValue),
            ("until", until.sqlValue), ("reason", reason.sqlValue), ("actor", actor.sqlValue), ("createdAt", createdAt.sqlValue),
            ("clearedAt", clearedAt.sqlValue), ("operationId", operationId.sqlValue), ("endReason", endReason.sqlValue),
            ("replacedBy", replacedBy.sqlValue),
        ]
    }
}

extension SQLSession {
    func override(id: String) throws -> OverrideRecord? {
        try fetchOne(OverrideRecord.self, "SELECT * FROM override WHERE id = ?", [id])
    }
}

extension Store {
    /// Stores new overrides in one transaction, each closing the open overrides of its cluster
    /// that it replaces (`OverrideReplacement`); returns the replaced ones.
    @discardableResult
    public func place(_ overrides: [OverrideRecord], at now: Date) async throws -> [OverrideRecord] {
        try await backend.write { db in try Self.place(overrides, at: now, in: db) }
    }

    static func place(_ overrides: [OverrideRecord], at now: Date, in db: any SQLSession) throws -> [OverrideRecord] {
        var replaced: [OverrideRecord] = []
        for record in overrides {
            let open = try openOverrides(cluster: record.cluster, in: db)
            let ids = Set(OverrideReplacement.replaced(by: record.namespace, among: open.map { (id: $0.id, namespace: $0.namespace) }))
            for var old in open where ids.contains(old.id) {
                old.clearedAt = now
                old.endReason = .superseded
                old.replacedBy = record.id
                try db.update(old)
                replaced.append(old)
            }
            try db.insert(record)
        }
        return replaced
    }

    /// Overrides open and not over at `now`, oldest first.
    public func activeOverrides(at now: Date, cluster: String? = nil) async throws -> [OverrideRecord] {
        try await backend.read { db in
            let open = "SELECT * FROM override WHERE clearedAt IS NULL AND (until IS NULL OR until > ?)"
            return if let cluster {
                try db.fetchAll(OverrideRecord.self, open + " AND cluster = ? ORDER BY createdAt, seq", [now, cluster])
            } else {
                try db.fetchAll(OverrideRecord.self, open + " ORDER BY createdAt, seq", [now])
            }
        }
    }

    /// Overrides not closed yet, over or not (the planner ends those that are over), oldest first.
    public func openOverrides(cluster: String) async throws -> [OverrideRecord] {
        try await backend.read { db in try Self.openOverrides(cluster: cluster, in: db) }
    }

    static func openOverrides(cluster: String, in db: any SQLSession) throws -> [OverrideRecord] {
        try db.fetchAll(OverrideRecord.self, "SELECT * FROM override WHERE cluster = ? AND clearedAt IS NULL ORDER BY createdAt, seq", [cluster])
    }

    /// An override by id, open or not.
    public func override(id: String) async throws -> OverrideRecord? {
        try await backend.read { db in try db.override(id: id) }
    }

    /// The open overrides whose id starts with `prefix` (people type the first characters), ten at most.
    public func overrides(idPrefix prefix: String) async throws -> [OverrideRecord] {
        let pattern = prefix.replacingOccurrences(of: "%", with: "").replacingOccurrences(of: "_", with: "") + "%"
        return try await backend.read { db in
            // Lower-cased on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
            try db.fetchAll(
                OverrideRecord.self, "SELECT * FROM override WHERE lower(id) LIKE lower(?) AND clearedAt IS NULL ORDER BY createdAt, seq LIMIT 10",
                [pattern]
            )
        }
    }

    /// Closes an open override; false when it was closed already.
    @discardableResult
    public func closeOverride(id: String, at now: Date, because reason: OverrideRecord.EndReason) async throws -> Bool {
        try await backend.write { db in
            try db.execute("UPDATE override SET clearedAt = ?, endReason = ? WHERE id = ? AND clearedAt IS NULL", [now, reason.rawValue, id]) > 0
        }
    }

    /// Closes the open overrides of a request (of some of its namespaces, when given): it failed.
    @discardableResult
    public func closeOverrides(ofOperation id: String, namespaces: [String]? = nil, at now: Date, because reason: OverrideRecord.EndReason) async throws -> [OverrideRecord] {
        try await backend.write { db in
            var closed: [OverrideRecord] = []
            let open = try db.fetchAll(
                OverrideRecord.self, "SELECT * FROM override WHERE operationId = ? AND clearedAt IS NULL ORDER BY createdAt, seq", [id]
            )
            // With namespaces given, only their own overrides: a cluster's stays while any part succeeded.
            for var record in open where namespaces.map({ names in record.namespace.map(names.contains) ?? false }) ?? true {
                record.clearedAt = now
                record.endReason = reason
                try db.update(record)
                closed.append(record)
            }
            return closed
        }
    }
}
