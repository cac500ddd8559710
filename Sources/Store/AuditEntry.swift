import Foundation

/// One audited action: who did what, from where, to which target, with what result.
public struct AuditEntry: Codable, Sendable, Equatable {
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
}

extension AuditEntry: SQLRecord {
    static let table = "auditEntry"
    static let primaryKey = ["id"]

    init(row: SQLRow) throws {
        self.init(
            at: try row.date("at"), actor: try row.string("actor"), source: try row.string("source"), action: try row.string("action"),
            cluster: try row.optionalString("cluster"), namespace: try row.optionalString("namespace"), target: try row.optionalString("target"),
            result: try row.string("result"), detail: try row.optionalString("detail")
        )
        id = try row.int64("id")
    }

    var columns: [(String, SQLValue)] {
        [
            ("at", at.sqlValue), ("actor", actor.sqlValue), ("source", source.sqlValue), ("action", action.sqlValue),
            ("cluster", cluster.sqlValue), ("namespace", namespace.sqlValue), ("target", target.sqlValue), ("result", result.sqlValue),
            ("detail", detail.sqlValue),
        ]
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
        try await backend.write { db in
            var entry = entry
            entry.id = try db.insertReturningID(entry)
            return entry
        }
    }

    public func auditEntries(_ query: AuditQuery = .init()) async throws -> [AuditEntry] {
        var conditions: [String] = ["1 = 1"]
        var arguments: [SQLValue] = []
        if let since = query.since { conditions.append("at >= ?"); arguments.append(since.sqlValue) }
        if let until = query.until { conditions.append("at <= ?"); arguments.append(until.sqlValue) }
        if let actor = query.actor { conditions.append("actor = ?"); arguments.append(actor.sqlValue) }
        if let cluster = query.cluster { conditions.append("cluster = ?"); arguments.append(cluster.sqlValue) }
        let sql = "SELECT * FROM auditEntry WHERE \(conditions.joined(separator: " AND ")) ORDER BY at DESC, id DESC LIMIT ?"
        return try await backend.read { [arguments] db in try db.fetchAll(AuditEntry.self, sql, arguments + [query.limit.sqlValue]) }
    }
}
