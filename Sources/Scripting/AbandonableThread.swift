import Foundation

/// Runs one blocking job on a new thread and waits for it until a time limit; past the limit the
/// caller goes on and the thread is left to finish alone. For callers that own their thread and
/// must not be held by a job that cannot be interrupted (the test runner).
enum AbandonableThread {
    enum Outcome<Value> {
        case finished(Value)
        /// The job was still running when the caller stopped waiting, after this long.
        case abandoned(after: Duration)
    }

    /// A value that is not `Sendable`, handed from a job's thread to the next one: it is used
    /// by one thread at a time, and the hand-over goes through the waiting caller.
    struct Handoff<Value>: @unchecked Sendable {
        let value: Value

        init(_ value: Value) {
            self.value = value
        }
    }

    private final class Slot<Value>: @unchecked Sendable {
        let condition = NSCondition()
        var value: Value?
    }

    static func run<Value>(name: String, within limit: Duration, _ body: @escaping @Sendable () -> Value) -> Outcome<Value> {
        let handoff = Slot<Value>()
        let start = ContinuousClock.now
        let thread = Thread {
            let value = body()
            handoff.condition.lock()
            handoff.value = value
            handoff.condition.signal()
            handoff.condition.unlock()
        }
        thread.name = name
        thread.start()
        let deadline = Date.now.addingTimeInterval(limit.timeInterval)
        handoff.condition.lock()
        defer { handoff.condition.unlock() }
        while handoff.value == nil {
            guard handoff.condition.wait(until: deadline) || handoff.value != nil else {
                return .abandoned(after: .now - start)
            }
        }
        return .finished(handoff.value!)
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
