import Config
import Foundation
import JSON
import Kube
import Scheduling
import Sleep
import Store

/// One evaluation of every managed namespace: the people's operations first, in the order they
/// were asked for, then what the override model (docs/operations.md) says each namespace should be.
extension ClusterAgent {
    /// What evaluating one unit found, for the cluster-wide bookkeeping after all units ran.
    struct UnitResult: Sendable {
        var key: String
        var status: NamespaceStatus
        var nextCheck: Date?
        /// Wake and sleep overrides over by now, and skips whose transition came for this unit.
        var ended: [String] = []
        var usedSkips: [String] = []
        var scheduled = false
        /// An operation ran for the unit (a person's, or the plan's).
        var acted = false
    }

    /// Evaluates every managed namespace once; returns when the next evaluation is due.
    @discardableResult
    public func evaluate() async -> Date? {
        evaluations.lastEvaluated = 0
        guard health.ready, isSynced else {
            return clock.now.addingTimeInterval(settings.probeInterval)
        }
        if await !isOwnedHere() {
            statuses.removeAll()
            return nil
        }
        let now = clock.now
        let units = units()
        let work: (overrides: [OverrideRecord], operations: [OperationRecord])
        do {
            work = try await store.pendingWork(cluster: name)
        } catch {
            logger.error("cannot read overrides and operations", metadata: ["error": "\(error)"])
            return now.addingTimeInterval(settings.probeInterval)
        }
        await selfHealReconcile()
        let order = OperationOrder(work.operations)
        for (operation, newer) in order.superseded {
            await supersede(operation, by: newer, now: now)
        }
        // Between evaluations nothing runs: one still marked running was cut short (a crash).
        for operation in order.runnable where operation.state == .running {
            logger.notice("resuming an unfinished operation", metadata: [
                "operation": "\(operation.id)", "action": "\(operation.action)", "namespaces": "\(operation.namespaces)",
            ])
        }

        // One list of the state Secrets and, once several namespaces act, of each kind of object,
        // instead of reads per namespace.
        let secrets = units.count > 1 ? await executor.stateSecrets() : nil
        // Should this read fail, each unit reads its own (and reports the error).
        let stored = (try? await store.scheduleStates(cluster: name)) ?? []
        let states = Dictionary(stored.map { (ManagedUnit.key(namespace: $0.namespace, name: $0.unit), $0) }) { first, _ in first }
        let inputs = units.map { unit in
            UnitInputs(
                overrides: overrides(for: unit, among: work.overrides),
                operations: order.runnable.filter { $0.namespaces.isEmpty || $0.namespaces.contains(unit.namespace) },
                known: secrets.map { .listed($0["\(unit.namespace)/\(unit.target?.secretName ?? "")"]) }
                    .flatMap { Self.legacySecretMayExist(unit, $0) ? .unread : $0 } ?? .unread,
                state: states[unit.key]
            )
        }
        let ahead = await adviceAhead(Array(zip(units, inputs)), now: now)
        let objects = ClusterObjects(client: client, expectingMany: inputs.count { !$0.operations.isEmpty } > 1)
        // A window of units at a time, the next one started as soon as any finishes.
        var results = await withTaskGroup(of: UnitResult.self) { group in
            var results: [UnitResult] = []
            for (index, (unit, input)) in zip(units, inputs).enumerated() {
                if index >= settings.namespaceConcurrency, let result = await group.next() { results.append(result) }
                group.addTask {
                    await self.evaluate(
                        unit, overrides: input.overrides, operations: input.operations, known: input.known, state: input.state,
                        objects: objects, ahead: ahead[unit.key], now: now
                    )
                }
            }
            for await result in group { results.append(result) }
            return results
        }
        await annotateSelfHealProblems(&results)
        statuses = Dictionary(results.map { ($0.key, $0.status) }) { $1 }
        evaluations.lastEvaluated = units.count
        evaluations.lastWasQuiet = order.runnable.isEmpty && order.superseded.isEmpty && !results.contains(where: \.acted)
        for operation in order.runnable {
            await finish(operation, units: units)
        }
        await closeOverrides(work.overrides, results: results, now: now)
        return results.compactMap(\.nextCheck).min()
    }

