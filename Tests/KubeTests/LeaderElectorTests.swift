import Foundation
import Kube
import KubeSim
import TestSupport
import Testing

@Suite("Lease leader election", .awaitingCleanup)
struct LeaderElectorTests {
    private func elector(_ client: KubeClient, identity: String) -> LeaderElector {
        var configuration = LeaderElector.Configuration(leaseName: "sandman-staging", namespace: "default", identity: identity)
        // Long enough that a loaded machine renews in time; the tests never wait for an expiry.
        configuration.leaseDuration = .seconds(30)
        configuration.renewDeadline = .seconds(8)
        configuration.retryPeriod = .milliseconds(200)
        return LeaderElector(client: client, configuration: configuration)
    }

    @Test func oneLeaderAtATimeAndHandOverOnRelease() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        let first = elector(client, identity: "hub-a")
        let second = elector(client, identity: "hub-b")
        let leading = Recorder<String>()

        let runFirst = Task { await first.run { leading.append("hub-a"); try? await Task.sleep(for: .seconds(60)) } }
        #expect(await eventually { leading.values == ["hub-a"] })
        let runSecond = Task { await second.run { leading.append("hub-b"); try? await Task.sleep(for: .seconds(60)) } }
        #expect(await eventually { await second.observedHolder == "hub-a" })
        #expect(leading.values == ["hub-a"])
        #expect(await first.isLeader)
        #expect(await !second.isLeader)
        #expect(await second.observedHolder == "hub-a")

        let lease = try await client.get(Lease.self, namespace: "default", name: "sandman-staging")
        #expect(lease.holderIdentity == "hub-a")
        #expect(lease.leaseDurationSeconds == 30)
        #expect(lease.renewTime != nil)

        // Shutting down releases the lease: the other replica takes over without waiting for expiry.
        runFirst.cancel()
        await runFirst.value
        // Released rather than left to expire: the other replica takes over before the lease would expire.
        #expect(await eventually(timeout: .seconds(25)) { leading.values.count == 2 })
        #expect(leading.values == ["hub-a", "hub-b"])
        let taken = try await client.get(Lease.self, namespace: "default", name: "sandman-staging")
        #expect(taken.holderIdentity == "hub-b")
        // A released lease changes hands without counting a transition; an expired one counts one.
        #expect(taken.leaseTransitions == 0)
        runSecond.cancel()
        await runSecond.value
    }

    @Test func anExpiredLeaseIsTakenOverAndCounted() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        var stale = Lease(name: "sandman-staging", namespace: "default")
        stale.holderIdentity = "crashed-hub"
        stale.leaseDurationSeconds = 2
        stale.renewTime = Date().addingTimeInterval(-30)
        stale.acquireTime = Date().addingTimeInterval(-100)
        stale.leaseTransitions = 3
        _ = try await client.create(stale)
        let elector = elector(client, identity: "hub-b")
        #expect(await elector.tryAcquireOrRenew())
        let lease = try await client.get(Lease.self, namespace: "default", name: "sandman-staging")
        #expect(lease.holderIdentity == "hub-b")
        #expect(lease.leaseTransitions == 4)

        let fresh = self.elector(client, identity: "hub-c")
        #expect(await !fresh.tryAcquireOrRenew())
        #expect(await fresh.observedHolder == "hub-b")
    }

    @Test func leadershipIsLostWhenRenewalsFail() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient { $0.retry = .none }
        let elector = elector(client, identity: "hub-a")
        let ended = Recorder<String>()
        let run = Task {
            await elector.run {
                try? await Task.sleep(for: .seconds(60))
                ended.append(Task.isCancelled ? "cancelled" : "finished")
            }
        }
        #expect(await eventually { await elector.isLeader })
        cluster.sim.setFaults(.init(errorRate: 1))
        #expect(await eventually { !ended.values.isEmpty })
        // The work was cancelled once renewals had failed for the renew deadline.
        #expect(ended.values == ["cancelled"])
        run.cancel()
        await run.value
    }

    /// The hub's client retries failing requests for seconds; the renew deadline still holds:
    /// leadership ends before the lease the last renewal wrote can expire for another replica.
    @Test func leadershipEndsByTheRenewDeadlineWhileTheClientIsStillRetrying() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient { $0.retry = RetryPolicy(maxAttempts: 10, baseDelay: .seconds(1), maxDelay: .seconds(10)) }
        var configuration = LeaderElector.Configuration(leaseName: "sandman-staging", namespace: "default", identity: "hub-a")
        configuration.leaseDuration = .seconds(8)
        configuration.renewDeadline = .seconds(3)
        configuration.retryPeriod = .milliseconds(200)
        let elector = LeaderElector(client: client, configuration: configuration)
        let ended = Recorder<Duration>()
        let start = ContinuousClock.now
        let run = Task {
            await elector.run {
                try? await Task.sleep(for: .seconds(60))
                ended.append(ContinuousClock.now - start)
            }
        }
        #expect(await eventually { await elector.isLeader })
        let since = ContinuousClock.now - start
        cluster.sim.setFaults(.init(errorRate: 1, errorStatus: 503))
        #expect(await eventually(timeout: .seconds(20)) { !ended.values.isEmpty })
        let stepDown = try #require(ended.values.first) - since
        // The bound that matters: stepped down before another replica may take the lease (8 s after the last
        // renewal). Without the deadline the client's retries (1 s, 2 s, 4 s, ...) would hold on for a minute.
        #expect(stepDown < .seconds(8), "acted \(stepDown) after the faults began, lease duration 8 s")
        #expect(await !elector.isLeader)
        // Shutting down tries to release the lease for the renew deadline, not for the client's minute of retries.
        let shutdown = ContinuousClock.now
        run.cancel()
        await run.value
        #expect(ContinuousClock.now - shutdown < .seconds(20))
    }
}
