/// Misbehaviour a simulator injects into its answers, changeable while it runs.
public struct Faults: Sendable, Equatable {
    /// Added before every request is answered.
    public var latency: Duration = .zero
    /// Requests beyond this token bucket get 429 with `Retry-After`.
    public var rateLimit: RateLimit?
    /// Fraction of requests answered 500.
    public var errorRate: Double = 0
    /// Fraction of requests whose connection is closed after the response head.
    public var dropRate: Double = 0

    public struct RateLimit: Sendable, Equatable {
        public var qps: Double
        public var burst: Int
        public var retryAfterSeconds: Int

        public init(qps: Double, burst: Int, retryAfterSeconds: Int = 1) {
            self.qps = qps
            self.burst = burst
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    public init(latency: Duration = .zero, rateLimit: RateLimit? = nil, errorRate: Double = 0, dropRate: Double = 0) {
        self.latency = latency
        self.rateLimit = rateLimit
        self.errorRate = errorRate
        self.dropRate = dropRate
    }
}
