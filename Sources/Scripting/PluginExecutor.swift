import Foundation
import JSON
import Logging
import Synchronization

/// Runs the calls of one plugin version one at a time, in one Lua state, on a thread it owns.
///
/// Callers wait on a continuation, never on a blocked thread of the cooperative pool. When a call
/// passes its deadline the watchdog tells the executor, which answers the caller with a timeout,
/// abandons that thread and its state (the thread closes the state and ends once the stuck call
/// returns) and starts a fresh thread with a fresh state for the next calls. While
/// ``maximumStuckThreads`` abandoned threads are still running, calls fail at once instead of
/// piling up more stuck threads. A state that reached its memory cap is replaced too.
final class PluginExecutor: @unchecked Sendable {
    typealias Outcome = Result<JSONValue?, PluginError>

    /// Abandoned threads (stuck in a call) tolerated before calls are refused.
    static let maximumStuckThreads = 4

    /// How long an idle worker polls for the next call before it sleeps on the condition. A call
    /// that arrives meanwhile costs no thread wake-up, which is most of the cost of a hand-over
    /// (about ten times faster for a caller making calls one after another). Only with more
    /// than one processor.
    static let spinWindow: Duration = .microseconds(50)
    private static let spins = ProcessInfo.processInfo.activeProcessorCount > 1

    /// Guarded by the executor's lock.
    private final class Job: @unchecked Sendable {
        let input: JSONValue
        var continuation: CheckedContinuation<Outcome, Never>?

        init(input: JSONValue, continuation: CheckedContinuation<Outcome, Never>) {
            self.input = input
            self.continuation = continuation
        }
    }

    /// Guarded by the executor's lock.
    private final class Worker: @unchecked Sendable {
        var abandoned = false
    }

    let source: PluginSource
    private let watchdog: Watchdog
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var queueHead = 0
    /// Calls queued and not yet taken, readable without the lock by a spinning worker.
    private let pending = Atomic<Int>(0)
    private var worker: Worker?
    private var stuckThreads = 0
    private var stopped = false
    /// A state created while loading, handed to the first worker so it is not created twice.
    private var spare: SpareInstance?

    /// Wraps a state built on another thread (the loader) until the first worker takes it.
    private final class SpareInstance: @unchecked Sendable {
        let instance: PluginInstance
        init(_ instance: PluginInstance) { self.instance = instance }
    }

    /// An executor for `source`; `loaded`, when given, is an instance of it already started on the
    /// calling thread and never used there again.
    init(source: PluginSource, loaded: PluginInstance?, watchdog: Watchdog) {
        self.source = source
        self.watchdog = watchdog
        if let loaded { spare = SpareInstance(loaded) }
    }

    /// Runs the hook on `input`; never throws, never waits past the call timeout for a stuck call.
    func call(_ input: JSONValue) async -> Outcome {
        await withCheckedContinuation { continuation in
            condition.lock()
            if stopped {
                condition.unlock()
                continuation.resume(returning: .failure(PluginError(.unavailable, file: source.file, message: "this version of the plugin was unloaded")))
                return
            }
            if stuckThreads >= Self.maximumStuckThreads {
                let count = stuckThreads
                condition.unlock()
                continuation.resume(returning: .failure(PluginError(
                    .unavailable, file: source.file,
                    message: "suspended: \(count) earlier calls are still stuck past their deadline"
                )))
                return
            }
            queue.append(Job(input: input, continuation: continuation))
            pending.add(1, ordering: .releasing)
            if worker == nil { startWorker() }
            condition.signal()
            condition.unlock()
        }
    }

    /// Lets queued calls finish, then ends the worker thread. Later calls fail as unavailable.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Abandoned threads still stuck in a call.
    var stuckThreadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return stuckThreads
    }

    // MARK: - Workers

    /// Called with the lock held.
    private func startWorker() {
        let worker = Worker()
        self.worker = worker
        let spare = self.spare
        self.spare = nil
        let thread = Thread { [self] in run(worker, spare: spare) }
        thread.name = "sandman-lua \(source.file)"
        thread.start()
    }

    private func run(_ worker: Worker, spare: SpareInstance?) {
        var instance: PluginInstance? = spare?.instance
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

            let onExpire: @Sendable () -> Void = { [self] in expire(job: job, worker: worker) }
            let outcome: Outcome
            do throws(PluginError) {
                if instance == nil {
                    instance = try PluginInstance(source, watchdog: watchdog, onExpire: onExpire)
                }
                outcome = .success(try instance!.invoke(job.input, watchdog: watchdog, onExpire: onExpire))
            } catch {
                outcome = .failure(error)
                if error.replacesState { instance = nil }
            }

            condition.lock()
            if worker.abandoned {
                stuckThreads -= 1
                condition.unlock()
                source.logger.debug("abandoned plugin call finished", metadata: ["plugin": "\(source.file)"])
                return
            }
            let continuation = job.continuation
            job.continuation = nil
            condition.unlock()
            continuation?.resume(returning: outcome)
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

    /// The watchdog's report that `job` passed its deadline on `worker`'s thread.
    private func expire(job: Job, worker: Worker) {
        condition.lock()
        guard let continuation = job.continuation, !worker.abandoned else {
            condition.unlock()
            return
        }
        job.continuation = nil
        worker.abandoned = true
        stuckThreads += 1
        if self.worker === worker {
            self.worker = nil
            if queueHead < queue.count { startWorker() }
        }
        condition.unlock()
        continuation.resume(returning: .failure(PluginError(
            .timeout(source.limits.callTimeout), file: source.file,
            message: "no answer within \(source.limits.callTimeout.sandmanText); the host stopped waiting and replaced the state"
        )))
    }
}