    /// Closes the overrides that are over: wake and sleep overrides whose time is up, and skips
    /// whose transition came for every namespace they cover.
    func closeOverrides(_ overrides: [OverrideRecord], results: [UnitResult], now: Date) async {
        let ended = Set(results.flatMap(\.ended))
        for override in overrides {
            var reason: OverrideRecord.EndReason?
            if ended.contains(override.id) {
                reason = .ended
            } else if override.kind == .skip {
                let covered = results.filter { $0.scheduled && (override.namespace == nil || override.namespace == $0.status.namespace) }
                if !covered.isEmpty, covered.allSatisfy({ $0.usedSkips.contains(override.id) }) { reason = .used }
            }
            guard let reason else { continue }
            do {
                try await store.closeOverride(id: override.id, at: now, because: reason)
            } catch {
                logger.error("cannot close an override", metadata: ["override": "\(override.id)", "error": "\(error)"])
            }
        }
    }

    /// Runs the operations asked for one unit, then plans it; returns its status and when it
    /// next needs a look.
    /// `state`: the unit's schedule state as read for the whole evaluation (nil: read or create it).
    func evaluate(
        _ unit: ManagedUnit, overrides: [OverrideRecord], operations: [OperationRecord], known: UnitReads.Known, state: ScheduleState?,
        objects: ClusterObjects, ahead: (context: JSONValue, advice: PolicyAdvice)?, now: Date
    ) async -> UnitResult {
        var status = NamespaceStatus(unit: unit, now: now)
        var result = UnitResult(key: unit.key, status: status)
        guard let schedule = unit.schedule, let target = unit.target else {
            result.status.problem = unit.problem
            if let sleepInfo = unit.sleepInfo {
                await reportInvalid(sleepInfo, problem: unit.problem ?? "invalid")
                if unit.isBeingDeleted { return await releaseInvalid(unit, sleepInfo, known: known, objects: objects, result: result, now: now) }
            }
            return result
        }
        result.scheduled = true
        do {
            // A namespace is in the state it was last put into, objects or not.
            var reads = UnitReads(state: try await known.state(of: target, executor: executor), objects: objects)
            let contents = reads.state?.contents
            var asleep = contents?.operation == .sleep
            var sleptSince = asleep ? contents?.scheduledAt : nil
            if unit.isBeingDeleted {
                return try await release(unit, target: target, asleep: asleep, reads: reads, result: result, now: now)
            }
            if let sleepInfo = unit.sleepInfo { try await ensureFinalizer(sleepInfo) }

            // People's operations run first, in the order they were asked for: both directions
            // are idempotent, and a resumed one finishes what a crash left undone.
            for operation in operations {
                let outcome = try await run(
                    operation.action == "sleep" ? .sleep : .wake, unit: unit, target: target, now: now, operation: operation, reads: reads
                )
                reads.state = outcome.stateSecret
                if operation.action == "sleep", !asleep { sleptSince = now }
                asleep = operation.action == "sleep" || !outcome.failed.isEmpty
            }

            // Only evaluations write it, one unit at a time: the copy read at the start is current.
            let state = if let state { state } else {
                try await store.scheduleState(cluster: name, namespace: unit.namespace, unit: unit.name, now: now)
            }
            let (memory, plan) = schedulePlan(unit, schedule: schedule, state: state, overrides: overrides, asleep: asleep, now: now)
            if plan.memory != memory {
                try await store.remember(plan.memory, cluster: name, namespace: unit.namespace, unit: unit.name)
            }
            result.ended = plan.ended
            result.usedSkips = plan.usedSkips
            var recheck: Date?
            result.acted = !operations.isEmpty
            if !operations.isEmpty {
                // The operations did what was asked; what they leave is planned afresh at once.
                recheck = plan.action == nil ? nil : now
            } else if let action = plan.action {
                let outcome = try await act(
                    action, plan: plan, unit: unit, target: target, asleep: asleep, overrides: overrides, reads: reads, ahead: ahead,
                    status: &status, now: now
                )
                if let outcome, outcome.ran {
                    if outcome.asleep, !asleep { sleptSince = now }
                    asleep = outcome.asleep
                }
                recheck = outcome?.recheck
                result.acted = outcome?.ran ?? false
            } else {
                failures[unit.key] = nil
                heldBack[unit.key] = nil
                if asleep {
                    if plan.resleep { resleeps.insert(unit.key) }
                    let sweep = try await sweepForGrace(unit, target: target, reads: reads, now: now)
                    recheck = sweep.recheck
                    result.acted = sweep.acted
                }
            }
            if !asleep {
                graceEnds[unit.key] = nil
                graceSweeps[unit.key] = nil
                resleeps.remove(unit.key)
            }
            status.graceUntil = graceEnds[unit.key]

            status.asleep = asleep
            status.desired = plan.desired
            status.sleptSince = asleep ? sleptSince : nil
            status.override = plan.shown.flatMap { shown in overrides.first { $0.id == shown.id } }
            status.nextChange = status.heldBy == nil ? plan.nextChange : nil
            status.evaluatedAt = now
            if let sleepInfo = unit.sleepInfo {
                if isGitOpsManaged(unit) {
                    await mirrorFromGit(sleepInfo, namespace: unit.namespace, now: now)
                } else {
                    await mirror(status.override, on: sleepInfo, overrides: overrides, now: now)
                }
            }
            result.status = status
            result.nextCheck = [plan.nextCheck, recheck].compactMap { $0 }.min()
            return result
        } catch {
            logger.error("evaluation failed", metadata: ["namespace": "\(unit.namespace)", "unit": "\(unit.name)", "error": "\(error)"])
            status.problem = "\(error)"
            result.status = status
            result.nextCheck = now.addingTimeInterval(settings.probeInterval)
            return result
        }
    }

