import Foundation

/// A person's exception to a schedule: keep awake or asleep until a time, or skip the next
/// scheduled transition. The newest active keep-awake/keep-asleep override wins.
public struct ScheduleOverride: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case wake, sleep, skip
    }

    public var id: String
    public var kind: Kind
    /// When a wake or sleep override ends (nil: until cleared). Unused for skip.
    public var until: Date?
    public var createdAt: Date

    public init(id: String, kind: Kind, until: Date?, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.until = until
        self.createdAt = createdAt
    }

    func holds(at now: Date) -> Bool {
        kind != .skip && createdAt <= now && (until.map { now < $0 } ?? true)
    }
}

/// What one namespace needs, given its schedule, what has been done, overrides and its state.
public struct PlanInput: Sendable {
    /// Nil for a namespace without a schedule (only overrides act on it).
    public var schedule: SleepSchedule?
    /// The last schedule transition already acted on (or deliberately skipped).
    public var lastExecuted: Date?
    /// Transitions before this instant are never caught up (when the schedule was created).
    public var managedSince: Date?
    public var overrides: [ScheduleOverride]
    public var isAsleep: Bool
    public var now: Date

    public init(schedule: SleepSchedule?, lastExecuted: Date?, managedSince: Date? = nil, overrides: [ScheduleOverride] = [], isAsleep: Bool, now: Date) {
        self.schedule = schedule
        self.lastExecuted = lastExecuted
        self.managedSince = managedSince
        self.overrides = overrides
        self.isAsleep = isAsleep
        self.now = now
    }
}

/// The decision for one namespace now, and when to look again.
public struct NamespacePlan: Sendable, Equatable {
    /// Sleep or wake now; nil when the namespace is as it should be.
    public var action: Transition.Kind?
    public var reason: String
    /// The schedule transition this plan accounts for: record it as executed.
    public var executedTransition: Date?
    /// Overrides that are over (expired or used up): clear them.
    public var consumedOverrides: [String] = []
    /// The earliest moment the plan can change: the next transition or override expiry.
    public var nextCheck: Date?
    /// Whether an override in force (a person's explicit wish) decided, rather than the schedule.
    public var byOverride = false
}

/// Level-aware catch-up: a transition that became due while nobody acted (the hub was down
/// or busy) is acted on once when next evaluated, however late; one already executed is not
/// repeated, so changes people make between transitions are left alone.
public enum SchedulePlanner {
    public static func plan(_ input: PlanInput) -> NamespacePlan {
        let now = input.now
        let latest = input.schedule?.latestTransition(atOrBefore: now)
        let next = input.schedule?.transitions(after: now, count: 1).first?.at
        let unexecuted = latest.flatMap { transition -> Transition? in
            if let last = input.lastExecuted, transition.at <= last { return nil }
            if let since = input.managedSince, transition.at < since { return nil }
            return transition
        }

        /// The action that brings the namespace to `desired`, nil when it is there already.
        func decide(_ desired: Transition.Kind) -> Transition.Kind? {
            (desired == .sleep) == input.isAsleep ? nil : desired
        }

        // 1. A keep-awake or keep-asleep override in force wins; transitions passing meanwhile are absorbed.
        if let active = input.overrides.filter({ $0.holds(at: now) }).max(by: { $0.createdAt < $1.createdAt }) {
            let desired: Transition.Kind = active.kind == .wake ? .wake : .sleep
            let until = active.until.map { " until \($0.formatted(.iso8601))" } ?? ""
            return NamespacePlan(
                action: decide(desired), reason: "override: keep \(desired == .wake ? "awake" : "asleep")\(until)",
                executedTransition: unexecuted?.at, nextCheck: active.until, byOverride: true
            )
        }

        // 2. An override just ended: return to what the schedule says now.
        let ended = input.overrides.filter { $0.kind != .skip && ($0.until.map { $0 <= now } ?? false) }
        if !ended.isEmpty {
            let desired: Transition.Kind = (input.schedule?.isAsleep(at: now) ?? false) ? .sleep : .wake
            return NamespacePlan(
                action: decide(desired), reason: "override ended: back to the schedule (\(desired == .sleep ? "asleep" : "awake"))",
                executedTransition: latest?.at, consumedOverrides: ended.map(\.id), nextCheck: next
            )
        }

        guard let due = unexecuted else {
            return NamespacePlan(action: nil, reason: input.schedule == nil ? "no schedule" : "no transition due", nextCheck: next)
        }

        // 3. A skip override swallows the first transition due after it was made.
        if let skip = input.overrides.filter({ $0.kind == .skip && $0.createdAt <= due.at }).min(by: { $0.createdAt < $1.createdAt }) {
            return NamespacePlan(
                action: nil, reason: "\(due.kind.rawValue) at \(due.at.formatted(.iso8601)) skipped by override",
                executedTransition: due.at, consumedOverrides: [skip.id], nextCheck: next
            )
        }

        // 4. The schedule's latest transition, once.
        let action = decide(due.kind)
        let reason = action == nil
            ? "schedule: \(due.kind.rawValue) at \(due.at.formatted(.iso8601)), already \(input.isAsleep ? "asleep" : "awake")"
            : "schedule: \(due.kind.rawValue) at \(due.at.formatted(.iso8601))"
        return NamespacePlan(action: action, reason: reason, executedTransition: due.at, nextCheck: next)
    }
}
