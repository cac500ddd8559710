import Foundation

/// A notification waiting to be delivered (or delivered, or given up), so none is lost across restarts.
public struct OutboxMessage: Codable, Sendable, Equatable {

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
}

extension OutboxMessage: SQLRecord {
    static let table = "outboxMessage"
    static let primaryKey = ["id"]

    init(row: SQLRow) throws {
        self.init(
            dedupKey: try row.string("dedupKey"), destination: try row.string("destination"), channel: try row.optionalString("channel"),
            payload: try row.string("payload"), createdAt: try row.date("createdAt")
        )
        id = try row.int64("id")
        attempts = try row.int("attempts")
        nextAttemptAt = try row.date("nextAttemptAt")
        deliveredAt = try row.optionalDate("deliveredAt")
        abandonedAt = try row.optionalDate("abandonedAt")
        lastError = try row.optionalString("lastError")
    }

    var columns: [(String, SQLValue)] {
        [
            ("dedupKey", dedupKey.sqlValue), ("destination", destination.sqlValue), ("channel", channel.sqlValue), ("payload", payload.sqlValue),
            ("attempts", attempts.sqlValue), ("nextAttemptAt", nextAttemptAt.sqlValue), ("createdAt", createdAt.sqlValue),
            ("deliveredAt", deliveredAt.sqlValue), ("abandonedAt", abandonedAt.sqlValue), ("lastError", lastError.sqlValue),
        ]
    }
}

extension Store {
    /// Adds a message unless one with the same `dedupKey` exists; true when it was added.
    @discardableResult
    public func enqueue(_ message: OutboxMessage) async throws -> Bool {
        try await backend.write { db in
            try db.insertReturningID(message, onConflictDoNothing: true) != nil
        }
    }

    /// Messages due for a delivery attempt at `now`, oldest first.
    public func dueMessages(at now: Date, limit: Int = 50) async throws -> [OutboxMessage] {
        try await backend.read { db in
            try db.fetchAll(OutboxMessage.self, """
                SELECT * FROM outboxMessage WHERE deliveredAt IS NULL AND abandonedAt IS NULL AND nextAttemptAt <= ?
                ORDER BY nextAttemptAt, id LIMIT ?
                """, [now, limit])
        }
    }

    /// Takes up to `limit` messages due at `now` for this replica to deliver, oldest first: in one
    /// write transaction (writes are serialized, across replicas too), so replicas sharing the
    /// store never take the same message. Each is due again after `lease` unless its delivery or
    /// its next attempt is recorded (``update(_:)``) before: a replica that dies while delivering
    /// leaves its messages to the others. Returned as they were before the claim: writing one back
    /// unchanged releases it.
    public func claimDueMessages(at now: Date, lease: Duration, limit: Int = 50) async throws -> [OutboxMessage] {
        try await backend.write { db in
            let due = try db.fetchAll(OutboxMessage.self, """
                SELECT * FROM outboxMessage WHERE deliveredAt IS NULL AND abandonedAt IS NULL AND nextAttemptAt <= ?
                ORDER BY nextAttemptAt, id LIMIT ?
                """, [now, limit])
            for var claimed in due {
                claimed.nextAttemptAt = now.addingTimeInterval(lease.inSeconds)
                try db.update(claimed, id: .integer(claimed.id!))
            }
            return due
        }
    }

    /// Gives back messages taken by ``claimDueMessages(at:lease:limit:)`` and never tried, as
    /// they were before the claim; one that changed since (tried by another replica, or by this
    /// one after a restart, once the claim lapsed) is left as it is.
    public func releaseClaims(_ messages: [OutboxMessage]) async throws {
        try await backend.write { db in
            for message in messages {
                guard let id = message.id,
                    let current = try db.fetchOne(OutboxMessage.self, "SELECT * FROM outboxMessage WHERE id = ?", [id]),
                    current.attempts == message.attempts, current.deliveredAt == nil, current.abandonedAt == nil,
                    current.nextAttemptAt > message.nextAttemptAt
                else { continue }
                try db.update(message, id: .integer(id))
            }
        }
    }

    public func update(_ message: OutboxMessage) async throws {
        guard let id = message.id else { return }
        try await backend.write { db in try db.update(message, id: .integer(id)) }
    }

    /// How many messages wait for delivery and how many were given up, for metrics.
    public struct OutboxCounts: Sendable, Equatable {
        public var pending: Int
        public var givenUp: Int
    }

    public func outboxCounts() async throws -> OutboxCounts {
        try await backend.read { db in
            OutboxCounts(
                pending: try db.fetchCount("SELECT COUNT(*) AS count FROM outboxMessage WHERE deliveredAt IS NULL AND abandonedAt IS NULL"),
                givenUp: try db.fetchCount("SELECT COUNT(*) AS count FROM outboxMessage WHERE abandonedAt IS NOT NULL")
            )
        }
    }
}