    /// What the schedule, the unit's memory of it and the overrides say the unit should be.
    func schedulePlan(
        _ unit: ManagedUnit, schedule: SleepSchedule, state: ScheduleState, overrides: [OverrideRecord], asleep: Bool, now: Date
    ) -> (memory: ScheduleMemory, plan: NamespacePlan) {
        var memory = state.memory(schedule: schedule)
        if memory.lastTransition == nil, let time = unit.sleepInfo?.lastScheduleTime {
            // A namespace kube-green (or another hub) ran: its last run counts as taken into account.
            memory = ScheduleMemory(lastTransition: time, wants: schedule.latestTransition(atOrBefore: time)?.kind)
        }
        let plan = SchedulePlanner.plan(PlanInput(
            schedule: schedule, memory: memory, managedSince: unit.sleepInfo?.metadata.creationTimestamp,
            overrides: overrides.map(\.scheduleOverride), isAsleep: asleep, now: now
        ))
        return (memory, plan)
    }

    /// The plugins' advice, asked in one batch, for every unit whose schedule moves it in this
    /// evaluation (no person's operation to run first, its state Secret and schedule memory
    /// read for all): `act` takes it when its question turns out the same, and asks otherwise.
    func adviceAhead(_ units: [(ManagedUnit, UnitInputs)], now: Date) async -> [String: (context: JSONValue, advice: PolicyAdvice)] {
        var asked: [(key: String, context: JSONValue, team: String?)] = []
        for (unit, input) in units where !unit.isBeingDeleted && input.operations.isEmpty {
            guard let schedule = unit.schedule, unit.target != nil, let state = input.state, case .listed(let secret) = input.known,
                  failures[unit.key].map({ $0.retryAt <= now }) ?? true, let known = try? StateSecret(secret)
            else { continue }
            let asleep = known.contents?.operation == .sleep
            let plan = schedulePlan(unit, schedule: schedule, state: state, overrides: input.overrides, asleep: asleep, now: now).plan
            guard let action = plan.action else { continue }
            if case .override = plan.cause { continue }
            let context = policyContext(unit, action: action, reason: plan.reason, asleep: asleep, overrides: input.overrides, now: now)
            asked.append((unit.key, context, unit.team?.name))
        }
        guard !asked.isEmpty else { return [:] }
        let advice = await policy.advise(asked.map { ($0.context, $0.team) })
        return Dictionary(zip(asked, advice).map { ($0.key, ($0.context, $1)) }) { first, _ in first }
    }

