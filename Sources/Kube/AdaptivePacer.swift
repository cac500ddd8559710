import Foundation
import Scheduling

/// Client-side pacing that follows the server instead of a fixed rate. Nothing is held back
/// until the server throttles (429, as API Priority and Fairness answers when a client pushes
/// too hard); then requests are paced at 80% of the rate the server accepted over the last
/// second, and the pace rises while the server keeps accepting and the pace is what holds
/// requests back, probing for more: doubling every second after the first refusal (whose
/// estimate is the server's burst, possibly far under its rate), then by 5% a second from two
/// seconds after each later one.
/// `ceiling` (`client.qps`/`burst` in a cluster file) is a hard cap on top.
///
/// Waiting requests queue in order, and each turn is given at the pace of the moment it comes:
/// a change of pace applies at once to everyone waiting (turns worked out in advance bunched
/// up when the pace rose, and went out too soon when it fell).
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
    private var decreases = 0
    /// Requests let through and not yet answered, by the generation of the pace they went out under.
    private var inFlight: [Int: Int] = [:]
    /// When a request last waited for its turn: a pace nothing waits for is not raised, or it
    /// would grow past the server's rate while the client is quiet and overshoot when it is not.
    private var lastHeldBack: ContinuousClock.Instant?
    /// Instants of the requests the server accepted, over the last second.
    private var accepted: [ContinuousClock.Instant] = []
    private var acceptedStart = 0
    /// Requests waiting for their turn, first come first served.
    private var waiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextWaiter = 0
    /// The task handing out turns while anyone waits.
    private var turns: Task<Void, Never>?

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

    /// How many requests wait for their turn.
    var waiting: Int { waiters.count }

    /// Waits for the request's turn, in order; throws if the task is cancelled meanwhile. Returns
    /// the pace's generation the request goes out under, for ``finished(generation:status:)``.
    @discardableResult
    func acquire() async throws -> Int {
        if waiters.isEmpty, takeToken() { return letThrough() }
        let id = nextWaiter
        nextWaiter += 1
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                guard !Task.isCancelled else { return continuation.resume(throwing: CancellationError()) }
                waiters.append((id, continuation))
                if turns == nil { turns = Task { await self.giveTurns() } }
            }
        } onCancel: {
            Task { await self.cancel(id) }
        }
        return letThrough()
    }

    private func letThrough() -> Int {
        inFlight[decreases, default: 0] += 1
        return decreases
    }

    /// A request let through by `acquire` (under `generation`) was answered with `status`, or
    /// not answered at all (nil).
    func finished(generation: Int, status: Int?) {
        if let count = inFlight[generation] { inFlight[generation] = count > 1 ? count - 1 : nil }
        switch status {
        case 429?: throttled(generation: generation)
        case let status? where status < 500: succeeded()
        default: break
        }
    }

    /// A token now if the pace allows one (always when nothing holds requests back).
    private func takeToken() -> Bool {
        guard let rate else { return true }
        // Paced by the server: small bursts, so that the pace is what the server sees.
        let burst = pace == nil ? Double(ceiling?.burst ?? 1) : max(1, min(rate / 10, Double(ceiling?.burst ?? .max)))
        let now = ContinuousClock.now
        tokens = min(burst, tokens + (now - updated).inSeconds * rate)
        updated = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    private func giveTurns() async {
        while !waiters.isEmpty {
            if takeToken() {
                waiters.removeFirst().continuation.resume()
                continue
            }
            lastHeldBack = .now
            // The wait for the next token at the pace of now; a changed pace is read after it (a
            // tenth of a second at most).
            let rate = self.rate ?? 1
            try? await Task.sleep(for: .seconds(min(0.1, max(0.001, (1 - tokens) / rate))))
        }
        turns = nil
    }

    private func cancel(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    /// The server accepted a request.
    func succeeded() {
        let now = ContinuousClock.now
        accepted.append(now)
        forgetOldAccepted(now: now)
        // A step per request accepted: about 100% a second at this pace after the first refusal,
        // 5% after the later ones. Far above anything the server accepted, the pace no longer
        // holds anything back.
        let (hold, step) = decreases == 1 ? (Duration.milliseconds(500), 1.0) : (.seconds(2), 0.05)
        if let pace, lastDecrease.map({ now - $0 > hold }) ?? true, lastHeldBack.map({ now - $0 < .seconds(1) }) ?? false {
            self.pace = pace + step > 100_000 ? nil : pace + step
        }
    }

    /// The server throttled a request that went out under `generation` (what `acquire` returned):
    /// pace at 80% of what it accepted over the last second, deep enough that the server's bucket
    /// fills again (at 90% the refusals went on for a while). A request let through before the
    /// last decrease says nothing new: one overload answers all the requests then in flight. Nor
    /// does one let through after it while those are still out (up to a second), since they take
    /// what the server frees; after that, a refusal says the pace is still too high.
    private func throttled(generation: Int) {
        let now = ContinuousClock.now
        guard generation == decreases else { return }
        if let lastDecrease, now - lastDecrease < .seconds(1), inFlight.keys.contains(where: { $0 < generation }) { return }
        lastDecrease = now
        decreases += 1
        forgetOldAccepted(now: now)
        // What it accepted over the last second. Just after a start that is the server's burst,
        // taken in a fraction of a second: counted over the whole second, not as the rate it
        // seemed, which overshoots many times and costs a refusal for each request sent too many.
        let acceptedRate = Double(accepted.count - acceptedStart)
        let base = min(pace ?? .infinity, acceptedRate > 0 ? acceptedRate : (pace ?? 1) / 2)
        pace = max(1, base * 0.8)
        // No turn saved up before the refusal (nor since the last one, when nothing was paced).
        tokens = min(tokens, 0)
        updated = now
    }

    private func forgetOldAccepted(now: ContinuousClock.Instant) {
        while acceptedStart < accepted.count, now - accepted[acceptedStart] > .seconds(1) { acceptedStart += 1 }
        if acceptedStart > 1024 {
            accepted.removeFirst(acceptedStart)
            acceptedStart = 0
        }
    }
}
