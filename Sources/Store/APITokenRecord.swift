import Foundation

/// An API bearer token, stored only as the SHA-256 hash of its secret.
public struct APITokenRecord: Codable, Sendable, Equatable {

    public var id: String
    public var name: String
    /// Hex SHA-256 of the token secret.
    public var hash: String
    /// `viewer`, `operator` or `admin`.
    public var role: String
    /// Empty means every team.
    public var teams: [String]
    /// Empty means every cluster.
    public var clusters: [String]
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(id: String, name: String, hash: String, role: String, teams: [String], clusters: [String], createdAt: Date) {
        self.id = id
        self.name = name
        self.hash = hash
        self.role = role
        self.teams = teams
        self.clusters = clusters
        self.createdAt = createdAt
    }
}

extension APITokenRecord: SQLRecord {
    static let table = "apiToken"
    static let primaryKey = ["id"]

    init(row: SQLRow) throws {
        self.init(
            id: try row.string("id"), name: try row.string("name"), hash: try row.string("hash"), role: try row.string("role"),
            teams: try row.stringArray("teams"), clusters: try row.stringArray("clusters"), createdAt: try row.date("createdAt")
        )
        lastUsedAt = try row.optionalDate("lastUsedAt")
        revokedAt = try row.optionalDate("revokedAt")
    }

    var columns: [(String, SQLValue)] {
        [
            ("id", id.sqlValue), ("name", name.sqlValue), ("hash", hash.sqlValue), ("role", role.sqlValue),
            ("teams", JSONArrayColumn.encode(teams)), ("clusters", JSONArrayColumn.encode(clusters)), ("createdAt", createdAt.sqlValue),
            ("lastUsedAt", lastUsedAt.sqlValue), ("revokedAt", revokedAt.sqlValue),
        ]
    }
}

extension Store {
    public func save(_ token: APITokenRecord) async throws {
        try await backend.write { db in try db.save(token) }
    }

    /// The unrevoked token with this hash.
    public func token(hash: String) async throws -> APITokenRecord? {
        try await backend.read { db in
            try db.fetchOne(APITokenRecord.self, "SELECT * FROM apiToken WHERE hash = ? AND revokedAt IS NULL", [hash])
        }
    }

    public func tokens() async throws -> [APITokenRecord] {
        try await backend.read { db in try db.fetchAll(APITokenRecord.self, "SELECT * FROM apiToken ORDER BY createdAt, id") }
    }

    @discardableResult
    public func revokeToken(id: String, at now: Date) async throws -> Bool {
        try await backend.write { db in
            try db.execute("UPDATE apiToken SET revokedAt = ? WHERE id = ? AND revokedAt IS NULL", [now, id]) > 0
        }
    }
}
