import Foundation
import GRDB

/// One audited action: who did what, from where, to which target, with what result.
public struct AuditEntry: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "auditEntry"

    public enum Columns {
        static let at = Column(CodingKeys.at)
        static let actor = Column(CodingKeys.actor)
        static let cluster = Column(CodingKeys.cluster)
    }

    public var id: Int64?
    public var at: Date
    public var actor: String
    /// `api`, `cli`, `slack`, `schedule`, ...
    public var source: String
    public var action: String
    public var cluster: String?
    public var namespace: String?
    public var target: String?
    /// `ok`, `denied`, `failed`, `rejected`, ...
    public var result: String
    public var detail: String?

    public init(at: Date, actor: String, source: String, action: String, cluster: String? = nil, namespace: String? = nil, target: String? = nil, result: String, detail: String? = nil) {
        self.at = at
        self.actor = actor
        self.source = source
        self.action = action
        self.cluster = cluster
        self.namespace = namespace
        self.target = target
        self.result = result
        self.detail = detail
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// Which audit entries to return, newest first.
public struct AuditQuery: Sendable {
    public var since: Date?
    public var until: Date?
    public var actor: String?
    public var cluster: String?
    public var limit: Int = 500

    public init(since: Date? = nil, until: Date? = nil, actor: String? = nil, cluster: String? = nil, limit: Int = 500) {
        self.since = since
        self.until = until
        self.actor = actor
        self.cluster = cluster
        self.limit = limit
    }
}

extension Store {
    @discardableResult
    public func record(_ entry: AuditEntry) async throws -> AuditEntry {
        try await writer.write { db in
            var entry = entry
            try entry.insert(db)
            return entry
        }
    }

    public func auditEntries(_ query: AuditQuery = .init()) async throws -> [AuditEntry] {
        try await writer.read { db in
            var request = AuditEntry.all()
            if let since = query.since { request = request.filter(AuditEntry.Columns.at >= since) }
            if let until = query.until { request = request.filter(AuditEntry.Columns.at <= until) }
            if let actor = query.actor { request = request.filter(AuditEntry.Columns.actor == actor) }
            if let cluster = query.cluster { request = request.filter(AuditEntry.Columns.cluster == cluster) }
            return try request.order(AuditEntry.Columns.at.desc, Column("id").desc).limit(query.limit).fetchAll(db)
        }
    }
}
