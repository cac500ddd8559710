import Foundation
import JSON
import Logging
import Synchronization

/// Loads one plugin version and runs its calls one at a time, in one Lua state, on a thread it
/// owns.
///
/// Async callers wait on a continuation, never on a blocked thread of the cooperative pool; the
/// host's loader thread waits for loads itself. The load (the file's top level) is the first job
/// of the thread; the calls follow. When a job passes its
/// deadline the watchdog tells the executor, which answers the caller with a timeout, abandons
/// that thread and its state (the state is flagged, so the thread stops at its next instruction
/// or library checkpoint, closes the state and ends) and starts a fresh thread with a fresh
/// state for the next calls. A state that reached its memory cap is replaced too.
///
/// Abandoned threads still running are counted here and host-wide (``AbandonedStates``): while
/// ``maximumAbandonedThreads`` of this version, or the host-wide maximum, are running, calls fail
/// at once. A thread still running its grace after the deadline is stuck somewhere nothing can
/// interrupt: the version is then disabled for good (a new version of the file replaces it).
final class PluginExecutor: @unchecked Sendable {
    typealias Outcome = Result<JSONValue?, PluginError>

    /// Abandoned threads of one version tolerated before its calls are refused.
    static let maximumAbandonedThreads = 2

    /// How long an idle worker polls for the next call before it sleeps on the condition. A call
    /// that arrives meanwhile costs no thread wake-up, which is most of the cost of a hand-over
    /// (about ten times faster for a caller making calls one after another). Only with more
    /// than one processor.
    static let spinWindow: Duration = .microseconds(50)
    private static let spins = ProcessInfo.processInfo.activeProcessorCount > 1

    /// Guarded by the executor's lock.
    private final class Job: @unchecked Sendable {
        enum Work {
            case load
            case call(JSONValue)
        }

        let work: Work
        /// Told the outcome once, then cleared.
        var reply: (@Sendable (Outcome) -> Void)?

        init(_ work: Work, reply: @escaping @Sendable (Outcome) -> Void) {
            self.work = work
            self.reply = reply
        }
    }

    /// Guarded by the executor's lock.
    private final class Worker: @unchecked Sendable {
        var abandoned = false
        /// The worker thread's CPU clock, set when it starts, and its reading when the thread
        /// was abandoned.
        var cpuClock: ThreadCPUClock?
        var cpuAtAbandonment: Duration?
    }

    let source: PluginSource
    private let watchdog: Watchdog
    private let abandonedStates: AbandonedStates
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var queueHead = 0
    /// Calls queued and not yet taken, readable without the lock by a spinning worker.
    private let pending = Atomic<Int>(0)
    private var worker: Worker?
    private var abandonedThreads = 0
    private var cpuAfterAbandonment = Duration.zero
    private var disabled: PluginError?
    private var stopped = false

    init(source: PluginSource, watchdog: Watchdog, abandonedStates: AbandonedStates) {
        self.source = source
        self.watchdog = watchdog
        self.abandonedStates = abandonedStates
    }

    /// Loads the plugin on the executor's thread: its top level within the load timeout, and its
    /// hook checked. `completion` is told nil when it loaded (the executor then serves calls), or
    /// the error, at the latest at the deadline; after an error the executor serves nothing.
    func load(completion: @escaping @Sendable (PluginError?) -> Void) {
        submit(.load) { outcome in
            if case .failure(let error) = outcome { completion(error) } else { completion(nil) }
        }
    }

    /// ``load(completion:)`` for async callers.
    func load() async -> PluginError? {
        await withCheckedContinuation { continuation in
            load { continuation.resume(returning: $0) }
        }
    }

    /// Runs the hook on `input`; never throws, never waits past the call timeout.
    func call(_ input: JSONValue) async -> Outcome {
        await withCheckedContinuation { continuation in
            submit(.call(input)) { continuation.resume(returning: $0) }
        }
    }

