import Foundation

/// A person's exception to a schedule, as the planner sees it: keep a namespace awake or asleep
/// (until a time, or until cleared), or skip the next scheduled transition.
public struct ScheduleOverride: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case wake, sleep, skip
    }

    /// Whether the override was made for one namespace or for its whole cluster.
    public enum Scope: String, Sendable, Codable {
        case namespace, cluster
    }

    public var id: String
    public var kind: Kind
    public var scope: Scope
    /// When a wake or sleep override ends (nil: until cleared). Unused for skip.
    public var until: Date?
    public var createdAt: Date

    public init(id: String, kind: Kind, scope: Scope = .namespace, until: Date?, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.scope = scope
        self.until = until
        self.createdAt = createdAt
    }

    /// Whether this wake or sleep override keeps the namespace in its state at `instant`.
    public func holds(at instant: Date) -> Bool {
        kind != .skip && createdAt <= instant && (until.map { instant < $0 } ?? true)
    }

    /// Whether this wake or sleep override is over at `instant`.
    public func hasEnded(at instant: Date) -> Bool {
        kind != .skip && (until.map { $0 <= instant } ?? false)
    }

    var desiredState: Transition.Kind? {
        switch kind {
        case .wake: .wake
        case .sleep: .sleep
        case .skip: nil
        }
    }
}

/// What the hub remembers of one namespace's schedule between evaluations.
public struct ScheduleMemory: Sendable, Equatable {
    /// The latest transition taken into account: acted on, absorbed by an override, or skipped.
    public var lastTransition: Date?
    /// What the schedule wants since then, skips applied; nil while it has said nothing yet
    /// (a new SleepInfo before its first transition).
    public var wants: Transition.Kind?

    public init(lastTransition: Date? = nil, wants: Transition.Kind? = nil) {
        self.lastTransition = lastTransition
        self.wants = wants
    }
}

/// What one namespace needs, given its schedule, what the hub remembers, overrides and its state.
public struct PlanInput: Sendable {
    /// Nil for a namespace without a schedule: it is meant to be awake, and only overrides act on it.
    public var schedule: SleepSchedule?
    public var memory: ScheduleMemory
    /// Transitions before this instant are never caught up (when the SleepInfo was created).
    public var managedSince: Date?
    /// The open overrides that cover the namespace (its own and its cluster's), ended or not.
    public var overrides: [ScheduleOverride]
    public var isAsleep: Bool
    public var now: Date

    public init(
        schedule: SleepSchedule?, memory: ScheduleMemory = .init(), managedSince: Date? = nil,
        overrides: [ScheduleOverride] = [], isAsleep: Bool, now: Date
    ) {
        self.schedule = schedule
        self.memory = memory
        self.managedSince = managedSince
        self.overrides = overrides
        self.isAsleep = isAsleep
        self.now = now
    }
}

/// The decision for one namespace now, what to remember, and what will happen next.
public struct NamespacePlan: Sendable, Equatable {
    /// What decides the namespace's state.
    public enum Cause: Sendable, Equatable {
        /// The schedule (skips applied); the transition that said so, when this plan took it in.
        case schedule(Transition?)
        /// An override in force.
        case override(ScheduleOverride)
        /// Nothing: the schedule has not said anything yet, and no override is in force.
        case nothing
    }

    /// What the namespace should be now; nil when nothing says.
    public var desired: Transition.Kind?
    /// Sleep or wake now: `desired`, when the namespace is not in that state.
    public var action: Transition.Kind?
    /// Asleep, at a sleepAt of a schedule without wakeUpAt: whatever is awake goes back to sleep.
    public var resleep = false
    public var cause: Cause
    /// Store it: the schedule's transitions taken into account by this plan.
    public var memory: ScheduleMemory
    /// Wake and sleep overrides that are over: close them.
    public var ended: [String] = []
    /// Skips whose transition has come for this namespace.
    public var usedSkips: [String] = []
    /// The override shown for the namespace and mirrored on its SleepInfo: its own, else its cluster's.
    public var shown: ScheduleOverride?
    /// The earliest moment this plan can change: the next transition or override end.
    public var nextCheck: Date?
    /// When the namespace's state next changes if nobody does anything; nil when never (as far as known).
    public var nextChange: Change?

    public var byOverride: Bool {
        if case .override = cause { return true }
        return false
    }

    /// The zone of the namespace's schedule (UTC without one): the zone `reason` shows times in.
    public var timeZone = TimeZone(identifier: "UTC")!

