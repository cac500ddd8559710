import Foundation
import Testing
@testable import Hub

@Suite("Cluster health")
struct ClusterHealthTests {
    enum Probe { case ok, refused, answeredWithError }

    /// Probes one second apart with a 30 s threshold, and (ready, reachable) after the last.
    @Test(arguments: [
        ([Probe](), false, false),
        ([.ok], true, true),
        ([.refused], false, false),
        ([.answeredWithError], false, true),
        // One lost probe after working is not an outage...
        ([.ok, .refused], true, true),
        // ...thirty seconds of them are, and the server is then unreachable.
        ([.ok] + Array(repeating: .refused, count: 32), false, false),
        // A server that answers with errors for as long is not ready, but reachable.
        ([.ok] + Array(repeating: .answeredWithError, count: 32), false, true),
        ([.ok] + Array(repeating: .refused, count: 32) + [.ok], true, true),
    ] as [([Probe], Bool, Bool)])
    func readinessAndReachability(probes: [Probe], ready: Bool, reachable: Bool) {
        var health = ClusterHealth()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for (index, probe) in probes.enumerated() {
            let time = start.addingTimeInterval(Double(index))
            switch probe {
            case .ok: health.recordSuccess(at: time, version: "v1", latency: .milliseconds(1))
            case .refused: health.recordFailure(at: time, error: "unreachable", answered: false, threshold: 30)
            case .answeredWithError: health.recordFailure(at: time, error: "401", answered: true, threshold: 30)
            }
        }
        #expect(health.ready == ready)
        #expect(health.reachable == reachable)
    }
}
