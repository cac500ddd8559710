import Config
import Foundation
import JSON
import Kube
import Logging
import Scheduling
import Sleep
import Store

/// The sleep agent of one cluster, in the hub process: it probes the cluster's health, watches
/// its namespaces and SleepInfos, and puts each managed namespace to sleep or wakes it when
/// its schedule, an override or a person says so, catching up what was missed while the hub
/// was down. One agent never waits on another cluster.
public actor ClusterAgent {
    public struct Settings: Sendable {
        public var probeInterval: TimeInterval = 10
        /// Failures must last this long before the cluster counts as not ready.
        public var failureThreshold: TimeInterval = 30
        public var resyncInterval: TimeInterval = 300
        /// How often a transition a plugin holds back is put to the plugins again.
        public var heldRecheckInterval: TimeInterval = 60
        /// Objects patched at once in this cluster, across the namespaces being worked on.
        public var concurrency = 16
        /// Namespaces evaluated in parallel.
        public var namespaceConcurrency = 4

        public init() {}
    }

    public let configuration: ClusterConfiguration
    public let settings: Settings
    let client: KubeClient
    let executor: SleepExecutor
    let store: Store
    let clock: any HubClock
    let policy: any PolicyAdvisor
    let events: any HubEventSink
    let prices: HubConfiguration.Prices
    let logger: Logger
    /// With several hub replicas: this agent acts only while it holds its cluster's Lease.
    let elector: LeaderElector?

    public private(set) var health = ClusterHealth()
    private var namespaces: Set<String> = []
    private var sleepInfos: [String: SleepInfo] = [:]
    private var synced: (namespaces: Bool, sleepInfos: Bool) = (false, false)
    private var statuses: [String: NamespaceStatus] = [:]
    /// Units whose due transition a plugin holds back, with that transition: logged once each.
    private var heldBack: [String: Date?] = [:]
    private var healthAnnounced = false
    private let trigger: AsyncStream<Void>.Continuation
    private let triggers: AsyncStream<Void>
    private var manual: [ManualRequest] = []
    private var resumed = false

    struct ManualRequest: Sendable {
        var operation: OperationRecord
        var action: Transition.Kind
        /// The overrides that keep the operation's result, stored when the operation is taken up.
        var overrides: [OverrideRecord] = []
    }

    public init(configuration: ClusterConfiguration, client: KubeClient, store: Store, clock: any HubClock, policy: any PolicyAdvisor, events: any HubEventSink, prices: HubConfiguration.Prices, settings: Settings = .init(), elector: LeaderElector? = nil, logger: Logger) {
        self.elector = elector
        self.configuration = configuration
        self.settings = settings
        self.client = client
        self.store = store
        self.clock = clock
        self.policy = policy
        self.events = events
        self.prices = prices
        var logger = logger
        logger[metadataKey: "cluster"] = "\(configuration.name)"
        self.logger = logger
        self.executor = SleepExecutor(cluster: configuration.name, client: client, store: store, concurrency: settings.concurrency, now: { clock.now }, logger: logger)
        (triggers, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var name: String { configuration.name }

    /// Runs until cancelled: health probes, watches and the evaluation loop.
    public func run() async {
        logger.info("agent starting", metadata: ["server": "\(client.access.cluster.server)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.probeLoop() }
            group.addTask { await self.watchNamespaces() }
            group.addTask { await self.watchSleepInfos() }
            if let elector {
                group.addTask {
                    await elector.run {
                        // Leading: evaluate at once, then until leadership is lost (this task is cancelled).
                        await self.wake()
                        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                    }
                }
            }
            await evaluationLoop()
            group.cancelAll()
        }
        logger.info("agent stopped")
    }

    /// Lets the evaluation under way finish, then stops (graceful shutdown).
    public func finishCurrentWork() {
        trigger.finish()
    }

    /// Asks for an evaluation now (an override or a manual operation changed something).
    public func wake() {
        trigger.yield()
    }

    /// Queues a sleep or wake requested by a person; it runs at the next evaluation, at once.
    /// Queues a person's operation, with the overrides that keep its result afterwards. They
    /// are stored when an evaluation takes the operation up, never before: an evaluation that
    /// saw them first would act on them as on a schedule change, and the operation would find
    /// its work done by someone else.
    public func submit(_ operation: OperationRecord, action: Transition.Kind, overrides: [OverrideRecord] = []) {
        manual.append(ManualRequest(operation: operation, action: action, overrides: overrides))
        trigger.yield()
    }

    // MARK: Health

    private func probeLoop() async {
        while !Task.isCancelled {
            await probe()
            try? await Task.sleep(for: .milliseconds(Int64(settings.probeInterval * 1000)))
        }
    }

    /// One health check: `/readyz` (or `/healthz`) and `/version`.
    public func probe() async {
        let result = await client.probe()
        let wasReady = health.ready
        if let failure = result.failure {
            health.recordFailure(at: Date(), error: failure, answered: result.answered, threshold: settings.failureThreshold)
        } else {
            health.recordSuccess(at: Date(), version: result.version, latency: result.latency)
        }
        // The first verdict is announced too, so that a cluster down from the start is reported.
        if wasReady != health.ready || !healthAnnounced {
            healthAnnounced = true
            logger.notice(health.ready ? "cluster ready" : "cluster not ready", metadata: ["error": "\(health.lastError ?? "")"])
            await events.clusterHealthChanged(cluster: name, tier: configuration.tier, health: health)
            if health.ready { trigger.yield() }
        }
    }

    // MARK: Watches

    private func watchNamespaces() async {
        while !Task.isCancelled {
            do {
                // Synced only once the whole list is in: an evaluation over some of the namespaces
                // would find the others' requested operations matching nothing.
                let initial = try await client.list(Namespace.self)
                namespaces = Set(initial.map(\.name))
                synced.namespaces = true
                trigger.yield()
                for try await event in client.watch(Namespace.self) {
                    // Only the set of names matters: a namespace's other changes need no evaluation.
                    let changed = switch event {
                    case .added(let namespace), .modified(let namespace): namespaces.insert(namespace.name).inserted
                    case .deleted(let namespace): namespaces.remove(namespace.name) != nil
                    }
                    if changed { trigger.yield() }
                }
            } catch {
                logger.debug("namespace watch ended", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }

    private func watchSleepInfos() async {
        while !Task.isCancelled {
            do {
                synced.sleepInfos = false
                // The watch starts with a list; an empty cluster would otherwise never say it is synced.
                let initial = try await client.list(SleepInfo.self)
                sleepInfos = Dictionary(initial.map { ("\($0.namespace ?? "")/\($0.name)", $0) }) { $1 }
                synced.sleepInfos = true
                trigger.yield()
                for try await event in client.watch(SleepInfo.self) {
                    let info = event.object
                    let key = "\(info.namespace ?? "")/\(info.name)"
                    switch event {
                    case .added, .modified: sleepInfos[key] = info
                    case .deleted: sleepInfos[key] = nil
                    }
                    trigger.yield()
                }
            } catch let error as KubeError where error.isNotFound {
                // No SleepInfo CRD in this cluster: hub schedules only.
                synced.sleepInfos = true
                trigger.yield()
                try? await Task.sleep(for: .seconds(60))
            } catch {
                logger.debug("SleepInfo watch ended", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(2))
        }
    }

    // MARK: Evaluation

    private func evaluationLoop() async {
        trigger.yield()
        for await _ in triggers {
            let next = await evaluate()
            let resync = clock.now.addingTimeInterval(settings.resyncInterval)
            scheduleEvaluation(at: min(next ?? resync, resync))
        }
        timer?.cancel()
    }

    private var timer: Task<Void, Never>?

    /// Wakes the evaluation loop at `deadline` (hub time), replacing the previous alarm.
    private func scheduleEvaluation(at deadline: Date) {
        timer?.cancel()
        let clock = self.clock
        let trigger = self.trigger
        timer = Task {
            try? await clock.sleep(until: deadline)
            if !Task.isCancelled { trigger.yield() }
        }
    }

    /// Evaluates every managed namespace once; returns when the next evaluation is due.
    @discardableResult
    public func evaluate() async -> Date? {
        guard health.ready, synced.namespaces, synced.sleepInfos else {
            return clock.now.addingTimeInterval(settings.probeInterval)
        }
        if let elector, await !elector.isLeader {
            statuses.removeAll()
            return nil
        }
        let now = clock.now
        let units = ManagedUnit.units(namespaces: Array(namespaces), sleepInfos: Array(sleepInfos.values), configuration: configuration)
        let overrides: [OverrideRecord]
        do {
            overrides = try await store.openOverrides(cluster: name)
        } catch {
            logger.error("cannot read overrides", metadata: ["error": "\(error)"])
            return now.addingTimeInterval(settings.probeInterval)
        }
        var requests = manual
        manual.removeAll()
        requests = requests.reduce(into: []) { unique, request in
            if !unique.contains(where: { $0.operation.id == request.operation.id }) { unique.append(request) }
        }
        for override in requests.flatMap(\.overrides) {
            do {
                try await store.save(override)
            } catch {
                logger.error("cannot store an override", metadata: ["operation": "\(override.id)", "error": "\(error)"])
            }
        }
        if !resumed {
            // Operations a previous run left unfinished (the hub stopped midway) run again:
            // sleeping and waking are idempotent, and the journal knows what was already done.
            var unfinished: [OperationRecord] = []
            do {
                unfinished = try await store.unfinishedOperations(cluster: name)
                resumed = true
            } catch {
                logger.error("cannot read unfinished operations; trying again at the next evaluation", metadata: ["error": "\(error)"])
            }
            for operation in unfinished where !requests.contains(where: { $0.operation.id == operation.id }) {
                logger.notice("resuming an unfinished operation", metadata: ["operation": "\(operation.id)", "action": "\(operation.action)", "namespaces": "\(operation.namespaces)"])
                requests.append(ManualRequest(operation: operation, action: operation.action == "sleep" ? .sleep : .wake))
            }
        }
        var earliest: Date?
        var seen = Set<String>()
        for batch in units.chunked(into: settings.namespaceConcurrency) {
            let results = await withTaskGroup(of: (String, NamespaceStatus, Date?).self) { group in
                for unit in batch {
                    let unitOverrides = overrides.filter { $0.namespace == nil || $0.namespace == unit.namespace }
                    let unitRequests = requests.filter { $0.operation.namespaces.isEmpty || $0.operation.namespaces.contains(unit.namespace) }
                    group.addTask { await self.evaluate(unit, overrides: unitOverrides, requests: unitRequests, now: now) }
                }
                var results: [(String, NamespaceStatus, Date?)] = []
                for await result in group { results.append(result) }
                return results
            }
            for (key, status, next) in results {
                statuses[key] = status
                seen.insert(key)
                if let next { earliest = min(earliest ?? next, next) }
            }
        }
        for key in statuses.keys where !seen.contains(key) { statuses[key] = nil }
        for request in requests {
            await finishManual(request, units: units)
        }
        return earliest
    }

    /// Plans and runs one unit; returns its status and when it next needs a look.
    private func evaluate(_ unit: ManagedUnit, overrides: [OverrideRecord], requests: [ManualRequest], now: Date) async -> (String, NamespaceStatus, Date?) {
        var status = NamespaceStatus(unit: unit, now: now)
        guard let schedule = unit.schedule, let target = unit.target else {
            status.problem = unit.problem
            if let sleepInfo = unit.sleepInfo {
                await reportInvalid(sleepInfo, problem: unit.problem ?? "invalid")
            }
            return (unit.key, status, nil)
        }
        logger.debug("evaluating", metadata: ["namespace": "\(unit.namespace)", "unit": "\(unit.name)", "requests": "\(requests.count)"])
        do {
            let contents = try await executor.state(of: target)
            var asleep = contents?.operation == .sleep && !(contents?.restore.isEmpty ?? true)
            let state = try await store.scheduleState(cluster: name, namespace: unit.namespace, unit: unit.name, now: now)

            if unit.isBeingDeleted {
                if asleep, let outcome = try await run(.wake, unit: unit, target: target, source: "schedule", actor: "finalizer", reason: "SleepInfo deleted while asleep", now: now), !outcome.failed.isEmpty {
                    // The restore Secret is owned by the SleepInfo: releasing it now would let
                    // the garbage collector take the restore data of the objects still asleep.
                    status.problem = "SleepInfo being deleted: \(outcome.failed.count) object(s) could not be woken yet; it is kept until they are"
                    return (unit.key, status, now.addingTimeInterval(settings.probeInterval))
                }
                try await releaseFinalizer(unit)
                return (unit.key, status, nil)
            }
            if let sleepInfo = unit.sleepInfo { try await ensureFinalizer(sleepInfo) }

            // Requested (or resumed) operations always run: both directions are idempotent, and a
            // resumed sleep must finish the objects a crash left awake.
            var requested = false
            for request in requests {
                // An operation never runs again once it has finished.
                if let stored = try await store.operation(id: request.operation.id), stored.finishedAt != nil { continue }
                let outcome = try await run(request.action, unit: unit, target: target, source: request.operation.source, actor: request.operation.actor, reason: request.operation.reason ?? "requested", now: now, operation: request.operation)
                if outcome != nil { asleep = request.action == .sleep }
                requested = true
            }

            let lastExecuted = [state.lastExecutedAt, unit.sleepInfo?.lastScheduleTime].compactMap { $0 }.max()
            // A new SleepInfo does not act on transitions from before it existed (as kube-green);
            // a hub schedule is the hub's own declaration and is caught up from the start.
            let managedSince = unit.sleepInfo?.metadata.creationTimestamp
            let plan = SchedulePlanner.plan(PlanInput(
                schedule: schedule, memory: ScheduleMemory(lastTransition: lastExecuted), managedSince: managedSince,
                overrides: overrides.map(\.scheduleOverride), isAsleep: asleep, now: now
            ))
            var held = false
            // After a person's operation the overrides this evaluation read are older than it
            // (its own were stored after they were read): the plan acts at the next one.
            if requested, plan.action != nil {
                held = true
            } else if var action = plan.action {
                // Policies shape schedules; an override in force was authorized when a person made it.
                let advice = plan.byOverride ? .noOpinion : await policy.advise(policyContext(unit, action: action, reason: plan.reason, asleep: asleep, overrides: overrides, now: now), team: unit.team?.name)
                switch advice.action {
                case .keep?: action = asleep ? .sleep : .wake
                case .sleep?: action = .sleep
                case .wake?: action = .wake
                case nil: break
                }
                if (action == .sleep) != asleep {
                    let reason = advice.action == nil ? plan.reason : "\(plan.reason); plugin \(advice.plugin ?? "?"): \(advice.reason ?? advice.action!.rawValue)"
                    let outcome = try await run(action, unit: unit, target: target, source: "schedule", actor: advice.plugin.map { "plugin:\($0)" } ?? "schedule", reason: reason, now: now)
                    if outcome != nil { asleep = action == .sleep }
                } else if advice.action == .keep {
                    // Held back, not skipped: the transition stays due and the plugins are asked
                    // again every `heldRecheckInterval`, so a sleep kept at 19:00 by a 20:00
                    // policy window happens just after 20:00, not a day later.
                    held = true
                    status.heldBy = advice
                    if heldBack[unit.key] != plan.memory.lastTransition {
                        heldBack[unit.key] = plan.memory.lastTransition
                        logger.info("a plugin holds the transition back", metadata: ["namespace": "\(unit.namespace)", "plugin": "\(advice.plugin ?? "")", "reason": "\(advice.reason ?? "")"])
                    }
                }
            }
            if !held { heldBack[unit.key] = nil }
            if let executed = plan.memory.lastTransition, !held {
                try await store.recordExecuted(cluster: name, namespace: unit.namespace, unit: unit.name, at: executed)
            }
            for id in plan.ended + plan.usedSkips {
                try await store.clearOverride(id: id, at: now)
            }
            status.asleep = asleep
            status.nextTransition = schedule.transitions(after: now, count: 1).first
            status.override = overrides.first { $0.until.map { $0 > now } ?? true && !(plan.ended + plan.usedSkips).contains($0.id) }
            if let sleepInfo = unit.sleepInfo {
                await mirror(status.override, on: sleepInfo, now: now)
            }
            status.sleptSince = asleep ? contents?.scheduledAt : nil
            let recheck = requested ? now : (held ? now.addingTimeInterval(settings.heldRecheckInterval) : nil)
            return (unit.key, status, [plan.nextCheck, recheck].compactMap { $0 }.min())
        } catch {
            logger.error("evaluation failed", metadata: ["namespace": "\(unit.namespace)", "unit": "\(unit.name)", "error": "\(error)"])
            status.problem = "\(error)"
            return (unit.key, status, now.addingTimeInterval(settings.probeInterval))
        }
    }

    /// Runs a sleep or wake as an operation: recorded, executed, audited, announced.
    @discardableResult
    private func run(_ action: Transition.Kind, unit: ManagedUnit, target: SleepExecutor.Target, source: String, actor: String, reason: String, now: Date, operation given: OperationRecord? = nil) async throws -> SleepExecutor.Outcome? {
        var operation = given ?? OperationRecord(cluster: name, namespaces: [unit.namespace], action: action.rawValue, source: source, actor: actor, reason: reason, createdAt: now)
        // One namespace's run is the whole of a one-namespace operation, and a part of one over
        // several namespaces (or the whole cluster), which `finishManual` completes.
        let whole = operation.namespaces.count == 1
        if whole {
            operation.state = .running
            try await store.save(operation)
        } else {
            operation = try await store.updateOperation(id: operation.id) { if $0.state == .pending { $0.state = .running } } ?? operation
        }
        await events.operationStarted(operation, cluster: configuration, unit: unit.namespace)
        let started = ContinuousClock.now
        let outcome: SleepExecutor.Outcome
        do {
            outcome = action == .sleep
                ? try await executor.sleep(target, operation: operation, scheduledAt: now)
                : try await executor.wake(target, operation: operation, scheduledAt: now)
        } catch {
            operation = try await record(operation, namespace: unit.namespace, summary: ["error": .string("\(error)")], state: .failed, whole: whole)
            await events.operationFinished(operation, cluster: configuration, namespace: unit.namespace, timeZone: unit.scheduleDescription["timeZone"]?.string, outcome: nil, duration: ContinuousClock.now - started)
            throw error
        }
        var summary = outcome.summary
        summary["namespace"] = .string(unit.namespace)
        summary["unit"] = .string(unit.name)
        if action == .sleep {
            summary["hourlySavings"] = .double(outcome.releasedCPU * prices.cpuHour + outcome.releasedMemory / 1_073_741_824 * prices.memoryGiBHour)
        }
        operation = try await record(operation, namespace: unit.namespace, summary: summary, state: outcome.state, whole: whole)
        try await store.record(AuditEntry(at: clock.now, actor: actor, source: source, action: action.rawValue, cluster: name, namespace: unit.namespace, target: unit.name, result: outcome.state.rawValue, detail: reason))
        await events.operationFinished(operation, cluster: configuration, namespace: unit.namespace, timeZone: unit.scheduleDescription["timeZone"]?.string, outcome: outcome, duration: ContinuousClock.now - started)
        logger.info(action == .sleep ? "namespace asleep" : "namespace awake", metadata: [
            "namespace": "\(unit.namespace)", "unit": "\(unit.name)", "done": "\(outcome.done.count)",
            "skipped": "\(outcome.skipped.count)", "failed": "\(outcome.failed.count)", "reason": "\(reason)",
        ])
        return outcome
    }

    /// Marks a manual operation over several namespaces finished once every unit ran.
    /// Stores one namespace's result: the whole result of a one-namespace operation, or its part
    /// of a larger one (by namespace, so a resumed run replaces rather than repeats it).
    private func record(_ operation: OperationRecord, namespace: String, summary: JSONValue, state: OperationRecord.State, whole: Bool) async throws -> OperationRecord {
        if whole {
            var operation = operation
            operation.summary = summary.serialized()
            operation.state = state
            operation.finishedAt = clock.now
            try await store.save(operation)
            return operation
        }
        return try await store.updateOperation(id: operation.id) { stored in
            stored.summary = OperationSummary.adding(summary, of: namespace, to: stored.summary).serialized()
        } ?? operation
    }

    private func finishManual(_ request: ManualRequest, units: [ManagedUnit]) async {
        guard var operation = try? await store.operation(id: request.operation.id), operation.finishedAt == nil else { return }
        let matched = units.contains { request.operation.namespaces.isEmpty || request.operation.namespaces.contains($0.namespace) }
        if operation.namespaces.count != 1, let summary = operation.summary.flatMap({ try? JSONValue(parsing: $0) }) {
            operation.state = OperationSummary.state(of: summary)
        } else {
            operation.state = matched ? (operation.state == .running || operation.state == .pending ? .succeeded : operation.state) : .failed
        }
        if !matched { operation.summary = JSONValue.object(["error": "no managed namespace matched"]).serialized() }
        operation.finishedAt = clock.now
        try? await store.save(operation)
    }

    private func policyContext(_ unit: ManagedUnit, action: Transition.Kind, reason: String, asleep: Bool, overrides: [OverrideRecord], now: Date) -> JSONValue {
        [
            "cluster": .string(name), "tier": .string(configuration.tier.rawValue), "namespace": .string(unit.namespace),
            "team": unit.team.map { .string($0.name) } ?? .null, "now": .int(Int64(now.timeIntervalSince1970)),
            "action": .string(action.rawValue), "reason": .string(reason), "asleep": .bool(asleep),
            "schedule": unit.scheduleDescription,
            "overrides": .array(overrides.map { ["kind": .string($0.kind.rawValue), "until": $0.until.map { .int(Int64($0.timeIntervalSince1970)) } ?? .null, "actor": .string($0.actor)] }),
        ]
    }

    // MARK: SleepInfo housekeeping

    static let finalizer = "sandman.dev/wake-on-delete"

    /// Adds the wake-on-delete finalizer, re-reading the SleepInfo when the cached copy is stale.
    private func ensureFinalizer(_ cached: SleepInfo) async throws {
        guard !cached.metadata.finalizers.contains(Self.finalizer) else { return }
        cache(try await updateFinalizers(of: cached) { $0 + [Self.finalizer] })
    }

    /// Keeps a SleepInfo this agent just wrote, ahead of the watch event that will bring it.
    func cache(_ sleepInfo: SleepInfo) {
        sleepInfos["\(sleepInfo.namespace ?? "")/\(sleepInfo.name)"] = sleepInfo
    }

    private func releaseFinalizer(_ unit: ManagedUnit) async throws {
        guard let sleepInfo = unit.sleepInfo, sleepInfo.metadata.finalizers.contains(Self.finalizer) else { return }
        _ = try await updateFinalizers(of: sleepInfo) { $0.filter { $0 != Self.finalizer } }
        logger.info("SleepInfo released after waking its namespace", metadata: ["namespace": "\(unit.namespace)", "sleepInfo": "\(sleepInfo.name)"])
    }

    /// Sets the SleepInfo's finalizers to `change(current)`, guarded by its resourceVersion so
    /// that finalizers someone else adds meanwhile are never lost; reads it again on conflict.
    private func updateFinalizers(of cached: SleepInfo, _ change: ([String]) -> [String]) async throws -> SleepInfo {
        var sleepInfo = cached
        for attempt in 1...5 {
            let wanted = change(sleepInfo.metadata.finalizers)
            if wanted == sleepInfo.metadata.finalizers { break }
            do {
                return try await client.patch(SleepInfo.self, namespace: sleepInfo.namespace, name: sleepInfo.name, .merge(["metadata": [
                    "finalizers": wanted.isEmpty ? .null : .array(wanted.map(JSONValue.string)),
                    "resourceVersion": .string(sleepInfo.metadata.resourceVersion ?? ""),
                ]]))
            } catch let error as KubeError where error.isConflict && attempt < 5 {
                sleepInfo = try await client.get(SleepInfo.self, namespace: sleepInfo.namespace, name: sleepInfo.name)
            }
        }
        return sleepInfo
    }

    private var reportedInvalid: [String: String] = [:]

    /// A malformed SleepInfo gets one Warning event per version, and is skipped.
    func reportInvalid(_ sleepInfo: SleepInfo, problem: String) async {
        let key = "\(sleepInfo.namespace ?? "")/\(sleepInfo.name)"
        let version = sleepInfo.metadata.resourceVersion ?? ""
        guard reportedInvalid[key] != version else { return }
        reportedInvalid[key] = version
        logger.warning("invalid SleepInfo skipped", metadata: ["namespace": "\(sleepInfo.namespace ?? "")", "sleepInfo": "\(sleepInfo.name)", "problem": "\(problem)"])
        let event = Event(about: sleepInfo.object, type: "Warning", reason: "InvalidSleepInfo", message: "skipped by sandman: \(problem)", component: "sandman", at: clock.now)
        _ = try? await client.create(event.object, namespace: sleepInfo.namespace)
    }

    // MARK: Status

    /// The namespaces the agent manages now, from its watches; nil before they have synced.
    public func managedNamespaces() -> [String]? {
        guard synced.namespaces, synced.sleepInfos else { return nil }
        return Array(Set(ManagedUnit.units(namespaces: Array(namespaces), sleepInfos: Array(sleepInfos.values), configuration: configuration).map(\.namespace))).sorted()
    }

    /// The first `kind` transition after `instant` of the schedules of `namespace` (of any
    /// managed namespace when nil), from the schedules themselves: a status may be an
    /// evaluation old.
    public func nextTransition(_ kind: Transition.Kind, namespace: String?, after instant: Date) -> Date? {
        ManagedUnit.units(namespaces: Array(namespaces), sleepInfos: Array(sleepInfos.values), configuration: configuration)
            .filter { namespace == nil || $0.namespace == namespace }
            .compactMap { unit in unit.schedule?.transitions(after: instant, count: 4).first { $0.kind == kind }?.at }
            .min()
    }

    public func status() async -> ClusterStatus {
        var owner: String?
        var local = true
        if let elector {
            owner = await elector.observedHolder
            local = await elector.isLeader
        }
        return ClusterStatus(
            name: name, tier: configuration.tier, health: health,
            namespaces: statuses.values.sorted { ($0.namespace, $0.unit) < ($1.namespace, $1.unit) },
            owner: owner, ownedHere: local
        )
    }
}

extension OverrideRecord {
    var scheduleOverride: ScheduleOverride {
        ScheduleOverride(id: id, kind: ScheduleOverride.Kind(rawValue: kind.rawValue) ?? .skip, scope: namespace == nil ? .cluster : .namespace, until: until, createdAt: createdAt)
    }
}

extension Array {
    func chunked(into size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: Swift.max(1, size)).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