    /// Why the namespace is to be as `desired`, for logs, operations and people, with times in
    /// the schedule's zone.
    public var reason: String {
        switch cause {
        case .override(let override):
            let state = override.kind == .wake ? "awake" : "asleep"
            return "override: keep \(state)" + (override.until.map { " until \(TimeText.absolute($0, zone: timeZone))" } ?? "")
        case .schedule(let transition?):
            return "schedule: \(transition.kind.rawValue) at \(TimeText.absolute(transition.at, zone: timeZone))"
        case .schedule(nil):
            return "schedule: \(desired == .sleep ? "asleep" : "awake")"
        case .nothing:
            return "nothing due yet"
        }
    }
}

/// A future change of a namespace's state and what brings it.
public struct Change: Sendable, Equatable {
    public enum Cause: String, Sendable {
        /// A transition of the schedule.
        case schedule
        /// An override ends and the schedule (or the cluster's override) takes over.
        case overrideEnds = "override ends"
    }

    public var kind: Transition.Kind
    public var at: Date
    public var cause: Cause

    public init(kind: Transition.Kind, at: Date, cause: Cause) {
        self.kind = kind
        self.at = at
        self.cause = cause
    }
}

/// The one answer for a namespace (docs/operations.md, "How overrides work"):
///
/// - the schedule's transitions are taken into account once each, in order, however late
///   (a hub that was down catches up); a skip swallows the first transition after its
///   creation, whatever else happens at that instant;
/// - a wake or sleep override in force decides (the namespace's own before its cluster's);
///   otherwise the schedule does;
/// - the namespace is acted on when it is not in the state so decided, and only then.
public enum SchedulePlanner {
    /// Missed transitions are replayed over at most this long: only the latest that no skip
    /// swallowed decides, and a skip swallows one transition.
    static let replayWindow: TimeInterval = 14 * 86_400
    /// How late a sleepAt of a sleep-only schedule may be taken into account and still sleep an asleep namespace again.
    static let resleepWindow: TimeInterval = 3600

    public static func plan(_ input: PlanInput) -> NamespacePlan {
        let now = input.now
        let skips = SkipTargets(input.overrides, schedule: input.schedule)
        var memory = input.memory
        var decisive: Transition?
        if let schedule = input.schedule {
            for transition in dueTransitions(schedule, memory: memory, managedSince: input.managedSince, now: now) {
                if !skips.swallow(transition.at) {
                    memory.wants = transition.kind
                    decisive = transition
                }
                memory.lastTransition = transition.at
            }
        } else {
            memory.wants = .wake
        }
        let ended = input.overrides.filter { $0.hasEnded(at: now) }
        let inForce = stateOverride(input.overrides, at: now)
        if memory.wants == nil, inForce != nil || !ended.isEmpty {
            // A person has spoken before the schedule did: from now on the schedule speaks too,
            // so that the namespace returns to what it says when the override ends or is cleared.
            memory.wants = input.schedule?.latestTransition(atOrBefore: now)?.kind
        }
        let desired = inForce?.desiredState ?? memory.wants
        let cause: NamespacePlan.Cause = inForce.map { .override($0) }
            ?? (memory.wants == nil ? .nothing : .schedule(decisive))
        let action = desired.flatMap { ($0 == .sleep) == input.isAsleep ? nil : $0 }

        var plan = NamespacePlan(desired: desired, action: action, cause: cause, memory: memory)
        // A schedule that only puts to sleep does so at every sleepAt, asleep or not, as kube-green
        // does: what people scaled up since goes back to sleep. Not for a sleepAt caught up late
        // (a hub down overnight): the morning's scale-ups are what people meant.
        if let decisive, decisive.kind == .sleep, input.isAsleep, inForce == nil, input.schedule?.isSleepOnly == true,
           now.timeIntervalSince(decisive.at) < Self.resleepWindow {
            plan.resleep = true
        }
        if let zone = input.schedule?.timeZone { plan.timeZone = zone }
        plan.ended = ended.map(\.id)
        plan.usedSkips = skips.used(by: now)
        plan.shown = shownOverride(input.overrides, used: Set(plan.usedSkips), at: now)
        let upcoming = input.schedule?.transitions(after: now, count: 8) ?? []
        let nextEnd = input.overrides.filter { $0.holds(at: now) }.compactMap(\.until).min()
        plan.nextCheck = [upcoming.first?.at, nextEnd].compactMap { $0 }.min()
        let asleep = desired.map { $0 == .sleep } ?? input.isAsleep
        plan.nextChange = nextChange(input, upcoming: upcoming, wants: memory.wants, skips: skips, asleep: asleep)
        return plan
    }

