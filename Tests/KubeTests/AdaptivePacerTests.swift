import TestSupport
import Testing
@testable import Kube

/// The pace a throttling server sets, without a server: what the pacer does with the answers.
@Suite("Adaptive pacer")
struct AdaptivePacerTests {
    @Test func nothingIsHeldBackUntilTheServerThrottlesThenThePaceIsUnderWhatItAccepted() async throws {
        let pacer = AdaptivePacer(ceiling: nil)
        for _ in 0..<50 {
            await pacer.finished(generation: try await pacer.acquire(), status: 200)
        }
        #expect(await pacer.pace == nil)
        let (first, second, third) = (try await pacer.acquire(), try await pacer.acquire(), try await pacer.acquire())
        await pacer.finished(generation: first, status: 429)
        // 80% of the 50 accepted within the last second.
        #expect(await pacer.pace == 40)
        // One overload answers several requests in flight: one decrease for them all.
        await pacer.finished(generation: second, status: 429)
        #expect(await pacer.pace == 40)
        // Sent at the new pace while one sent before is still out, which takes what the server frees.
        let next = try await pacer.acquire()
        await pacer.finished(generation: next, status: 429)
        #expect(await pacer.pace == 40)
        // Refused with nothing older out: the pace is still too high.
        await pacer.finished(generation: third, status: 200)
        await pacer.finished(generation: try await pacer.acquire(), status: 429)
        #expect(await pacer.pace == 32)
    }

    @Test func aPaceNothingWaitsForIsNotRaised() async throws {
        let pacer = AdaptivePacer(ceiling: nil)
        for _ in 0..<100 { await pacer.finished(generation: try await pacer.acquire(), status: 200) }
        await pacer.finished(generation: try await pacer.acquire(), status: 429)
        let paced = try #require(await pacer.pace)
        try await Task.sleep(for: .milliseconds(600))
        // A quiet client: accepted requests, none of them held back.
        for _ in 0..<100 { await pacer.succeeded() }
        #expect(await pacer.pace == paced)
        // A busy one: requests wait for their turn, and the server keeps accepting (as many as it
        // takes for some to wait on a loaded machine, where each may come after its turn).
        for _ in 0..<200 where try #require(await pacer.pace) <= paced {
            await pacer.finished(generation: try await pacer.acquire(), status: 200)
        }
        #expect(try #require(await pacer.pace) > paced)
    }

    @Test func waitingRequestsGoOutAtTheNewPaceAtOnce() async throws {
        let pacer = AdaptivePacer(ceiling: nil)
        await pacer.finished(generation: try await pacer.acquire(), status: 200)
        await pacer.finished(generation: try await pacer.acquire(), status: 429)
        #expect(await pacer.pace == 1)
        // After the first refusal the pace may rise from half a second on.
        try await Task.sleep(for: .milliseconds(600))
        // One a second: the ten wait (no whole turn saved up yet), eight of them for seven seconds or more.
        var start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 { group.addTask { try await pacer.acquire() } }
            #expect(await eventually(timeout: .seconds(60), every: .milliseconds(1)) { await pacer.waiting >= 8 })
            start = ContinuousClock.now
            // Meanwhile the server accepts plenty: the pace rises, and the queue follows it.
            for _ in 0..<200 { await pacer.succeeded() }
            try await group.waitForAll()
        }
        #expect(try #require(await pacer.pace) > 100)
        #expect(ContinuousClock.now - start < .seconds(4), "the old pace would have taken 7 s")
    }
}
