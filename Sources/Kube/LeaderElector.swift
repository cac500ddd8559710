import Foundation
import JSON

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: acquire when the
/// lease is free or expired, renew every `retryPeriod`, give up leadership when renewals fail
/// for `renewDeadline`, and release the lease on shutdown so another replica takes over at once.
public actor LeaderElector {
    public struct Configuration: Sendable {
        public var leaseName: String
        public var namespace: String
        public var identity: String
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)

        public init(leaseName: String, namespace: String, identity: String) {
            self.leaseName = leaseName
            self.namespace = namespace
            self.identity = identity
        }
    }

    public let configuration: Configuration
    private let client: KubeClient
    private let now: @Sendable () -> Date
    public private(set) var isLeader = false
    /// The holder last seen on the lease (this replica or another).
    public private(set) var observedHolder: String?

    public init(client: KubeClient, configuration: Configuration, now: @escaping @Sendable () -> Date = Date.init) {
        self.client = client
        self.configuration = configuration
        self.now = now
    }

    /// Runs `whileLeading` each time leadership is won; it is cancelled when leadership is lost.
    /// Returns when the calling task is cancelled, after releasing the lease if held.
    public func run(whileLeading: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            while !Task.isCancelled, !(await tryAcquireOrRenew()) {
                try? await Task.sleep(for: configuration.retryPeriod * Double.random(in: 1.0...1.2))
            }
            guard !Task.isCancelled else { break }
            isLeader = true
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await whileLeading() }
                group.addTask { await self.keepRenewing() }
                await group.next()
                // Not leading from now on, while the work winds down: nothing new starts.
                isLeader = false
                group.cancelAll()
            }
        }
        // Release in a task of its own: this one is cancelled and would cancel the request. A failing server
        // is given the renew deadline, not the client's minute of retries: shutdown must not hang on it.
        await Task { await self.within(configuration.renewDeadline) { await self.release() } }.value
    }

    /// Renews until no renewal has succeeded for the renew deadline, or the task is cancelled.
    /// An attempt still under way at the deadline (the client retrying a failing server) is
    /// cut short: the replica must stop acting before another may take the expired lease.
    private func keepRenewing() async {
        var lastRenewal = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.retryPeriod)
            let started = ContinuousClock.now
            let remaining = configuration.renewDeadline - (started - lastRenewal)
            if Task.isCancelled || remaining <= .zero { return }
            if await within(remaining, { await self.tryAcquireOrRenew() }) == true {
                lastRenewal = started
            } else if ContinuousClock.now - lastRenewal >= configuration.renewDeadline {
                return  // the attempt was cut at the deadline: step down now, not a retry period later
            }
        }
    }

    /// The result of `attempt`, or nil when it has not finished within `limit` (it is then cancelled).
    private func within<T: Sendable>(_ limit: Duration, _ attempt: @escaping @Sendable () async -> T) async -> T? {
        await withTaskGroup(of: T?.self) { group in
            group.addTask { await attempt() }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// One attempt to take or keep the lease; true when this replica holds it afterwards.
    public func tryAcquireOrRenew() async -> Bool {
        let time = now()
        let seconds = Int(configuration.leaseDuration.components.seconds)
        do {
            var lease: Lease
            do {
                lease = try await client.get(Lease.self, namespace: configuration.namespace, name: configuration.leaseName)
            } catch let error as KubeError where error.isNotFound {
                var fresh = Lease(name: configuration.leaseName, namespace: configuration.namespace)
                fresh.holderIdentity = configuration.identity
                fresh.leaseDurationSeconds = seconds
                fresh.acquireTime = time
                fresh.renewTime = time
                fresh.leaseTransitions = 0
                _ = try await client.create(fresh)
                observedHolder = configuration.identity
                return true
            }
            observedHolder = lease.holderIdentity
            let holder = lease.holderIdentity
            if let holder, holder != configuration.identity, let renewed = lease.renewTime,
               renewed.addingTimeInterval(TimeInterval(lease.leaseDurationSeconds ?? seconds)) > time {
                return false
            }
            if holder != configuration.identity {
                lease.leaseTransitions += holder == nil ? 0 : 1
                lease.acquireTime = time
            }
            lease.holderIdentity = configuration.identity
            lease.leaseDurationSeconds = seconds
            lease.renewTime = time
            _ = try await client.update(lease)
            observedHolder = configuration.identity
            return true
        } catch {
            return false
        }
    }

    /// Gives the lease up if this replica holds it.
    public func release() async {
        guard var lease = try? await client.get(Lease.self, namespace: configuration.namespace, name: configuration.leaseName),
              lease.holderIdentity == configuration.identity
        else { return }
        lease.holderIdentity = nil
        lease.leaseDurationSeconds = 1
        lease.renewTime = now()
        if (try? await client.update(lease)) != nil { observedHolder = nil }
    }
}
