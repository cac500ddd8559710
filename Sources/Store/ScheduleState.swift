import Foundation
import GRDB

/// What the hub remembers of one schedule on one namespace: since when it manages it, and the
/// last transition acted on (so that none is repeated and none missed).
public struct ScheduleState: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "scheduleState"

    public var cluster: String
    public var namespace: String
    /// The SleepInfo name, or `hub-<schedule>`.
    public var unit: String
    public var firstSeenAt: Date
    public var lastExecutedAt: Date?

    public init(cluster: String, namespace: String, unit: String, firstSeenAt: Date, lastExecutedAt: Date? = nil) {
        self.cluster = cluster
        self.namespace = namespace
        self.unit = unit
        self.firstSeenAt = firstSeenAt
        self.lastExecutedAt = lastExecutedAt
    }
}

extension Store {
    /// The state of a unit, created (first seen now) when missing. Read first: the agents ask
    /// for every unit at every evaluation, and only a new unit needs a write.
    public func scheduleState(cluster: String, namespace: String, unit: String, now: Date) async throws -> ScheduleState {
        let key: [String: String] = ["cluster": cluster, "namespace": namespace, "unit": unit]
        if let existing = try await writer.read({ db in try ScheduleState.fetchOne(db, key: key) }) { return existing }
        return try await writer.write { db in
            if let existing = try ScheduleState.fetchOne(db, key: key) {
                return existing
            }
            let fresh = ScheduleState(cluster: cluster, namespace: namespace, unit: unit, firstSeenAt: now)
            try fresh.insert(db)
            return fresh
        }
    }

    public func recordExecuted(cluster: String, namespace: String, unit: String, at transition: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE scheduleState SET lastExecutedAt = ? WHERE cluster = ? AND namespace = ? AND unit = ? AND (lastExecutedAt IS NULL OR lastExecutedAt < ?)",
                arguments: [transition, cluster, namespace, unit, transition]
            )
        }
    }
}
