/// A counting semaphore for async code: at most `limit` holders at once, the others wait in
/// the order they came. The sleep executor of a cluster shares one between all the namespaces
/// it works on, so the cluster's bound on objects in flight holds however many run at once.
actor Permits {
    private let limit: Int
    private var held = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Runs `work` while holding a permit.
    func withPermit<Result: Sendable>(_ work: @Sendable () async -> Result) async -> Result {
        await acquire()
        let result = await work()
        release()
        return result
    }

    private func acquire() async {
        if held < limit {
            held += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Hands the permit straight to the next waiter, if any.
    private func release() {
        if waiting.isEmpty {
            held -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
