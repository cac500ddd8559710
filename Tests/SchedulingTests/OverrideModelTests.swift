import Foundation
import Scheduling
import TestSupport
import Testing

/// The override model of docs/operations.md, played as random sequences of schedule transitions,
/// overrides, clears, manual operations and hub outages through the pure planner, checked after
/// every evaluation against a reference written straight from the rules.
@Suite("Override model")
struct OverrideModelTests {
    static let sequences = 10_000

    @Test func randomSequencesFollowTheRules() {
        let base = UInt64(ProcessInfo.processInfo.environment["SANDMAN_MODEL_SEED"] ?? "") ?? 20_261_202
        for offset in 0..<UInt64(Self.sequences) {
            let seed = base &+ offset
            var world = ModelWorld(seed: seed)
            if let failure = world.play(steps: 14) {
                Issue.record("seed \(seed) (rerun with SANDMAN_MODEL_SEED=\(seed)): \(failure)\n\(world.log.joined(separator: "\n"))")
                return
            }
        }
    }
}

/// One cluster with two namespaces on different schedules, the hub's memory of them, and the
/// whole history of overrides; the planner acts, the reference judges.
struct ModelWorld {
    struct Record {
        var id: String
        var namespace: String?
        var kind: ScheduleOverride.Kind
        var until: Date?
        var createdAt: Date
        var closedAt: Date?
        var closedBecause = ""
    }