    /// Runs the hook on each of `inputs`, in order: separate calls, each with its own deadline
    /// and failure, handed to the thread at once, so that the lot costs one hand-over and one
    /// resumption instead of one of each per call.
    func call(batch inputs: [JSONValue]) async -> [Outcome] {
        guard !inputs.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let replies = BatchReplies(count: inputs.count) { continuation.resume(returning: $0) }
            submit(inputs.map(Job.Work.call)) { index, outcome in replies.set(index, outcome) }
        }
    }

    /// Lets queued calls finish, then ends the worker thread. Later calls fail as unavailable.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Threads of this version abandoned at a deadline and still running.
    var abandonedThreadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return abandonedThreads
    }

    /// CPU time that threads of this version used after they were abandoned at a deadline,
    /// counted when each of them ends.
    var abandonedThreadCPU: Duration {
        condition.lock()
        defer { condition.unlock() }
        return cpuAfterAbandonment
    }

    /// Why this version no longer serves calls, once a call of it could not be stopped.
    var disabledError: PluginError? {
        condition.lock()
        defer { condition.unlock() }
        return disabled
    }

    private func submit(_ work: Job.Work, reply: @escaping @Sendable (Outcome) -> Void) {
        submit([work]) { _, outcome in reply(outcome) }
    }

    /// Queues `works` as jobs in order; `reply` is told each one's outcome with its index.
    private func submit(_ works: [Job.Work], reply: @escaping @Sendable (Int, Outcome) -> Void) {
        condition.lock()
        if let refusal = refusal() ?? (worker == nil && abandonedStates.isFull ? abandonedStates.refusal(file: source.file) : nil) {
            condition.unlock()
            for index in works.indices { reply(index, .failure(refusal)) }
            return
        }
        for (index, work) in works.enumerated() {
            queue.append(Job(work) { reply(index, $0) })
        }
        pending.add(works.count, ordering: .releasing)
        if worker == nil { startWorker() }
        condition.signal()
        condition.unlock()
    }

    /// Why a job must fail at once, if it must. Called with the lock held.
    private func refusal() -> PluginError? {
        if let disabled { return disabled }
        if stopped {
            return PluginError(.unavailable, file: source.file, message: "this version of the plugin was unloaded")
        }
        if abandonedThreads >= Self.maximumAbandonedThreads {
            return PluginError(
                .unavailable, file: source.file,
                message: "suspended: \(abandonedThreads) earlier calls are still running past their deadline"
            )
        }
        return nil
    }

    // MARK: - Workers

    /// Called with the lock held.
    private func startWorker() {
        let worker = Worker()
        self.worker = worker
        let thread = Thread { [self] in run(worker) }
        thread.name = "sandman-lua \(source.file)"
        thread.start()
    }

    private func run(_ worker: Worker) {
        condition.lock()
        worker.cpuClock = .current
        condition.unlock()
        var instance: PluginInstance?
        while true {
            if Self.spins { awaitCall(within: Self.spinWindow) }
            condition.lock()
            while queueHead == queue.count, !stopped {
                condition.wait()
            }
            guard queueHead < queue.count else {
                if self.worker === worker { self.worker = nil }
                condition.unlock()
                return
            }
            let job = queue[queueHead]
            queueHead += 1
            pending.subtract(1, ordering: .relaxed)
            if queueHead > 64, queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            condition.unlock()

            let observer = PluginInstance.Observer(
                onExpire: { [self] elapsed in expire(job, on: worker, after: elapsed) },
                onStuck: { [self] elapsed in stuck(job, on: worker, after: elapsed) }
            )
            let outcome: Outcome
            do throws(PluginError) {
                if instance == nil {
                    instance = try PluginInstance(source, watchdog: watchdog, observer: observer)
                }
                if case .call(let input) = job.work {
                    outcome = .success(try instance!.invoke(input, watchdog: watchdog, observer: observer))
                } else {
                    outcome = .success(nil)
                }
            } catch {
                outcome = .failure(error)
                if error.replacesState { instance = nil }
            }

            condition.lock()
            if worker.abandoned {
                abandonedThreads -= 1
                let cpu = worker.cpuClock?.used.flatMap { used in worker.cpuAtAbandonment.map { used - $0 } } ?? .zero
                cpuAfterAbandonment += cpu
                // Under the lock, as in `expire`: whoever sees the thread gone sees its state gone.
                abandonedStates.remove(file: source.file)
                condition.unlock()
                source.logger.debug("abandoned plugin thread ended", metadata: [
                    "plugin": "\(source.file)", "thread.cpuAfterDeadline": "\(cpu.sandmanText)",
                ])
                return
            }
            if case .load = job.work, case .failure = outcome {
                stopped = true
            }
            let reply = job.reply
            job.reply = nil
            condition.unlock()
            reply?(outcome)
        }
    }

    /// Polls for a queued call for at most `window`.
    private func awaitCall(within window: Duration) {
        let deadline = ContinuousClock.now + window
        var polls = 0
        while pending.load(ordering: .acquiring) == 0 {
            polls += 1
            if polls & 1023 == 0, ContinuousClock.now >= deadline { return }
        }
    }

    /// Takes every queued job out, to fail them (called with the lock held).
    private func drainQueue() -> [Job] {
        let drained = Array(queue[queueHead...])
        pending.subtract(drained.count, ordering: .relaxed)
        queue.removeAll()
        queueHead = 0
        return drained
    }

    /// The watchdog's report that `job` passed its deadline on `worker`'s thread.
    private func expire(_ job: Job, on worker: Worker, after elapsed: Duration) {
        condition.lock()
        guard let reply = job.reply, !worker.abandoned else {
            condition.unlock()
            return
        }
        job.reply = nil
        worker.abandoned = true
        // The thread is alive: it ends only after taking the lock held here.
        worker.cpuAtAbandonment = worker.cpuClock?.used
        abandonedThreads += 1
        abandonedStates.add(file: source.file)
        let isLoad = if case .load = job.work { true } else { false }
        if isLoad { stopped = true }
        var refused: [Job] = []
        var refusal: PluginError?
        if self.worker === worker {
            self.worker = nil
            if queueHead < queue.count {
                refusal = self.refusal() ?? (abandonedStates.isFull ? abandonedStates.refusal(file: source.file) : nil)
                if refusal != nil {
                    refused = drainQueue()
                } else {
                    startWorker()
                }
            }
        }
        condition.unlock()
        if let refusal {
            for job in refused { job.reply?(.failure(refusal)) }
        }
        let deadline = isLoad ? source.limits.loadTimeout : source.limits.callTimeout
        let message = isLoad
            ? "its top level did not finish within its deadline of \(deadline.sandmanText); the host stopped waiting after \(elapsed.sandmanText)"
            : "no answer within its deadline of \(deadline.sandmanText); the host stopped waiting after \(elapsed.sandmanText) and replaced the state"
        reply(.failure(PluginError(.timeout(deadline), file: source.file, message: message)))
    }

    /// The watchdog's report that `job` is still running on `worker`'s thread its grace after
    /// the deadline: stuck where nothing can interrupt it. The version is disabled.
    private func stuck(_ job: Job, on worker: Worker, after elapsed: Duration) {
        let activity = if case .load = job.work { "loading the file" } else { "a call to \(source.kind.hook)" }
        let error = PluginError(
            .disabled, file: source.file,
            message: "disabled: \(activity) has been running for \(elapsed.sandmanText), past its deadline, where it cannot be "
                + "interrupted; its thread keeps its state until it returns, and the plugin stays disabled until its file changes"
        )
        condition.lock()
        guard disabled == nil else {
            condition.unlock()
            return
        }
        disabled = error
        let refused = drainQueue()
        condition.unlock()
        for job in refused { job.reply?(.failure(error)) }
        source.logger.error("plugin disabled: a call could not be stopped", metadata: [
            "plugin": "\(source.file)", "plugin.version": "\(source.version)", "error": "\(error.description)",
        ])
    }
}

/// Gathers the outcomes of a batch of calls, told in any order from any thread, and hands them
/// over once the last one is in.
private final class BatchReplies: Sendable {
    private let state: Mutex<(outcomes: [PluginExecutor.Outcome?], missing: Int)>
    private let completion: @Sendable ([PluginExecutor.Outcome]) -> Void

    init(count: Int, completion: @escaping @Sendable ([PluginExecutor.Outcome]) -> Void) {
        state = Mutex((Array(repeating: nil, count: count), count))
        self.completion = completion
    }

    func set(_ index: Int, _ outcome: PluginExecutor.Outcome) {
        let complete: [PluginExecutor.Outcome]? = state.withLock { state in
            guard case .none = state.outcomes[index] else { return nil }
            state.outcomes[index] = outcome
            state.missing -= 1
            return state.missing == 0 ? state.outcomes.map { $0! } : nil
        }
        if let complete { completion(complete) }
    }
}
