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
        /// How often a ready cluster's probe also reads its version and checks the credentials
        /// (the probes in between only ask `/readyz`).
        public var fullProbeInterval: TimeInterval = 60
        /// Failures must last this long before the cluster counts as not ready.
        public var failureThreshold: TimeInterval = 30
        public var resyncInterval: TimeInterval = 300
        /// How often a transition a plugin holds back is put to the plugins again.
        public var heldRecheckInterval: TimeInterval = 60
        /// How often a namespace asleep under a grace period is looked at for workloads started
        /// or changed since (they sleep once their grace period is over).
        public var graceSweepInterval: TimeInterval = 60
        /// How often the replica leading the cluster looks in a shared store for requests other
        /// replicas accepted for it.
        public var sharedStorePollInterval: Duration = .seconds(1)
        /// The most objects patched at once in this cluster, across the namespaces being worked
        /// on (the count in force follows the cluster's answers, from 16).
        public var concurrency = 64
        /// Namespaces evaluated in parallel: their reads and writes before and after the patches
        /// overlap, while the patches themselves share `concurrency`.
        public var namespaceConcurrency = 16
        /// Called at each moment of a sleep or wake where a kill would leave work half done; tests
        /// stop there to play a kill (nil in production).
        public var checkpoint: (@Sendable (SleepExecutor.Checkpoint) async -> Void)?

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
    /// GitOps: overrides from git, Argo CD's self-heal (ClusterAgent+GitOps.swift); nil: direct mode.
    let gitops: AgentGitOps?

    public private(set) var health = ClusterHealth()
    /// Health probes made since the agent started.
    public private(set) var probes = 0
    var namespaces: Set<String> = []
    var sleepInfos: [String: SleepInfo] = [:]
    private var synced: (namespaces: Bool, sleepInfos: Bool) = (false, false)
    var statuses: [String: NamespaceStatus] = [:]
    /// Parts of running operations' summaries not written to the store yet, and when each
    /// operation's were last written (ClusterAgent+Operations.swift).
    var unwrittenParts: [String: [OperationSummary.Part]] = [:]
    var partsWritten: [String: ContinuousClock.Instant] = [:]
    /// Units a plugin holds back, with the plugin: logged once each time it starts.
    var heldBack: [String: String] = [:]
    private var healthAnnounced = false
    private var lastFullProbe: Date?
    private let trigger: AsyncStream<Void>.Continuation
    private let triggers: AsyncStream<Void>
    /// Evaluations started and finished, and whether the last one changed nothing (ran no
    /// operation): something to wait on for whoever needs the agent to have seen a change.
    public internal(set) var evaluations = EvaluationCount()
    /// Units whose last action failed: not tried again before `retryAt`.
    var failures: [String: (count: Int, retryAt: Date)] = [:]
    /// Asleep units whose last sleep left workloads running in their grace period: slept again
    /// when it ends.
    var graceEnds: [String: Date] = [:]
    /// When each asleep unit with a grace period is next looked at for workloads started since.
    var graceSweeps: [String: Date] = [:]
    /// Asleep units of a schedule without wakeUpAt whose sleepAt came: swept until a sweep goes through.
    var resleeps: Set<String> = []

    public init(configuration: ClusterConfiguration, client: KubeClient, store: Store, clock: any HubClock, policy: any PolicyAdvisor, events: any HubEventSink, prices: HubConfiguration.Prices, settings: Settings = .init(), elector: LeaderElector? = nil, gitops: AgentGitOps? = nil, logger: Logger) {
        self.elector = elector
        self.gitops = gitops
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
        self.executor = SleepExecutor(
            cluster: configuration.name, client: client, store: store, concurrency: settings.concurrency, now: { clock.now },
            checkpoint: settings.checkpoint, logger: logger
        )
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
            if let selfHeal = gitops?.selfHeal {
                group.addTask { await selfHeal.run { await self.wake() } }
            }
            if let elector {
                group.addTask {
                    await elector.run {
                        // Leading: evaluate at once, then until leadership is lost (this task is cancelled).
                        await self.wake()
                        await self.followSharedStore()
                    }
                }
            }
            await evaluationLoop()
            group.cancelAll()
        }
        logger.info("agent stopped")
    }

    /// While this replica leads the cluster, until cancelled: on a shared store, evaluates as soon
    /// as an operation or override appears that another replica accepted (within
    /// `sharedStorePollInterval`).
    private func followSharedStore() async {
        guard store.isShared else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        var known: Set<String> = []
        while !Task.isCancelled {
            if let work = try? await store.pendingWork(cluster: name) {
                let pending = Set(work.operations.map(\.id) + work.overrides.map(\.id))
                if !pending.isSubset(of: known) { wake() }
                known = pending
            }
            try? await Task.sleep(for: settings.sharedStorePollInterval)
        }
    }

    /// Whether the watches have listed everything once: evaluating before would miss namespaces.
    var isSynced: Bool { synced.namespaces && synced.sleepInfos }

    /// Lets the evaluation under way finish, then stops (graceful shutdown).
    public func finishCurrentWork() {
        trigger.finish()
    }

    /// Asks for an evaluation now (an override or a manual operation changed something).
    public func wake() {
        trigger.yield()
    }

    // MARK: Health

    private func probeLoop() async {
        while !Task.isCancelled {
            await probe()
            try? await Task.sleep(for: .milliseconds(Int64(settings.probeInterval * 1000)))
        }
    }

    /// One health check: `/readyz` (or `/healthz`), and `/version` and who we are unless a
    /// full check found the cluster ready within `fullProbeInterval`.
    public func probe() async {
        let full = !health.ready || lastFullProbe.map { Date().timeIntervalSince($0) >= settings.fullProbeInterval } ?? true
        let result = full ? await client.probe() : await client.probeReadiness()
        probes += 1
        if full, result.failure == nil { lastFullProbe = Date() }
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
                let initial = Set(try await client.list(Namespace.self).map(\.name))
                // A relist after a broken watch needs an evaluation only if it found a change.
                if initial != namespaces || !synced.namespaces { trigger.yield() }
                namespaces = initial
                synced.namespaces = true
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
        var missingCRDRetry: TimeInterval = 60
        while !Task.isCancelled {
            do {
                // The watch starts with a list; an empty cluster would otherwise never say it is synced.
                let initial = try await client.list(SleepInfo.self)
                let listed = Dictionary(initial.map { ("\($0.namespace ?? "")/\($0.name)", $0) }) { $1 }
                if listed.mapValues(\.metadata.resourceVersion) != sleepInfos.mapValues(\.metadata.resourceVersion) || !synced.sleepInfos {
                    trigger.yield()
                }
                sleepInfos = listed
                synced.sleepInfos = true
                missingCRDRetry = 60
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
                // No SleepInfo CRD in this cluster: hub schedules only. Looked for again, less and
                // less often, without evaluating again for nothing.
                if !synced.sleepInfos || !sleepInfos.isEmpty { trigger.yield() }
                sleepInfos = [:]
                synced.sleepInfos = true
                try? await Task.sleep(for: .seconds(missingCRDRetry))
                missingCRDRetry = min(missingCRDRetry * 2, 600)
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
            evaluations.started += 1
            let started = ContinuousClock.now
            let next = await evaluate()
            evaluations.finished += 1
            if evaluations.lastEvaluated > 0 { await events.evaluationFinished(cluster: name, duration: .now - started) }
            if evaluations.lastEvaluated >= Self.trimAfterUnits { MemoryTrim.release() }
            let resync = clock.now.addingTimeInterval(settings.resyncInterval)
            scheduleEvaluation(at: min(next ?? resync, resync))
        }
        timer?.cancel()
    }

    private var timer: Task<Void, Never>?
    /// An evaluation of this many units frees enough to hand back at once.
    static let trimAfterUnits = 200

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

    // MARK: SleepInfo housekeeping

    static let finalizer = "sandman.dev/wake-on-delete"

    /// Adds the wake-on-delete finalizer, re-reading the SleepInfo when the cached copy is stale.
    func ensureFinalizer(_ cached: SleepInfo) async throws {
        guard !cached.metadata.finalizers.contains(Self.finalizer) else { return }
        cache(try await updateFinalizers(of: cached) { $0 + [Self.finalizer] })
    }

    /// Keeps a SleepInfo this agent just wrote, ahead of the watch event that will bring it.
    func cache(_ sleepInfo: SleepInfo) {
        sleepInfos["\(sleepInfo.namespace ?? "")/\(sleepInfo.name)"] = sleepInfo
    }

    func releaseFinalizer(_ unit: ManagedUnit) async throws {
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
        guard isSynced else { return nil }
        return Array(Set(units().map(\.namespace))).sorted()
    }

    /// The time zone of the schedule of `namespace` (of the first managed namespace when nil),
    /// from the schedules themselves: known once the watches have synced, before any evaluation.
    public func scheduleTimeZone(namespace: String?) -> String? {
        units().first { namespace == nil || $0.namespace == namespace }?.scheduleDescription["timeZone"]?.string
    }

    /// The units the watches show now.
    func units() -> [ManagedUnit] {
        ManagedUnit.units(namespaces: Array(namespaces), sleepInfos: Array(sleepInfos.values), configuration: configuration)
    }

    /// The first `kind` transition after `instant` of the schedules of `namespace` (of any
    /// managed namespace when nil), from the schedules themselves: a status may be an
    /// evaluation old.
    public func nextTransition(_ kind: Transition.Kind, namespace: String?, after instant: Date) -> Date? {
        units().filter { namespace == nil || $0.namespace == namespace }
            .compactMap { unit in unit.schedule?.transitions(after: instant, count: 4).first { $0.kind == kind }?.at }
            .min()
    }

    public func status() async -> ClusterStatus {
        ClusterStatus(
            name: name, tier: configuration.tier, health: health,
            namespaces: statuses.values.sorted { ($0.namespace, $0.unit) < ($1.namespace, $1.unit) },
            owner: await elector?.observedHolder, ownedHere: await isOwnedHere()
        )
    }

    /// Whether this replica acts on the cluster: it holds the cluster's Lease, or there is no
    /// leader election.
    public func isOwnedHere() async -> Bool {
        guard let elector else { return true }
        return await elector.isLeader
    }
}

/// How far an agent's evaluations have come.
public struct EvaluationCount: Sendable, Equatable {
    public var started = 0
    public var finished = 0
    /// The last finished evaluation ran no operation.
    public var lastWasQuiet = false
    /// Units the last finished evaluation looked at (0 when it could not run: cluster not ready,
    /// not synced, not led here).
    public var lastEvaluated = 0
}
