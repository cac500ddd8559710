import Foundation
import JSON
import Scheduling
import Sleep
import Store
import Synchronization

/// Sleeps and wakes as operations: recorded, executed, audited, announced; people's operations
/// taken up in the order they were asked for.
extension ClusterAgent {
    /// Runs the schedule's (or an override's) sleep or wake of one unit as an operation of its own.
    @discardableResult
    func run(
        _ action: Transition.Kind, unit: ManagedUnit, target: SleepExecutor.Target, source: String, actor: String,
        reason: String, now: Date, reads: UnitReads? = nil
    ) async throws -> SleepExecutor.Outcome {
        let operation = OperationRecord(cluster: name, namespaces: [unit.namespace], action: action.rawValue, source: source, actor: actor, reason: reason, createdAt: now)
        try await store.save(operation)
        let outcome = try await run(action, unit: unit, target: target, now: now, operation: operation, reads: reads)
        await finish(operation, units: [unit])
        return outcome
    }

    /// Runs one unit's part of `operation` (saved already): its result goes into the operation's
    /// summary by namespace and unit, so that a resumed run replaces rather than repeats it.
    @discardableResult
    func run(
        _ action: Transition.Kind, unit: ManagedUnit, target: SleepExecutor.Target, now: Date, operation: OperationRecord,
        reads: UnitReads? = nil
    ) async throws -> SleepExecutor.Outcome {
        var operation = operation
        if operation.state == .pending {
            try await store.markRunning(id: operation.id)
            operation.state = .running
        }
        await events.operationStarted(operation, cluster: configuration, unit: unit.namespace)
        let started = ContinuousClock.now
        let timeZone = unit.scheduleDescription["timeZone"]?.string
        let outcome: SleepExecutor.Outcome
        do {
            let conflicting = action == .sleep ? await selfHealBeforeSleep(target, operation: operation) : []
            let (state, objects) = (reads?.state, reads?.objects)
            // The grace period is the schedule's: a person asking for a sleep gets it at once.
            let graceFrom = operation.source == "schedule" ? now : nil
            outcome = action == .sleep
                ? try await executor.sleep(
                    target, operation: operation, scheduledAt: now, state: state, clusterObjects: objects, graceFrom: graceFrom
                )
                : try await executor.wake(target, operation: operation, scheduledAt: now, state: state, clusterObjects: objects)
            await selfHealAfter(action, target, operation: operation, conflicting: conflicting)
        } catch {
            operation = try await record(["error": .string("\(error)")], of: unit, in: operation)
            operation.state = .failed
            await events.operationFinished(operation, cluster: configuration, namespace: unit.namespace, timeZone: timeZone, result: .failed("\(error)"), duration: ContinuousClock.now - started)
            throw error
        }
        var summary = outcome.summary
        summary["namespace"] = .string(unit.namespace)
        summary["unit"] = .string(unit.name)
        if action == .sleep {
            summary["hourlySavings"] = .double(outcome.releasedCPU * prices.cpuHour + outcome.releasedMemory / 1_073_741_824 * prices.memoryGiBHour)
        }
        operation = try await record(summary, of: unit, in: operation)
        operation.state = outcome.state
        try await store.record(AuditEntry(
            at: clock.now, actor: operation.actor, source: operation.source, action: action.rawValue, cluster: name,
            namespace: unit.namespace, target: unit.name, result: outcome.state.rawValue, detail: operation.reason ?? ""
        ))
        await events.operationFinished(operation, cluster: configuration, namespace: unit.namespace, timeZone: timeZone, result: .ran(outcome), duration: ContinuousClock.now - started)
        logger.info(action == .sleep ? "namespace asleep" : "namespace awake", metadata: [
            "namespace": "\(unit.namespace)", "unit": "\(unit.name)", "operation": "\(operation.id)", "done": "\(outcome.done.count)",
            "skipped": "\(outcome.skipped.count)", "failed": "\(outcome.failed.count)", "reason": "\(operation.reason ?? "")",
        ])
        return outcome
    }

    /// Adds one unit's part to the operation's summary. The parts are written together, a second
    /// apart at most (and when the operation finishes): each write reads and rewrites the whole
    /// summary, and one write a unit made a sleep of 1,000 namespaces quadratic (24 s of CPU).
    private func record(_ part: JSONValue, of unit: ManagedUnit, in operation: OperationRecord) async throws -> OperationRecord {
        unwrittenParts[operation.id, default: []].append(.init(namespace: unit.namespace, unit: unit.name, summary: part))
        let now = ContinuousClock.now
        if let last = partsWritten[operation.id], now - last < .seconds(1) { return operation }
        partsWritten[operation.id] = now
        return try await writeParts(of: operation.id) { _ in } ?? operation
    }

