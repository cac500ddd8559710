import Foundation
import Scheduling

/// Client-side token bucket: at most `burst` requests at once, refilled at `qps` per second.
/// Callers that find it empty wait for their turn in order, as client-go's limiter does.
actor RateLimiter {
    private let qps: Double
    private let burst: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant

    init(qps: Double, burst: Int) {
        self.qps = max(qps, 0.001)
        self.burst = Double(max(burst, 1))
        self.tokens = Double(max(burst, 1))
        self.updated = .now
    }

    /// Takes a token, waiting until one is free.
    func acquire() async throws {
        let now = ContinuousClock.now
        tokens = min(burst, tokens + (now - updated).inSeconds * qps)
        updated = now
        // Reserve the token now (possibly going negative) so that waiters keep their order.
        tokens -= 1
        if tokens < 0 {
            try await Task.sleep(for: .seconds(-tokens / qps))
        }
    }
}
