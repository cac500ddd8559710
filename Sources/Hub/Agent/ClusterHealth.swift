import Foundation

/// Whether a cluster can be used, from a series of probes: ready after a success, not ready
/// only after failures have lasted `failureThreshold` (one lost probe is not an outage).
public struct ClusterHealth: Sendable, Equatable {
    public var ready = false
    /// True once any probe has answered.
    public var reachable = false
    public var version: String?
    public var lastError: String?
    public var lastProbe: Date?
    public var latency: Duration?
    private var failingSince: Date?

    public init() {}

    public mutating func recordSuccess(at time: Date, version: String?, latency: Duration) {
        ready = true
        reachable = true
        self.version = version ?? self.version
        self.latency = latency
        lastError = nil
        lastProbe = time
        failingSince = nil
    }

    public mutating func recordFailure(at time: Date, error: String, threshold: TimeInterval) {
        lastProbe = time
        lastError = error
        let since = failingSince ?? time
        failingSince = since
        if !reachable || time.timeIntervalSince(since) >= threshold {
            ready = false
        }
    }
}