    /// What an evaluation read for a unit before evaluating it: its overrides, the operations
    /// people asked for it, its state Secret as listed, and its schedule memory (nil: not read).
    struct UnitInputs: Sendable {
        var overrides: [OverrideRecord]
        var operations: [OperationRecord]
        var known: UnitReads.Known
        var state: ScheduleState?
    }

    /// What acting on a plan left: the namespace's state, and when to look again.
    struct ActResult {
        var asleep: Bool
        var recheck: Date?
        /// Whether an operation ran (rather than being held back or waiting to be retried).
        var ran = false
    }

    /// Brings a unit to the state its plan decided, unless a plugin holds it back (schedule
    /// decisions only: an override was authorized when a person made it) or its last attempt
    /// failed recently. Returns nil when nothing ran.
    func act(
        _ planned: Transition.Kind, plan: NamespacePlan, unit: ManagedUnit, target: SleepExecutor.Target, asleep: Bool,
        overrides: [OverrideRecord], reads: UnitReads, ahead: (context: JSONValue, advice: PolicyAdvice)?,
        status: inout NamespaceStatus, now: Date
    ) async throws -> ActResult? {
        if let failure = failures[unit.key], failure.retryAt > now {
            status.problem = "the last \(planned.rawValue) failed; trying again at \(failure.retryAt.formatted(.iso8601))"
            return ActResult(asleep: asleep, recheck: failure.retryAt)
        }
        var action = planned
        var reason = plan.reason
        var actor = "schedule"
        var source = "schedule"
        var advice: PolicyAdvice?
        if case .override(let override) = plan.cause {
            source = "override"
            actor = overrides.first { $0.id == override.id }?.actor ?? "override"
        } else {
            let context = policyContext(unit, action: planned, reason: plan.reason, asleep: asleep, overrides: overrides, now: now)
            let given = if let ahead, ahead.context == context { ahead.advice } else { await policy.advise(context, team: unit.team?.name) }
            advice = given
            switch given.action {
            case .keep?: action = asleep ? .sleep : .wake
            case .sleep?: action = .sleep
            case .wake?: action = .wake
            case nil: break
            }
            if let plugin = given.plugin, given.action != nil {
                reason += "; plugin \(plugin): \(given.reason ?? given.action!.rawValue)"
                actor = "plugin:\(plugin)"
            }
            if (action == .sleep) == asleep {
                // Held back, not skipped: the plugins are asked again every `heldRecheckInterval`,
                // so a sleep kept at 19:00 by a 20:00 policy window happens just after 20:00.
                status.heldBy = given
                if heldBack[unit.key] != given.plugin {
                    heldBack[unit.key] = given.plugin ?? ""
                    logger.info("a plugin holds the namespace back", metadata: [
                        "namespace": "\(unit.namespace)", "plugin": "\(given.plugin ?? "")", "reason": "\(given.reason ?? "")",
                    ])
                }
                return ActResult(asleep: asleep, recheck: now.addingTimeInterval(settings.heldRecheckInterval))
            }
        }
        heldBack[unit.key] = nil
        var target = target
        if action == .sleep, let replicas = advice?.downtimeReplicas {
            target.spec.downtimeReplicas = replicas
            reason += "; keeping \(replicas) replicas"
        }
        let outcome = try? await run(action, unit: unit, target: target, source: source, actor: actor, reason: reason, now: now, reads: reads)
        graceEnds[unit.key] = action == .sleep ? outcome?.graceEnds : nil
        let failed = outcome.map { $0.state == .failed || ($0.failed.count > 0 && action == .wake) } ?? true
        if failed {
            let retryAt = recordFailure(of: unit.key, now: now)
            return ActResult(asleep: outcome.map { action == .sleep || !$0.failed.isEmpty } ?? asleep, recheck: retryAt, ran: true)
        }
        failures[unit.key] = nil
        let sweeps = action == .sleep && target.spec.gracePeriod > 0
        graceSweeps[unit.key] = sweeps ? now.addingTimeInterval(settings.graceSweepInterval) : nil
        let recheck = [graceEnds[unit.key], graceSweeps[unit.key]].compactMap { $0 }.min()
        return ActResult(asleep: action == .sleep, recheck: recheck, ran: true)
    }