    static let start = Date(timeIntervalSince1970: 1_796_601_600)  // Mon 2026-12-07 00:00 UTC
    static let schedules: [SleepSchedule] = [
        try! SleepSchedule(weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00"),
        try! SleepSchedule(weekdays: "*", sleepAt: "19:00", wakeUpAt: "07:30", timeZone: "Europe/Rome"),
        try! SleepSchedule(weekdays: "*", sleepAt: "1,13:00", wakeUpAt: "6,16:00"),
        try! SleepSchedule(weekdays: "1-5", sleepAt: "22:00", wakeUpAt: nil),
    ]

    /// SANDMAN_MODEL_TRACE=1 logs every evaluation of a failing sequence.
    static let tracing = ProcessInfo.processInfo.environment["SANDMAN_MODEL_TRACE"] != nil
    var random: SeededGenerator
    var now = ModelWorld.start
    let namespaces = ["a", "b"]
    var schedule: [String: SleepSchedule] = [:]
    var memory: [String: ScheduleMemory] = [:]
    var asleep: [String: Bool] = [:]
    var initial: [String: Bool] = [:]
    var records: [Record] = []
    var usedSkips: [String: Set<String>] = [:]
    var log: [String] = []
    var nextID = 0
    /// The reference's view of each schedule over the whole run, and of each skip's transition.
    var transitions: [String: [Transition]] = [:]
    var skipTargets: [String: Date] = [:]

    init(seed: UInt64) {
        random = SeededGenerator(seed: seed)
        for namespace in namespaces {
            schedule[namespace] = Self.schedules.randomElement(using: &random)!
            memory[namespace] = ScheduleMemory()
            let state = Bool.random(using: &random)
            asleep[namespace] = state
            initial[namespace] = state
        }
        now = now.addingTimeInterval(Double(Int.random(in: 0..<86_400, using: &random)))
    }

    /// Plays `steps` random steps; returns the first broken rule, nil when all held.
    mutating func play(steps: Int) -> String? {
        transitions = namespaces.reduce(into: [:]) { all, namespace in
            all[namespace] = schedule[namespace]!.transitions(after: Self.start.addingTimeInterval(-0.001), through: Self.start.addingTimeInterval(40 * 86_400))
        }
        if case .failure(let failure) = evaluate() { return failure.description }
        for _ in 0..<steps {
            switch Int.random(in: 0..<10, using: &random) {
            case 0...3: createOverride()
            case 4: clearOverride()
            case 5, 6: manualOperation()
            case 7: outage()
            default: break
            }
            if let failure = advance(by: Double(Int.random(in: 1...(8 * 60), using: &random)) * 60) { return failure.description }
        }
        return nil
    }

    // MARK: Steps

    mutating func place(_ kind: ScheduleOverride.Kind, namespace: String?, until: Date?) -> String {
        nextID += 1
        let id = "o\(nextID)"
        let open = records.filter { $0.closedAt == nil }.map { (id: $0.id, namespace: $0.namespace) }
        for replaced in OverrideReplacement.replaced(by: namespace, among: open) {
            close(replaced, because: "superseded")
        }
        records.append(Record(id: id, namespace: namespace, kind: kind, until: until, createdAt: now))
        if kind == .skip {
            for covered in namespace.map({ [$0] }) ?? namespaces {
                skipTargets[id + "/" + covered] = transitions[covered]!.first { $0.at > now }?.at
            }
        }
        log.append("\(now.formatted(.iso8601)) override \(id) \(kind.rawValue) on \(namespace ?? "cluster") until \(until.map { $0.formatted(.iso8601) } ?? "-")")
        return id
    }

    mutating func close(_ id: String, because reason: String) {
        guard let index = records.firstIndex(where: { $0.id == id }), records[index].closedAt == nil else { return }
        records[index].closedAt = now
        records[index].closedBecause = reason
    }

    mutating func createOverride() {
        let kind = [ScheduleOverride.Kind.wake, .sleep, .skip].randomElement(using: &random)!
        let namespace = Bool.random(using: &random) ? nil : namespaces.randomElement(using: &random)
        let timed = kind != .skip && Bool.random(using: &random)
        let until = timed ? now.addingTimeInterval(Double(Int.random(in: 1...(30 * 60), using: &random)) * 60) : nil
        _ = place(kind, namespace: namespace, until: until)
    }

    mutating func clearOverride() {
        let open = records.filter { $0.closedAt == nil }
        guard let record = open.randomElement(using: &random) else { return }
        log.append("\(now.formatted(.iso8601)) clear \(record.id)")
        close(record.id, because: "cleared")
    }

    /// `sandman sleep|wake`: an override that keeps the result, and the operation done at once.
    mutating func manualOperation() {
        let action: Transition.Kind = Bool.random(using: &random) ? .sleep : .wake
        let target = Bool.random(using: &random) ? nil : namespaces.randomElement(using: &random)
        let covered = target.map { [$0] } ?? namespaces
        var until: Date?
        if Bool.random(using: &random) {
            until = now.addingTimeInterval(Double(Int.random(in: 1...(12 * 60), using: &random)) * 60)
        } else {
            let opposite: Transition.Kind = action == .sleep ? .wake : .sleep
            until = covered.compactMap { namespace in
                schedule[namespace]!.transitions(after: now, count: 4).first { $0.kind == opposite }?.at
            }.min()
        }
        _ = place(action == .sleep ? .sleep : .wake, namespace: target, until: until)
        for namespace in covered { asleep[namespace] = action == .sleep }
        log.append("\(now.formatted(.iso8601)) manual \(action.rawValue) of \(target ?? "cluster")")
    }

    /// The hub is down: time passes with no evaluation (and nobody can reach the API).
    mutating func outage() {
        let down = Double(Int.random(in: 1...(36 * 60), using: &random)) * 60
        log.append("\(now.formatted(.iso8601)) hub down for \(Int(down / 60)) min")
        now = now.addingTimeInterval(down)
    }

    /// Moves the clock, evaluating at every moment the planner asked to look again, as the agent does.
    mutating func advance(by interval: TimeInterval) -> Failure? {
        let end = now.addingTimeInterval(interval)
        while true {
            switch evaluate() {
            case .failure(let failure):
                return failure
            case .success(let next?) where next > now && next <= end:
                now = next
            case .success:
                now = end
                if case .failure(let failure) = evaluate() { return failure }
                return nil
            }
        }
    }

    // MARK: The system under test: the planner driven as the agent drives it

    func openOverrides(for namespace: String) -> [ScheduleOverride] {
        records.filter { $0.closedAt == nil && ($0.namespace == nil || $0.namespace == namespace) }.map { record in
            ScheduleOverride(
                id: record.id, kind: record.kind, scope: record.namespace == nil ? .cluster : .namespace,
                until: record.until, createdAt: record.createdAt
            )
        }
    }

    func planFor(_ namespace: String) -> NamespacePlan {
        SchedulePlanner.plan(PlanInput(
            schedule: schedule[namespace], memory: memory[namespace]!, managedSince: Self.start,
            overrides: openOverrides(for: namespace), isAsleep: asleep[namespace]!, now: now
        ))
    }

    /// Evaluates every namespace; returns the broken rule, or when to evaluate again.
    mutating func evaluate() -> Result<Date?, Failure> {
        var ended: Set<String> = []
        var nextCheck: Date?
        for namespace in namespaces {
            let plan = planFor(namespace)
            nextCheck = [nextCheck, plan.nextCheck].compactMap { $0 }.min()
            if let action = plan.action {
                if action == .sleep, !schedule[namespace]!.isAsleep(at: now), !plan.byOverride, reference(namespace) != .sleep {
                    return .failure(Failure("\(namespace) put to sleep at \(now.formatted(.iso8601)) in its awake window, by no override"))
                }
                asleep[namespace] = action == .sleep
                log.append("\(now.formatted(.iso8601)) \(namespace): \(action.rawValue) (\(plan.reason))")
            }
            memory[namespace] = plan.memory
            if Self.tracing {
                log.append("  \(now.formatted(.iso8601)) \(namespace) wants \(plan.memory.wants?.rawValue ?? "-") last \(plan.memory.lastTransition?.formatted(.iso8601) ?? "-") desired \(plan.desired?.rawValue ?? "-") open \(openOverrides(for: namespace).map(\.id))")
            }
            ended.formUnion(plan.ended)
            usedSkips[namespace, default: []].formUnion(plan.usedSkips)
        }
        for id in ended { close(id, because: "ended") }
        for record in records where record.kind == .skip && record.closedAt == nil {
            let users = record.namespace.map { [$0] } ?? namespaces
            if users.allSatisfy({ usedSkips[$0, default: []].contains(record.id) }) { close(record.id, because: "used") }
        }
        if let failure = check() { return .failure(Failure(failure)) }
        return .success(nextCheck)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: The reference: the rules of docs/operations.md, computed from the whole history

    /// What the rules say the namespace should be at `now`; nil when nothing has said anything.
    func reference(_ namespace: String) -> Transition.Kind? {
        let covering = records.filter { $0.namespace == nil || $0.namespace == namespace }
        func inForce(_ record: Record) -> Bool {
            record.kind != .skip && record.createdAt <= now && (record.until.map { now < $0 } ?? true)
                && (record.closedAt.map { now < $0 } ?? true)
        }
        // Rule 2: its own override, else its cluster's.
        for scopeIsNamespace in [true, false] {
            let candidates = covering.filter { ($0.namespace != nil) == scopeIsNamespace && inForce($0) }
            if let newest = candidates.max(by: { $0.createdAt < $1.createdAt }) {
                return newest.kind == .wake ? .wake : .sleep
            }
        }
        // Rule 3: the latest transition no skip swallowed (a skip open when it came swallows
        // the first transition after its creation).
        let schedule = self.schedule[namespace]!
        for transition in transitions[namespace]!.reversed() where transition.at <= now {
            let swallowed = covering.contains { skip in
                skip.kind == .skip && (skip.closedAt.map { $0 >= transition.at } ?? true)
                    && skipTargets[skip.id + "/" + namespace] == transition.at
            }
            if !swallowed { return transition.kind }
        }
        // Rule 4: the schedule speaks from a person's first wake or sleep override on, even
        // when none of its transitions came since: it says what it said then.
        let firstOverride = covering.filter { $0.kind != .skip && $0.createdAt <= now }.map(\.createdAt).min()
        return firstOverride.flatMap { schedule.latestTransition(atOrBefore: $0)?.kind }
    }

    func check() -> String? {
        for namespace in namespaces {
            let expected = reference(namespace)
            let actual: Transition.Kind = asleep[namespace]! ? .sleep : .wake
            if let expected, expected != actual {
                return "\(namespace) is \(actual == .sleep ? "asleep" : "awake") at \(now.formatted(.iso8601)); the rules say \(expected.rawValue)"
            }
            let open = records.filter { $0.closedAt == nil }
            if open.filter({ $0.namespace == namespace }).count > 1 { return "\(namespace) has several overrides of its own" }
            if open.filter({ $0.namespace == nil }).count > 1 { return "the cluster has several overrides" }
        }
        return nil
    }
}
