import Foundation

/// Whether a cluster can be used, from a series of probes: ready after a success, not ready
/// only after failures have lasted `failureThreshold` (one lost probe is not an outage).
public struct ClusterHealth: Sendable, Equatable {
    public var ready = false
    /// Whether the server answers, even with an error (false once it has not for the threshold).
    public var reachable = false
    public var version: String?
    public var lastError: String?
    public var lastProbe: Date?
    public var latency: Duration?
    private var failingSince: Date?
    private var answeredOnce = false

    public init() {}

    public mutating func recordSuccess(at time: Date, version: String?, latency: Duration) {
        ready = true
        reachable = true
        answeredOnce = true
        self.version = version ?? self.version
        self.latency = latency
        lastError = nil
        lastProbe = time
        failingSince = nil
    }

    /// A failed probe; `answered` tells a server that answered with an error from one that
    /// could not be reached. Until the failures have lasted `threshold`, a cluster that has
    /// answered before keeps its state (one lost probe is not an outage).
    public mutating func recordFailure(at time: Date, error: String, answered: Bool, threshold: TimeInterval) {
        lastProbe = time
        lastError = error
        let since = failingSince ?? time
        failingSince = since
        if answered {
            reachable = true
            answeredOnce = true
        }
        if !answeredOnce || time.timeIntervalSince(since) >= threshold {
            ready = false
            if !answered { reachable = false }
        }
    }
}