    /// A unit's action failed again: it is not tried before the returned time (1 minute after the
    /// first failure, doubling, at most 30).
    @discardableResult
    func recordFailure(of key: String, now: Date) -> Date {
        let count = (failures[key]?.count ?? 0) + 1
        let retryAt = now.addingTimeInterval(min(60 * pow(2, Double(count - 1)), 1800))
        failures[key] = (count, retryAt)
        return retryAt
    }

    /// An asleep unit with a grace period, looked at every `graceSweepInterval` and when a grace
    /// period ends: workloads started or changed since the sleep (someone deploying at night) are
    /// put to sleep once their grace period is over, in an operation of their own; nothing is
    /// written when there are none. Returns when to look again.
    func sweepForGrace(
        _ unit: ManagedUnit, target: SleepExecutor.Target, reads: UnitReads, now: Date
    ) async throws -> (recheck: Date?, acted: Bool) {
        // The sleepAt of a schedule without wakeUpAt asks for a sweep too, until one went through.
        let resleep = resleeps.contains(unit.key)
        guard target.spec.gracePeriod > 0 || resleep else {
            graceEnds[unit.key] = nil
            graceSweeps[unit.key] = nil
            return (nil, false)
        }
        if let failure = failures[unit.key], failure.retryAt > now { return (failure.retryAt, false) }
        let due = resleep ? now : [graceEnds[unit.key], graceSweeps[unit.key]].compactMap { $0 }.min() ?? now
        guard due <= now else { return (due, false) }
        var target = target
        let contents = reads.state?.contents
        if let contents, contents.operation == .sleep {
            // The same sleep as the one that started it (a plugin may have made it partial).
            target.spec.downtimeReplicas = contents.downtimeReplicas
        }
        // What the sleep covered counts only if someone changed it since (not an autoscaler); at a
        // sleepAt, everything awake counts, as in any sleep.
        let plan = try await executor.planSleep(
            target, state: reads.state, clusterObjects: reads.objects, graceFrom: now, changedSince: resleep ? nil : contents?.scheduledAt
        )
        var ends = plan.graceEnds
        var failed = false
        if !plan.changes.isEmpty {
            let reason = resleep ? "sleepAt of a schedule without wakeUpAt: workloads started or changed while asleep"
                : "grace period over: workloads started or changed while asleep"
            let outcome = try await run(.sleep, unit: unit, target: target, source: "schedule", actor: "schedule", reason: reason, now: now, reads: reads)
            ends = outcome.graceEnds
            if outcome.failed.isEmpty {
                failures[unit.key] = nil
            } else {
                recordFailure(of: unit.key, now: now)  // not again every minute
                failed = true
            }
        }
        if !failed { resleeps.remove(unit.key) }
        guard target.spec.gracePeriod > 0 else { return (failed ? failures[unit.key]?.retryAt : nil, !plan.changes.isEmpty) }
        graceEnds[unit.key] = ends
        let sweep = now.addingTimeInterval(settings.graceSweepInterval)
        graceSweeps[unit.key] = sweep
        return (min(ends ?? sweep, sweep), !plan.changes.isEmpty)
    }

