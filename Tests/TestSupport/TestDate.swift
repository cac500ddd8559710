import Foundation
import Synchronization

/// A wall-clock time a test sets and advances, handed to code that takes a `() -> Date` seam.
public final class TestDate: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date) { current = Mutex(start) }

    @Sendable public func read() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0.addTimeInterval(seconds) } }
}
