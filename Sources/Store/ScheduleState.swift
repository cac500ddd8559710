import Foundation
import GRDB
import Scheduling

/// What the hub remembers of one schedule on one namespace: since when it manages it, and the
/// last transition acted on (so that none is repeated and none missed).
public struct ScheduleState: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "scheduleState"

    public var cluster: String
    public var namespace: String
    /// The SleepInfo name, or `hub-<schedule>`.
    public var unit: String
    public var firstSeenAt: Date
    /// The latest transition taken into account.
    public var lastExecutedAt: Date?
    /// What the schedule wants since then (`sleep`, `wake`, `none`); nil in rows written
    /// before sandman remembered it.
    public var wants: String?

    public init(cluster: String, namespace: String, unit: String, firstSeenAt: Date, lastExecutedAt: Date? = nil, wants: String? = nil) {
        self.cluster = cluster
        self.namespace = namespace
        self.unit = unit
        self.firstSeenAt = firstSeenAt
        self.lastExecutedAt = lastExecutedAt
        self.wants = wants
    }

    /// The planner's memory; `schedule` works out what older rows did not record.
    public func memory(schedule: SleepSchedule?) -> ScheduleMemory {
        let remembered: Transition.Kind?? = wants.map { $0 == "none" ? nil : Transition.Kind(rawValue: $0) }
        let derived = lastExecutedAt.flatMap { schedule?.latestTransition(atOrBefore: $0)?.kind }
        return ScheduleMemory(lastTransition: lastExecutedAt, wants: remembered ?? derived)
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

    /// Remembers the schedule's transitions taken into account, when they moved on.
    public func remember(_ memory: ScheduleMemory, cluster: String, namespace: String, unit: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE scheduleState SET lastExecutedAt = ?, wants = ?
                    WHERE cluster = ? AND namespace = ? AND unit = ? AND (lastExecutedAt IS NULL OR lastExecutedAt <= ?)
                    """,
                arguments: [memory.lastTransition, memory.wants?.rawValue ?? "none", cluster, namespace, unit, memory.lastTransition]
            )
        }
    }
}
