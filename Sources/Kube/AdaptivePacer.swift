import Foundation
import Scheduling

/// Client-side pacing that follows the server instead of a fixed rate. Nothing is held back
/// until the server throttles (429, as API Priority and Fairness answers when a client pushes
/// too hard); then requests are paced just under the rate the server accepted over the last
/// second, and, from two seconds after the last refusal, the pace rises by 5% a second while the
/// server keeps accepting, probing for more.
/// `ceiling` (`client.qps`/`burst` in a cluster file) is a hard cap on top.
actor AdaptivePacer {
    struct Ceiling: Sendable {
        var qps: Double
        var burst: Int
    }

    private let ceiling: Ceiling?
    /// The pace the server's throttling set; nil until it first throttles.
    private(set) var pace: Double?
    private var tokens: Double
    private var updated: ContinuousClock.Instant = .now
    private var lastDecrease: ContinuousClock.Instant?
    /// Instants of the requests the server accepted, over the last second.
    private var accepted: [ContinuousClock.Instant] = []
    private var acceptedStart = 0

    init(ceiling: Ceiling?) {
        self.ceiling = ceiling
        tokens = Double(max(ceiling?.burst ?? 1, 1))
    }

    /// The rate requests go out at now, nil when nothing holds them back.
    var rate: Double? {
        switch (pace, ceiling?.qps) {
        case let (pace?, qps?): min(pace, qps)
        case let (pace?, nil): pace
        case let (nil, qps?): qps
        case (nil, nil): nil
        }
    }

    /// Waits for the request's turn, in order.
    func acquire() async throws {
        guard let rate else { return }
        // Paced by the server: small bursts, so that the pace is what the server sees.
        let burst = pace == nil ? Double(ceiling?.burst ?? 1) : max(1, min(rate / 10, Double(ceiling?.burst ?? .max)))
        let now = ContinuousClock.now
        tokens = min(burst, tokens + (now - updated).inSeconds * rate)
        updated = now
        // Reserve the token now (possibly going negative) so that waiters keep their order.
        tokens -= 1
        if tokens < 0 {
            try await Task.sleep(for: .seconds(-tokens / rate))
        }
    }

    /// The server accepted a request.
    func succeeded() {
        let now = ContinuousClock.now
        accepted.append(now)
        forgetOldAccepted(now: now)
        if let pace, lastDecrease.map({ now - $0 > .seconds(2) }) ?? true {
            // About 5% a second at this pace: one step per request accepted. Far above anything
            // the server accepted, the pace no longer holds anything back.
            self.pace = pace + 0.05 > 100_000 ? nil : pace + 0.05
        }
    }

    /// The server throttled a request: pace at 90% of what it accepted over the last second,
    /// at most once per quarter second (one overload answers several requests in flight).
    func throttled() {
        let now = ContinuousClock.now
        if let lastDecrease, now - lastDecrease < .milliseconds(250) { return }
        lastDecrease = now
        forgetOldAccepted(now: now)
        // What it accepted over the last second. Just after a start that is the server's burst,
        // taken in a fraction of a second: counted over the whole second, not as the rate it
        // seemed, which overshoots many times and costs a refusal for each request sent too many.
        let acceptedRate = Double(accepted.count - acceptedStart)
        let base = min(pace ?? .infinity, acceptedRate > 0 ? acceptedRate : (pace ?? 1) / 2)
        pace = max(1, base * 0.9)
        tokens = min(tokens, 0)
    }

    private func forgetOldAccepted(now: ContinuousClock.Instant) {
        while acceptedStart < accepted.count, now - accepted[acceptedStart] > .seconds(1) { acceptedStart += 1 }
        if acceptedStart > 1024 {
            accepted.removeFirst(acceptedStart)
            acceptedStart = 0
        }
    }
}
