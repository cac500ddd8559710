import Config
import Foundation
import JSON
import Kube
import Sleep

/// Hands a cluster, or some of its namespaces, back to kube-green: removes what Sandman adds to
/// SleepInfos (its `sandman.dev/wake-on-delete` finalizer, which would hold a deletion forever
/// once no hub runs, and the `sandman.dev/override` annotation), leaves every state Secret as
/// kube-green reads it, and names what kube-green would not wake or would read differently.
/// Run it with no hub acting on the cluster, or the hub adds its finalizer back.
public enum KubeGreenRelease {
    public struct Report: Sendable {
        /// `namespace/name` of each SleepInfo released.
        public var released: [String] = []
        /// `namespace/name` of each state Secret rewritten for kube-green.
        public var rewrittenSecrets: [String] = []
        /// What kube-green will not do after the move: each must be dealt with before it.
        public var problems: [String] = []
        /// Where kube-green reads a SleepInfo differently from Sandman.
        public var warnings: [String] = []
    }

    /// The Lease whose holder runs the agent of `cluster` when hub replicas elect leaders.
    public static func leaseName(cluster: String) -> String {
        "sandman-\(cluster)"
    }

    /// The identity of a hub replica that holds `cluster`'s Lease now, if any.
    public static func activeHub(cluster: String, election: HubConfiguration.LeaderElection, home: KubeClient, now: Date) async throws -> String? {
        let lease: Lease
        do {
            lease = try await home.get(Lease.self, namespace: election.namespace, name: leaseName(cluster: cluster))
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
        guard let holder = lease.holderIdentity, let renewed = lease.renewTime else { return nil }
        let duration = TimeInterval(lease.leaseDurationSeconds ?? Int(election.leaseDuration.components.seconds))
        return renewed.addingTimeInterval(duration) > now ? holder : nil
    }

    /// Releases the SleepInfos of `namespaces` (every namespace when empty).
    public static func run(client: KubeClient, namespaces: [String]) async throws -> Report {
        var report = Report()
        var sleepInfos: [SleepInfo] = []
        var secrets: [Secret] = []
        let stateSecrets = ListOptions(labelSelector: "\(RestoreSecret.managedByLabel)=kube-green")
        for namespace in namespaces.isEmpty ? [nil] : namespaces.map(Optional.some) {
            sleepInfos += try await client.list(SleepInfo.self, namespace: namespace)
            secrets += try await client.list(Secret.self, namespace: namespace, options: stateSecrets)
        }
        let owned = Set(sleepInfos.map { "\($0.namespace ?? "")/\(RestoreSecret.name(forSleepInfo: $0.name))" })
        for secret in secrets.sorted(by: { key($0) < key($1) }) {
            try await check(secret, hasSleepInfo: owned.contains(key(secret)), client: client, into: &report)
        }
        for sleepInfo in sleepInfos.sorted(by: { key($0) < key($1) }) {
            report.warnings += differences(sleepInfo).map { "\(key(sleepInfo)): \($0)" }
            let metadata = sleepInfo.metadata
            if metadata.deletionTimestamp != nil, metadata.finalizers.contains(ClusterAgent.finalizer), try await isAsleep(sleepInfo, client: client) {
                report.problems.append("\(key(sleepInfo)): being deleted while asleep, which deletes its restore data: wake the namespace with sandman first")
                continue
            }
            if try await release(sleepInfo, client: client) { report.released.append(key(sleepInfo)) }
        }
        return report
    }

    private static func key(_ resource: some KubeResource) -> String {
        "\(resource.namespace ?? "")/\(resource.name)"
    }

    /// Rewrites a state Secret kube-green would misread; a problem when it holds a sleep that no
    /// SleepInfo will wake (a hub schedule's).
    private static func check(_ secret: Secret, hasSleepInfo: Bool, client: KubeClient, into report: inout Report) async throws {
        let contents: RestoreSecret.Contents
        do {
            contents = try RestoreSecret.read(secret)
            if let rewritten = try RestoreSecret.keyedForKubeGreen(secret) {
                _ = try await client.update(rewritten)
                report.rewrittenSecrets.append(key(secret))
            }
        } catch let error as RestoreSecretError {
            report.problems.append("\(key(secret)): unreadable (\(error)): kube-green cannot wake from it either")
            return
        }
        if !hasSleepInfo, contents.operation == .sleep, !contents.restore.isEmpty {
            let schedule = secret.name.dropFirst("sleepinfo-".count)
            report.problems.append(
                "\(key(secret)): \(contents.restore.count) objects asleep with no SleepInfo \(schedule) (a hub schedule): "
                    + "kube-green will not wake them; wake the namespace with sandman first"
            )
        }
    }

    private static func isAsleep(_ sleepInfo: SleepInfo, client: KubeClient) async throws -> Bool {
        do {
            let secret = try await client.get(Secret.self, namespace: sleepInfo.namespace, name: RestoreSecret.name(forSleepInfo: sleepInfo.name))
            let contents = try RestoreSecret.read(secret)
            return contents.operation == .sleep && !contents.restore.isEmpty
        } catch let error as KubeError where error.isNotFound {
            return false
        }
    }

    /// Removes Sandman's finalizer and annotation, guarded by the resourceVersion; false when
    /// there was nothing to remove.
    private static func release(_ cached: SleepInfo, client: KubeClient) async throws -> Bool {
        var sleepInfo = cached
        return try await KubeClient.retryOnConflict {
            let metadata = sleepInfo.metadata
            let finalizers = metadata.finalizers.filter { $0 != ClusterAgent.finalizer }
            guard finalizers != metadata.finalizers || metadata.annotations[OverrideAnnotation.key] != nil else { return false }
            do {
                _ = try await client.patch(SleepInfo.self, namespace: sleepInfo.namespace, name: sleepInfo.name, .merge(["metadata": [
                    "finalizers": finalizers.isEmpty ? .null : .array(finalizers.map(JSONValue.string)),
                    "annotations": [OverrideAnnotation.key: .null],
                    "resourceVersion": .string(metadata.resourceVersion ?? ""),
                ]]))
                return true
            } catch let error as KubeError where error.isConflict {
                sleepInfo = try await client.get(SleepInfo.self, namespace: sleepInfo.namespace, name: sleepInfo.name)
                throw error
            }
        }
    }

    /// What kube-green 0.7 reads differently in this SleepInfo.
    static func differences(_ sleepInfo: SleepInfo) -> [String] {
        var notes: [String] = []
        let kinds = sleepInfo.includeRef.filter { $0.name != nil }.map { "\($0.apiVersion ?? "")/\($0.kind ?? "")" }
        for kind in Set(kinds).sorted() where kinds.filter({ $0 == kind }).count > 1 {
            notes.append("includeRef names several objects of \(kind); kube-green ANDs them and selects none (kube-green issue #472): it neither sleeps nor wakes them")
        }
        let coreNames = (sleepInfo.includeRef + sleepInfo.excludeRef).filter { $0.name != nil && !($0.apiVersion ?? "").contains("/") }
        if !coreNames.isEmpty {
            notes.append("a name reference with apiVersion \"v1\" (core group) never matches in kube-green, which reads it as no reference at all")
        }
        if let weekdays = sleepInfo.weekdays, weekdays.contains(where: \.isLetter) || weekdays.contains("?") {
            notes.append("weekdays \"\(weekdays)\" uses names or \"?\": kube-green 0.7 accepts them, the CRD of later versions only 0-6 * , / -")
        }
        return notes
    }
}