    /// Writes the parts not written yet into the operation's summary, with `change` in the same
    /// transaction; they stay to be written again should it fail.
    private func writeParts(
        of id: String, _ change: @escaping @Sendable (inout OperationRecord) -> Void
    ) async throws -> OperationRecord? {
        let parts = unwrittenParts.removeValue(forKey: id) ?? []
        do {
            return try await store.updateOperation(id: id) { stored in
                if !parts.isEmpty { stored.summary = OperationSummary.adding(parts, to: stored.summary).serialized() }
                change(&stored)
            }
        } catch {
            unwrittenParts[id, default: []].insert(contentsOf: parts, at: 0)
            throw error
        }
    }

    /// Marks an operation finished once every unit it covers ran. A request that failed keeps no
    /// override in force: it never took effect (the overrides of the namespaces that failed, or all).
    func finish(_ operation: OperationRecord, units: [ManagedUnit]) async {
        do {
            let matched = units.contains { operation.namespaces.isEmpty || operation.namespaces.contains($0.namespace) }
            let now = clock.now
            // In one transaction: the GitOps coordinator adds stages to the same record meanwhile.
            let finishedHere = Mutex(false)
            partsWritten[operation.id] = nil
            guard let stored = try await writeParts(of: operation.id, { stored in
                guard !stored.state.isFinished else { return }
                finishedHere.withLock { $0 = true }
                if matched {
                    stored.state = stored.summary.flatMap { try? JSONValue(parsing: $0) }.map(OperationSummary.state) ?? .succeeded
                } else {
                    stored.summary = JSONValue.object(["error": "no managed namespace matched"]).serialized()
                    stored.state = .failed
                }
                stored.finishedAt = now
            }), finishedHere.withLock({ $0 }) else { return }
            let summary = stored.summary.flatMap { try? JSONValue(parsing: $0) }
            await events.operationCompleted(stored, cluster: configuration)
            let failedParts = summary.map(OperationSummary.parts)?.filter { OperationSummary.state(of: $0.value) == .failed }.map(\.key) ?? []
            guard stored.state == .failed || !failedParts.isEmpty else { return }
            let closed = try await store.closeOverrides(
                ofOperation: stored.id, namespaces: stored.state == .failed ? nil : failedParts, at: clock.now, because: .failed
            )
            for override in closed {
                try await store.record(AuditEntry(
                    at: clock.now, actor: override.actor, source: stored.source, action: "override-\(override.kind.rawValue)",
                    cluster: name, namespace: override.namespace, target: override.id, result: "failed",
                    detail: "closed: operation \(stored.id) failed"
                ))
            }
        } catch {
            logger.error("cannot finish an operation", metadata: ["operation": "\(operation.id)", "error": "\(error)"])
        }
    }

    /// An operation a newer request the other way covered before it ran: it never will.
    func supersede(_ operation: OperationRecord, by newer: OperationRecord, now: Date) async {
        do {
            let superseded = try await store.updateOperation(id: operation.id) { stored in
                stored.state = .superseded
                stored.finishedAt = now
                stored.summary = JSONValue.object(["supersededBy": .string(newer.id)]).serialized()
            }
            if let superseded { await events.operationCompleted(superseded, cluster: configuration) }
            try await store.record(AuditEntry(
                at: now, actor: operation.actor, source: operation.source, action: operation.action, cluster: name,
                namespace: operation.namespaces.isEmpty ? nil : operation.namespaces.joined(separator: ","), target: operation.id,
                result: "superseded", detail: "by \(newer.action) \(newer.id) of \(newer.actor)"
            ))
            logger.notice("operation superseded", metadata: ["operation": "\(operation.id)", "by": "\(newer.id)"])
        } catch {
            logger.error("cannot supersede an operation", metadata: ["operation": "\(operation.id)", "error": "\(error)"])
        }
    }
}

/// The order in which a cluster's unfinished operations run: as they were asked for, except
/// that one a newer request the other way covers entirely (every namespace of it) never runs.
struct OperationOrder {
    var runnable: [OperationRecord] = []
    var superseded: [(OperationRecord, by: OperationRecord)] = []

    /// `operations`: unfinished, oldest first.
    init(_ operations: [OperationRecord]) {
        for (index, operation) in operations.enumerated() {
            let newer = operations[(index + 1)...].first { later in
                later.action != operation.action && Self.covers(later.namespaces, operation.namespaces)
            }
            if let newer { superseded.append((operation, newer)) } else { runnable.append(operation) }
        }
    }

    /// Whether namespaces `outer` (empty: a whole cluster) include all of `inner`.
    static func covers(_ outer: [String], _ inner: [String]) -> Bool {
        outer.isEmpty || (!inner.isEmpty && Set(inner).isSubset(of: outer))
    }
}
