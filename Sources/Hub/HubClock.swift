import Foundation
import Synchronization

/// The hub's sense of time: what the schedules, overrides and plugins see as "now", and how
/// long to wait until a moment. Injected so that tests can move time and the demo can run it faster.
public protocol HubClock: Sendable {
    var now: Date { get }
    /// Returns at `deadline` (hub time) or when cancelled.
    func sleep(until deadline: Date) async throws
}

/// Wall-clock time.
public struct SystemClock: HubClock {
    public init() {}

    public var now: Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let interval = deadline.timeIntervalSinceNow
        if interval > 0 { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }
    }
}

/// Time running `speed` times faster than the wall clock from `start` (`sandman demo --speed`).
public struct WarpedClock: HubClock {
    public let speed: Double
    private let origin: ContinuousClock.Instant
    private let start: Date

    public init(speed: Double, start: Date = Date()) {
        self.speed = max(speed, 0.001)
        self.origin = .now
        self.start = start
    }

    public var now: Date {
        let elapsed = ContinuousClock.now - origin
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return start.addingTimeInterval(seconds * speed)
    }

    public func sleep(until deadline: Date) async throws {
        let interval = deadline.timeIntervalSince(now) / speed
        if interval > 0 { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }
    }
}

/// Time that moves only when told to (tests). Sleepers wake as soon as time passes their deadline.
public final class ManualClock: HubClock {
    private struct Sleeper {
        var deadline: Date
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Date
        var sleepers: [UUID: Sleeper] = [:]
        var cancelled: Set<UUID> = []
    }

    private let state: Mutex<State>

    public init(now: Date) {
        state = Mutex(State(now: now))
    }

    public var now: Date { state.withLock { $0.now } }

    public func set(_ date: Date) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = date
            let due = state.sleepers.filter { $0.value.deadline <= date }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    public func advance(by interval: TimeInterval) {
        set(now.addingTimeInterval(interval))
    }

    public func sleep(until deadline: Date) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Void, any Error>? in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
