/// A counting semaphore for async code: at most `limit()` holders at once, a limit that may
/// change (the cluster's count of patches in flight follows its answers). The sleep executor of
/// a cluster shares one between all the namespaces it works on, so the cluster's bound on
/// objects in flight holds however many run at once.
///
/// Waiters are served by batch, oldest batch first (a batch is one namespace's objects), and in
/// the order they came within one: namespaces then finish one after another, each freeing its
/// place in the evaluation's window early, instead of all together at the end.
actor Permits {
    private let limit: @Sendable () -> Int
    private var held = 0
    private var batches = 0
    /// Waiters by batch, each batch's in the order they came.
    private var waiters: [Int: [CheckedContinuation<Void, Never>]] = [:]

    /// How many wait for a permit.
    var waiting: Int { waiters.values.reduce(0) { $0 + $1.count } }

    init(limit: @escaping @Sendable () -> Int) {
        self.limit = { max(1, limit()) }
    }

    init(limit: Int) {
        self.init { limit }
    }

    /// A number for a new batch of work, served after every batch numbered before it.
    func newBatch() -> Int {
        batches += 1
        return batches
    }

    /// Runs `work` while holding a permit.
    func withPermit<Result: Sendable>(batch: Int, _ work: @Sendable () async -> Result) async -> Result {
        await acquire(batch: batch)
        let result = await work()
        release()
        return result
    }

    private func acquire(batch: Int) async {
        if held < limit() {
            held += 1
            return
        }
        await withCheckedContinuation { waiters[batch, default: []].append($0) }
    }

    /// Hands the permit back, and out to as many waiters as the limit now allows (more or fewer
    /// than one when it changed), oldest batch first.
    private func release() {
        held -= 1
        while held < limit(), let oldest = waiters.keys.min(), var queue = waiters.removeValue(forKey: oldest) {
            let next = queue.removeFirst()
            if !queue.isEmpty { waiters[oldest] = queue }
            held += 1
            next.resume()
        }
    }
}
