/// When and how long to wait before trying a failed request again: throttling (429) always,
/// server errors and lost connections only for requests that are safe to repeat. Waits grow
/// exponentially with jitter up to a cap; a `Retry-After` from the server wins.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(10)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before attempt `attempt + 1` after `error`, or nil to give up.
    func delay(after error: KubeError, attempt: Int, idempotent: Bool) -> Duration? {
        guard attempt < maxAttempts else { return nil }
        switch error.reason {
        case .throttled(let retryAfter):
            return min(retryAfter ?? backoff(attempt), maxDelay * 6)
        case .serverError, .unreachable, .unresolvable, .timeout:
            return idempotent ? backoff(attempt) : nil
        default:
            return nil
        }
    }

    /// Jittered exponential backoff: base × 2^(attempt-1), ±50%, capped.
    func backoff(_ attempt: Int) -> Duration {
        let exponential = baseDelay * (1 << min(attempt - 1, 20))
        let capped = min(exponential, maxDelay)
        return capped * Double.random(in: 0.5...1.5)
    }
}
