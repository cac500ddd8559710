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
                    let batch = await permits.newBatch()
                    await withTaskGroup(of: Void.self) { objects in
                        for _ in 0..<40 {
                            objects.addTask {
                                await permits.withPermit(batch: batch) {
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

    /// The limit follows the cluster's answers: holders are let in up to the new limit as soon
    /// as one leaves when it rises, and not replaced until under it when it falls.
    @Test func aChangedLimitIsFollowedAtTheNextRelease() async {
        final class Setting: Sendable {
            let limit = Mutex(2)
            let stage = Mutex(0)
        }
        let setting = Setting()
        let permits = Permits { setting.limit.withLock { $0 } }
        let inFlight = InFlight()
        await withTaskGroup(of: Void.self) { group in
            let batch = await permits.newBatch()
            for _ in 0..<30 {
                group.addTask {
                    await permits.withPermit(batch: batch) {
                        inFlight.enter()
                        let entered = setting.stage.withLock { $0 }
                        // Each holder stays until the stage it entered in is over (all go at the last).
                        _ = await eventually(timeout: .seconds(10), every: .milliseconds(1)) { setting.stage.withLock { $0 > entered || $0 == 100 } }
                        inFlight.leave()
                    }
                }
            }
            #expect(await eventually(timeout: .seconds(10), every: .milliseconds(1)) { inFlight.state.withLock { $0.now } == 2 })
            setting.limit.withLock { $0 = 6 }
            setting.stage.withLock { $0 = 1 }
            #expect(await eventually(timeout: .seconds(10), every: .milliseconds(1)) { inFlight.state.withLock { $0.now } == 6 })
            setting.limit.withLock { $0 = 3 }
            setting.stage.withLock { $0 = 2 }
            #expect(await eventually(timeout: .seconds(10), every: .milliseconds(1)) { inFlight.state.withLock { $0.now } == 3 })
            setting.stage.withLock { $0 = 100 }
        }
        #expect(inFlight.state.withLock { $0.finished } == 30)
        #expect(inFlight.most == 6)
    }

    final class ServedLog: Sendable {
        let state = Mutex((holding: false, released: false, served: [String]()))
    }

    @Test func theOldestBatchIsServedFirstAndEachInTheOrderItsWorkCame() async throws {
        let permits = Permits(limit: 1)
        let older = await permits.newBatch()
        let newer = await permits.newBatch()
        let log = ServedLog()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await permits.withPermit(batch: older) {
                    log.state.withLock { $0.holding = true }
                    _ = await eventually(timeout: .seconds(10), every: .milliseconds(1)) { log.state.withLock { $0.released } }
                }
            }
            _ = await eventually(timeout: .seconds(10), every: .milliseconds(1)) { log.state.withLock { $0.holding } }
            // The newer namespace's objects wait first, then the older one's.
            for (batch, name) in [(newer, "newer 1"), (newer, "newer 2"), (older, "older 1"), (older, "older 2")] {
                let waiting = await permits.waiting
                group.addTask { await permits.withPermit(batch: batch) { log.state.withLock { $0.served.append(name) } } }
                _ = await eventually(timeout: .seconds(10), every: .milliseconds(1)) { await permits.waiting == waiting + 1 }
            }
            log.state.withLock { $0.released = true }
        }
        #expect(log.state.withLock { $0.served } == ["older 1", "older 2", "newer 1", "newer 2"])
    }
}
