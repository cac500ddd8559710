import Synchronization
import TestSupport
import Testing
@testable import Sleep

@Suite("Permits")
struct PermitsTests {
    final class InFlight: Sendable {
        let state = Mutex((now: 0, most: 0, finished: 0))

        func enter() { state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) } }
        func leave() { state.withLock { $0.now -= 1; $0.finished += 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    @Test(arguments: [1, 4, 16])
    func neverMoreHoldersThanTheLimitAndEveryoneGetsATurn(limit: Int) async {
        let permits = Permits(limit: limit)
        let inFlight = InFlight()
        // Three callers at once, as three namespaces of one cluster would be.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    await withTaskGroup(of: Void.self) { objects in
                        for _ in 0..<40 {
                            objects.addTask {
                                await permits.withPermit {
                                    inFlight.enter()
                                    // Held until the limit is reached, so that reaching it is
                                    // checked too (bounded for a Permits that never lets it be).
                                    _ = await eventually(timeout: .seconds(10), every: .milliseconds(1)) { inFlight.most >= limit }
                                    inFlight.leave()
                                }
                            }
                        }
                    }
                }
            }
        }
        let state = inFlight.state.withLock { $0 }
        #expect(state.finished == 120)
        #expect(state.most == limit)
    }
}
