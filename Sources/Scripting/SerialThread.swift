import Foundation

/// A thread of our own that runs closures one after another, so blocking work (reading files,
/// compiling Lua) never occupies Swift's cooperative pool. Async callers wait on a continuation.
final class SerialThread: @unchecked Sendable {
    private let name: String
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var running = false
    private var stopped = false

    init(name: String) {
        self.name = name
    }

    /// Runs `body` on the thread and returns its result.
    func perform<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { continuation in
            submit { continuation.resume(returning: body()) }
        }
    }

    /// Lets queued work finish, then ends the thread.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        jobs.append(job)
        if !running {
            running = true
            let thread = Thread { [self] in loop() }
            thread.name = name
            thread.start()
        } else {
            condition.signal()
        }
    }

    private func loop() {
        condition.lock()
        while true {
            while jobs.isEmpty, !stopped {
                condition.wait()
            }
            if jobs.isEmpty {
                running = false
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