    /// A SleepInfo that cannot be acted on, being deleted: woken and released all the same when only
    /// its schedule is bad, or it would stay Terminating for ever. With patches that cannot be read,
    /// which objects are asleep cannot be told: it is kept (its restore Secret with it), saying so.
    func releaseInvalid(
        _ unit: ManagedUnit, _ sleepInfo: SleepInfo, known: UnitReads.Known, objects: ClusterObjects, result: UnitResult, now: Date
    ) async -> UnitResult {
        guard let spec = try? SleepSpec(sleepInfo: sleepInfo) else {
            var result = result
            result.status.problem = "\(unit.problem ?? "invalid"); being deleted, it is kept until its patches are mended "
                + "(then the namespace is woken), or until its finalizer \(Self.finalizer) is removed by hand (left asleep)"
            return result
        }
        let target = SleepExecutor.Target(namespace: unit.namespace, name: unit.name, spec: spec, sleepInfo: sleepInfo.object)
        do {
            let reads = UnitReads(state: try await known.state(of: target, executor: executor), objects: objects)
            let asleep = reads.state?.contents?.operation == .sleep
            return try await release(unit, target: target, asleep: asleep, reads: reads, result: result, now: now)
        } catch {
            logger.error("cannot release a SleepInfo being deleted", metadata: ["namespace": "\(unit.namespace)", "unit": "\(unit.name)", "error": "\(error)"])
            var result = result
            result.status.problem = "\(unit.problem ?? "invalid"); being deleted: \(error)"
            result.nextCheck = now.addingTimeInterval(settings.probeInterval)
            return result
        }
    }

    /// A SleepInfo being deleted: its namespace is woken, then its finalizer released.
    func release(
        _ unit: ManagedUnit, target: SleepExecutor.Target, asleep: Bool, reads: UnitReads, result: UnitResult, now: Date
    ) async throws -> UnitResult {
        var result = result
        if asleep, case let outcome = try await run(
            .wake, unit: unit, target: target, source: "schedule", actor: "finalizer", reason: "SleepInfo deleted while asleep", now: now,
            reads: reads
        ), !outcome.failed.isEmpty {
            // The restore Secret is owned by the SleepInfo: releasing it now would let the
            // garbage collector take the restore data of the objects still asleep.
            result.status.problem = "SleepInfo being deleted: \(outcome.failed.count) object(s) could not be woken yet; it is kept until they are"
            result.nextCheck = now.addingTimeInterval(settings.probeInterval)
            return result
        }
        try await releaseFinalizer(unit)
        return result
    }

    func policyContext(_ unit: ManagedUnit, action: Transition.Kind, reason: String, asleep: Bool, overrides: [OverrideRecord], now: Date) -> JSONValue {
        [
            "cluster": .string(name), "tier": .string(configuration.tier.rawValue), "namespace": .string(unit.namespace),
            "team": unit.team.map { .string($0.name) } ?? .null, "now": .int(Int64(now.timeIntervalSince1970)),
            "action": .string(action.rawValue), "reason": .string(reason), "asleep": .bool(asleep),
            "schedule": unit.scheduleDescription,
            "overrides": .array(overrides.map { ["kind": .string($0.kind.rawValue), "until": $0.until.map { .int(Int64($0.timeIntervalSince1970)) } ?? .null, "actor": .string($0.actor)] }),
        ]
    }
}

extension ClusterAgent {
    /// kube-green before 0.6 wrote its Secret without the label the cluster-wide list selects by:
    /// not listed, it may still be there when the SleepInfo's status says kube-green put it to sleep.
    static func legacySecretMayExist(_ unit: ManagedUnit, _ known: UnitReads.Known) -> Bool {
        guard case .listed(nil) = known else { return false }
        return unit.sleepInfo?.object[path: ["status", "operation"]] == "SLEEP"
    }
}

/// What an evaluation read for a unit already, handed to the operations it runs so that they
/// do not read it again.
struct UnitReads: Sendable {
    /// The unit's state Secret as last read or written; nil: read it.
    var state: StateSecret?
    let objects: ClusterObjects

    /// The state Secret as the evaluation found it: in the cluster-wide list, or to be read.
    enum Known: Sendable {
        case listed(Secret?)
        case unread

        func state(of target: SleepExecutor.Target, executor: SleepExecutor) async throws -> StateSecret {
            switch self {
            case .listed(let secret): try StateSecret(secret)
            case .unread: try await executor.stateSecret(of: target)
            }
        }
    }
}
