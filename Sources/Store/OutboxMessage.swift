import Foundation
import GRDB

/// A notification waiting to be delivered (or delivered, or given up), so none is lost across restarts.
public struct OutboxMessage: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "outboxMessage"

    public var id: Int64?
    /// The same key is enqueued only once.
    public var dedupKey: String
    /// `chat.postMessage`, `webhook` or a `response_url`.
    public var destination: String
    public var channel: String?
    /// The JSON message body.
    public var payload: String
    public var attempts: Int
    public var nextAttemptAt: Date
    public var createdAt: Date
    public var deliveredAt: Date?
    public var abandonedAt: Date?
    public var lastError: String?

    public init(dedupKey: String, destination: String, channel: String?, payload: String, createdAt: Date) {
        self.dedupKey = dedupKey
        self.destination = destination
        self.channel = channel
        self.payload = payload
        self.attempts = 0
        self.nextAttemptAt = createdAt
        self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

extension Store {
    /// Adds a message unless one with the same `dedupKey` exists; true when it was added.
    @discardableResult
    public func enqueue(_ message: OutboxMessage) async throws -> Bool {
        try await writer.write { db in
            var message = message
            try message.insert(db, onConflict: .ignore)
            return db.changesCount > 0
        }
    }

    /// Messages due for a delivery attempt at `now`, oldest first.
    public func dueMessages(at now: Date, limit: Int = 50) async throws -> [OutboxMessage] {
        try await writer.read { db in
            try OutboxMessage
                .filter(Column("deliveredAt") == nil && Column("abandonedAt") == nil && Column("nextAttemptAt") <= now)
                .order(Column("nextAttemptAt"), Column("id"))
                .limit(limit)
                .fetchAll(db)
        }
    }

    public func update(_ message: OutboxMessage) async throws {
        try await writer.write { db in try message.update(db) }
    }

    /// How many messages wait for delivery and how many were given up, for metrics.
    public struct OutboxCounts: Sendable, Equatable {
        public var pending: Int
        public var givenUp: Int
    }

    public func outboxCounts() async throws -> OutboxCounts {
        try await writer.read { db in
            OutboxCounts(
                pending: try OutboxMessage.filter(Column("deliveredAt") == nil && Column("abandonedAt") == nil).fetchCount(db),
                givenUp: try OutboxMessage.filter(Column("abandonedAt") != nil).fetchCount(db)
            )
        }
    }
}
