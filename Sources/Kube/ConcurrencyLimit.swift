import Foundation
import Scheduling

/// How many writes may be in flight to a cluster, adapted to its answers as TCP Vegas adapts its
/// window. The fastest answer seen is the server's own time; an answer slower than that waited
/// in a queue somewhere (the server's API Priority and Fairness queues, its CPU, the client's).
/// Over each round of `limit` answers, the requests queued are estimated as
/// `limit × (1 − fastest / average)`: above `beta` the limit falls by one, below `alpha` (while
/// the limit was reached, so that more requests had been sent had they been allowed) it rises by
/// one. A far server whose answers take long gets many requests in flight; a near one busy with
/// its CPU, or one that starts queueing, gets few (and, at a rate limit, few refused at once).
public struct ConcurrencyLimit: Sendable {
    public private(set) var limit: Int
    public let bounds: ClosedRange<Int>
    /// The fastest answer of the current period and of the one before: a server that became
    /// slower for good is judged by its new speed after two periods.
    private var fastest: (current: Duration?, previous: Duration?) = (nil, nil)
    private var periodStart: ContinuousClock.Instant?
    private static let period = Duration.seconds(30)
    private var round: (answers: Int, total: Duration, reachedLimit: Bool) = (0, .zero, false)

    public init(initial: Int, bounds: ClosedRange<Int>) {
        self.bounds = bounds
        limit = min(max(initial, bounds.lowerBound), bounds.upperBound)
    }

    /// The fastest answer seen recently; nil before any.
    var fastestAnswer: Duration? {
        switch (fastest.current, fastest.previous) {
        case let (current?, previous?): min(current, previous)
        case let (current, previous): current ?? previous
        }
    }

    /// A write was answered (2xx) after `duration`, with `inFlight` writes out when it was sent
    /// (itself included).
    public mutating func answered(after duration: Duration, inFlight: Int, at now: ContinuousClock.Instant = .now) {
        if let start = periodStart, now - start < Self.period {
            fastest.current = min(fastest.current ?? duration, duration)
        } else {
            fastest = (duration, fastest.current)
            periodStart = now
        }
        round.answers += 1
        round.total += duration
        round.reachedLimit = round.reachedLimit || inFlight >= limit
        guard round.answers >= limit, let fastestAnswer else { return }
        let average = round.total / round.answers
        let queued = Double(limit) * (1 - fastestAnswer.inSeconds / max(average.inSeconds, 1e-9))
        let scale = log10(Double(max(limit, 10)))
        if queued > 6 * scale {
            limit = max(bounds.lowerBound, limit - 1)
        } else if queued < 3 * scale, round.reachedLimit {
            limit = min(bounds.upperBound, limit + 1)
        }
        round = (0, .zero, false)
    }
}
