import Synchronization

/// Values appended from several tasks, read back in order.
public final class Recorder<Value: Sendable>: Sendable {
    private let storage = Mutex<[Value]>([])

    public init() {}

    public func append(_ value: Value) {
        storage.withLock { $0.append(value) }
    }

    public var values: [Value] { storage.withLock { $0 } }
}

/// A number that goes down by one on each `next()`, shared between tasks.
public final class Countdown: Sendable {
    private let value: Atomic<Int>

    public init(_ start: Int) {
        value = Atomic(start)
    }

    /// The value after subtracting one.
    public func next() -> Int {
        value.subtract(1, ordering: .relaxed).newValue
    }
}
