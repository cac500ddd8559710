import Foundation
import GRDB

/// An API bearer token, stored only as the SHA-256 hash of its secret.
public struct APITokenRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "apiToken"

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

extension Store {
    public func save(_ token: APITokenRecord) async throws {
        try await writer.write { db in try token.save(db) }
    }

    /// The unrevoked token with this hash.
    public func token(hash: String) async throws -> APITokenRecord? {
        try await writer.read { db in
            try APITokenRecord.filter(Column("hash") == hash).filter(Column("revokedAt") == nil).fetchOne(db)
        }
    }

    public func tokens() async throws -> [APITokenRecord] {
        try await writer.read { db in try APITokenRecord.order(Column("createdAt")).fetchAll(db) }
    }

    @discardableResult
    public func revokeToken(id: String, at now: Date) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "UPDATE apiToken SET revokedAt = ? WHERE id = ? AND revokedAt IS NULL", arguments: [now, id])
            return db.changesCount > 0
        }
    }
}
