import Foundation
import Scheduling
import TestSupport
import Testing
@testable import Kube

/// The count of patches in flight against simulated servers, played out in time: a client that
/// sends a new request whenever one comes back and the limit allows, to a server `latency` away
/// that serves `workers` requests at a time for `service` each, first come first served.
struct ConcurrencyLimitTests {
    struct Server: Sendable, CustomTestStringConvertible {
        var name: String
        var latency: Duration
        var service: Duration
        var workers: Int
        /// Where the limit should settle.
        var expected: ClosedRange<Int>
        var testDescription: String { name }

        /// Requests answered per second at most: the workers' rate, or the window over the trip.
        func capacity(window: Int) -> Double {
            min(Double(workers) / service.inSeconds, Double(window) / (latency + service).inSeconds)
        }

        /// Plays `answers` answers; returns the answers per second over the second half.
        func play(_ limit: inout ConcurrencyLimit, answers: Int, demand: Int = .max) -> Double {
            let start = ContinuousClock.now
            var now = Duration.zero
            var workersFree = [Duration](repeating: .zero, count: workers)
            var pending: [(done: Duration, sent: Duration, inFlight: Int)] = []
            func send() {
                let arrival = now + latency / 2
                let worker = workersFree.indices.min { workersFree[$0] < workersFree[$1] }!
                let finish = max(arrival, workersFree[worker]) + service
                workersFree[worker] = finish
                pending.append((finish + latency / 2, now, pending.count + 1))
            }
            var answered = 0
            var halfway: (count: Int, at: Duration)?
            while answered < answers {
                while pending.count < min(limit.limit, demand) { send() }
                let next = pending.indices.min { pending[$0].done < pending[$1].done }!
                let answer = pending.remove(at: next)
                now = answer.done
                limit.answered(after: answer.done - answer.sent, inFlight: answer.inFlight, at: start + now)
                answered += 1
                if answered == answers / 2 { halfway = (answered, now) }
            }
            guard let halfway else { return 0 }
            return Double(answered - halfway.count) / (now - halfway.at).inSeconds
        }
    }

    @Test(arguments: [
        // Far away and answering in parallel: as many as allowed.
        Server(name: "10 ms away, parallel", latency: .milliseconds(10), service: .microseconds(100), workers: 100, expected: 64...64),
        Server(name: "50 ms away, parallel", latency: .milliseconds(50), service: .milliseconds(1), workers: 100, expected: 64...64),
        // Near and busy with its CPU: a few beyond what it serves at once, not the whole window.
        Server(name: "near, 2 at a time", latency: .microseconds(100), service: .milliseconds(1), workers: 2, expected: 3...12),
        // 10 at a time 10 ms away: the trip holds about 30, and a few queue beyond.
        Server(name: "10 ms away, 10 at a time", latency: .milliseconds(10), service: .milliseconds(5), workers: 10, expected: 30...44),
    ])
    func settlesWhereTheServerStopsAnsweringFasterAndKeepsItsPace(server: Server) {
        var limit = ConcurrencyLimit(initial: 16, bounds: 2...64)
        let rate = server.play(&limit, answers: 20_000)
        #expect(server.expected.contains(limit.limit), "limit \(limit.limit)")
        #expect(rate >= 0.9 * server.capacity(window: 64), "\(rate) answers/s of \(server.capacity(window: 64))")
    }

    @Test func aLimitNeverReachedDoesNotGrow() {
        var limit = ConcurrencyLimit(initial: 16, bounds: 2...64)
        let server = Server(name: "far", latency: .milliseconds(10), service: .microseconds(100), workers: 100, expected: 16...16)
        _ = server.play(&limit, answers: 5_000, demand: 5)
        #expect(limit.limit == 16)
    }

    @Test func staysWithinItsBoundsWhateverTheAnswers() {
        var generator = SeededGenerator()
        for _ in 0..<200 {
            let lower = Int.random(in: 1...8, using: &generator), upper = Int.random(in: lower...80, using: &generator)
            var limit = ConcurrencyLimit(initial: Int.random(in: 0...100, using: &generator), bounds: lower...upper)
            var now = ContinuousClock.now
            for _ in 0..<500 {
                now += .microseconds(Int.random(in: 0...20_000, using: &generator))
                limit.answered(
                    after: .microseconds(Int.random(in: 1...100_000, using: &generator)),
                    inFlight: Int.random(in: 1...100, using: &generator), at: now
                )
                #expect((lower...upper).contains(limit.limit), "seed \(generator.seed)")
            }
        }
    }
}