    /// The transitions not yet taken into account, oldest first: those after the last one taken
    /// into account (or since the SleepInfo exists), or only the latest for a schedule seen for
    /// the first time.
    static func dueTransitions(_ schedule: SleepSchedule, memory: ScheduleMemory, managedSince: Date?, now: Date) -> [Transition] {
        guard let start = memory.lastTransition ?? managedSince.map({ $0.addingTimeInterval(-0.001) }) else {
            return schedule.latestTransition(atOrBefore: now).map { [$0] } ?? []
        }
        let due = schedule.transitions(after: max(start, now.addingTimeInterval(-replayWindow)), through: now)
        guard !due.isEmpty || start >= now.addingTimeInterval(-replayWindow) else {
            return schedule.latestTransition(atOrBefore: now).map { [$0] } ?? []
        }
        return due.filter { transition in managedSince.map { transition.at >= $0 } ?? true }
    }

    /// The wake or sleep override that decides at `instant`: the namespace's own, else its
    /// cluster's; the newest of a scope when (against the rules) there are several.
    static func stateOverride(_ overrides: [ScheduleOverride], at instant: Date) -> ScheduleOverride? {
        overrides.filter { $0.holds(at: instant) }.max { lhs, rhs in
            (lhs.scope == .namespace ? 1 : 0, lhs.createdAt) < (rhs.scope == .namespace ? 1 : 0, rhs.createdAt)
        }
    }

    /// The override people see for the namespace: its own if it has one, else its cluster's.
    static func shownOverride(_ overrides: [ScheduleOverride], used: Set<String>, at instant: Date) -> ScheduleOverride? {
        let open = overrides.filter { override in
            override.createdAt <= instant && !override.hasEnded(at: instant) && !used.contains(override.id)
        }
        return open.max { lhs, rhs in
            (lhs.scope == .namespace ? 1 : 0, lhs.createdAt) < (rhs.scope == .namespace ? 1 : 0, rhs.createdAt)
        }
    }

    /// Walks the coming transitions and override ends until the state the namespace is in
    /// (or is being put into) changes.
    static func nextChange(
        _ input: PlanInput, upcoming: [Transition], wants: Transition.Kind?, skips: SkipTargets, asleep: Bool
    ) -> Change? {
        let ends = input.overrides.compactMap { override in override.holds(at: input.now) ? override.until : nil }
        let instants = Set(upcoming.map(\.at) + ends).sorted()
        var wants = wants
        for instant in instants {
            for transition in upcoming where transition.at == instant && !skips.swallow(instant) {
                wants = transition.kind
            }
            guard let desired = stateOverride(input.overrides, at: instant)?.desiredState ?? wants,
                  (desired == .sleep) != asleep else { continue }
            let scheduled = upcoming.contains { $0.at == instant && $0.kind == desired }
            return Change(kind: desired, at: instant, cause: ends.contains(instant) && !scheduled ? .overrideEnds : .schedule)
        }
        return nil
    }
}

/// For each skip, the transition it swallows: the first after its creation.
struct SkipTargets {
    private var targets: [(id: String, at: Date)] = []

    init(_ overrides: [ScheduleOverride], schedule: SleepSchedule?) {
        guard let schedule else { return }
        for skip in overrides where skip.kind == .skip {
            let first = schedule.transitions(after: skip.createdAt, count: 1).first
            if let first { targets.append((skip.id, first.at)) }
        }
    }

    /// Whether some skip swallows the transition at `instant`.
    func swallow(_ instant: Date) -> Bool {
        targets.contains { $0.at == instant }
    }

    /// The skips whose transition has come by `instant`.
    func used(by instant: Date) -> [String] {
        targets.filter { $0.at <= instant }.map(\.id)
    }
}

/// Rule 1 of the override model: which open overrides of a cluster a new one replaces.
public enum OverrideReplacement {
    /// The ids, among the cluster's open overrides (`namespace` nil: the cluster's own), that a
    /// new override for `namespace` (nil: the whole cluster) replaces: the namespace's own, or
    /// for a cluster override every one of the cluster.
    public static func replaced(by namespace: String?, among open: [(id: String, namespace: String?)]) -> [String] {
        open.filter { namespace == nil || $0.namespace == namespace }.map(\.id)
    }
}
