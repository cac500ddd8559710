import Foundation
import Scheduling

/// What the hub remembers of one schedule on one namespace: since when it manages it, and the
/// last transition acted on (so that none is repeated and none missed).
public struct ScheduleState: Codable, Sendable, Equatable {

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

extension ScheduleState: SQLRecord {
    static let table = "scheduleState"
    static let primaryKey = ["cluster", "namespace", "unit"]

    init(row: SQLRow) throws {
        self.init(
            cluster: try row.string("cluster"), namespace: try row.string("namespace"), unit: try row.string("unit"),
            firstSeenAt: try row.date("firstSeenAt"), lastExecutedAt: try row.optionalDate("lastExecutedAt"), wants: try row.optionalString("wants")
        )
    }

    var columns: [(String, SQLValue)] {
        [
            ("cluster", cluster.sqlValue), ("namespace", namespace.sqlValue), ("unit", unit.sqlValue), ("firstSeenAt", firstSeenAt.sqlValue),
            ("lastExecutedAt", lastExecutedAt.sqlValue), ("wants", wants.sqlValue),
        ]
    }
}

extension Store {
    /// The states of every unit of a cluster: one read per evaluation instead of one per unit.
    public func scheduleStates(cluster: String) async throws -> [ScheduleState] {
        try await backend.read { db in try db.fetchAll(ScheduleState.self, "SELECT * FROM scheduleState WHERE cluster = ?", [cluster]) }
    }

    /// The state of a unit, created (first seen now) when missing. Read first: only a new unit
    /// needs a write.
    public func scheduleState(cluster: String, namespace: String, unit: String, now: Date) async throws -> ScheduleState {
        let select = "SELECT * FROM scheduleState WHERE cluster = ? AND namespace = ? AND unit = ?"
        if let existing = try await backend.read({ db in try db.fetchOne(ScheduleState.self, select, [cluster, namespace, unit]) }) {
            return existing
        }
        return try await backend.write { db in
            if let existing = try db.fetchOne(ScheduleState.self, select, [cluster, namespace, unit]) {
                return existing
            }
            let fresh = ScheduleState(cluster: cluster, namespace: namespace, unit: unit, firstSeenAt: now)
            try db.insert(fresh)
            return fresh
        }
    }

    /// Remembers the schedule's transitions taken into account, when they moved on.
    public func remember(_ memory: ScheduleMemory, cluster: String, namespace: String, unit: String) async throws {
        try await backend.write { db in
            try db.execute(
                """
                    UPDATE scheduleState SET lastExecutedAt = ?, wants = ?
                    WHERE cluster = ? AND namespace = ? AND unit = ? AND (lastExecutedAt IS NULL OR lastExecutedAt <= ?)
                    """,
                [memory.lastTransition, memory.wants?.rawValue ?? "none", cluster, namespace, unit, memory.lastTransition]
            )
        }
    }
}
