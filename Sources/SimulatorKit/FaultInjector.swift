import Synchronization

/// Decides, request by request, which of the configured faults strikes.
public final class FaultInjector: Sendable {
    public enum Verdict: Sendable, Equatable {
        case proceed
        case rateLimited(retryAfter: Int, limit: Int)
        case drop
        case serverError
    }

    private let state: Mutex<(faults: Faults, bucket: TokenBucket)>

    public init(_ faults: Faults) {
        state = Mutex((faults, TokenBucket(limit: faults.rateLimit)))
    }

    public var faults: Faults { state.withLock { $0.faults } }

    /// Replaces the faults; the rate limit starts with a full bucket.
    public func set(_ faults: Faults) {
        state.withLock { $0 = (faults, TokenBucket(limit: faults.rateLimit)) }
    }

    /// Waits the added latency, then says what happens to this request.
    public func judge() async -> Verdict {
        let faults = self.faults
        if faults.latency > .zero { try? await Task.sleep(for: faults.latency) }
        if let retryAfter = state.withLock({ $0.bucket.take() }) {
            return .rateLimited(retryAfter: retryAfter, limit: faults.rateLimit?.burst ?? 0)
        }
        if faults.dropRate > 0, Double.random(in: 0..<1) < faults.dropRate { return .drop }
        if faults.errorRate > 0, Double.random(in: 0..<1) < faults.errorRate { return .serverError }
        return .proceed
    }
}

/// A server-side token bucket: requests beyond it are throttled.
struct TokenBucket: Sendable {
    private let limit: Faults.RateLimit?
    private var tokens: Double
    private var updated = ContinuousClock.now

    init(limit: Faults.RateLimit?) {
        self.limit = limit
        self.tokens = Double(limit?.burst ?? 0)
    }

    /// Nil when the request may go ahead; otherwise the seconds to send as `Retry-After`.
    mutating func take() -> Int? {
        guard let limit else { return nil }
        let now = ContinuousClock.now
        let elapsed = (now - updated).components
        updated = now
        tokens = min(Double(limit.burst), tokens + (Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18) * limit.qps)
        guard tokens >= 1 else { return limit.retryAfterSeconds }
        tokens -= 1
        return nil
    }
}
