import Synchronization
import TestSupport
import Testing

@Suite("Awaited test cleanup")
struct AfterTestTests {
    /// The trait's scope returns only after the cleanups registered in it have run, the last
    /// declared first (as `defer`s run), and runs them when the test throws too.
    @Test func cleanupsRunBeforeTheScopeEndsInReverseOrder() async throws {
        let trait = AwaitingCleanup()
        let order = Mutex<[Int]>([])
        try await trait.provideScope(for: try #require(Test.current), testCase: try #require(Test.Case.current)) {
            defer { afterTest { try? await Task.sleep(for: .milliseconds(50)); order.withLock { $0.append(1) } } }
            defer { afterTest { order.withLock { $0.append(2) } } }
        }
        #expect(order.withLock { $0 } == [2, 1])

        struct Failure: Error {}
        await #expect(throws: Failure.self) {
            try await trait.provideScope(for: try #require(Test.current), testCase: try #require(Test.Case.current)) {
                defer { afterTest { order.withLock { $0.append(3) } } }
                throw Failure()
            }
        }
        #expect(order.withLock { $0 } == [2, 1, 3])
    }
}
