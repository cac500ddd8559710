import Foundation
import Synchronization
import Testing

/// Cleanup a test awaits before it ends: servers, simulators and hubs stopped while their test is
/// still running, not left to load the machine under the next tests. `defer { afterTest { … } }`
/// in a test of a suite with the `.awaitingCleanup` trait.
public func afterTest(_ action: @escaping @Sendable () async -> Void) {
    guard let cleanups = TestCleanups.current else {
        // Outside the trait there is nobody to await it.
        Task { await action() }
        return
    }
    cleanups.add(action)
}

/// What `afterTest` registered during the current test, run in that order when it ends: the
/// order their `defer`s ran, the last declared first, as plain `defer`s would.
final class TestCleanups: Sendable {
    @TaskLocal static var current: TestCleanups?
    private let actions = Mutex<[@Sendable () async -> Void]>([])

    func add(_ action: @escaping @Sendable () async -> Void) {
        actions.withLock { $0.append(action) }
    }

    func run() async {
        for action in actions.withLock({ $0 }) { await action() }
    }
}

/// Runs each test of a suite with a place for `afterTest` cleanups, and awaits them, passed or failed.
public struct AwaitingCleanup: SuiteTrait, TestTrait, TestScoping {
    public init() {}

    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        let cleanups = TestCleanups()
        do {
            try await TestCleanups.$current.withValue(cleanups) { try await function() }
        } catch {
            await cleanups.run()
            throw error
        }
        await cleanups.run()
    }
}

extension Trait where Self == AwaitingCleanup {
    /// Each test awaits what it registered with `afterTest` before it counts as ended.
    public static var awaitingCleanup: AwaitingCleanup { AwaitingCleanup() }
}
