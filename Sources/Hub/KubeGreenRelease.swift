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
        for namespace in namespaces.isEmpty ? [nil] : namespaces.map(Optional.some) {
            sleepInfos += try await client.list(SleepInfo.self, namespace: namespace)
            secrets += try await client.list(Secret.self, namespace: namespace, options: ListOptions(labelSelector: "\(RestoreSecret.managedByLabel)=kube-green"))
        }
        let named = Set(sleepInfos.map { "\($0.namespace ?? "")/\(RestoreSecret.name(forSleepInfo: $0.name))" })
        for secret in secrets.sorted(by: { ($0.namespace ?? "", $0.name) < ($1.namespace ?? "", $1.name) }) {
            let key = "\(secret.namespace ?? "")/\(secret.name)"
            let contents: RestoreSecret.Contents
            do {
                contents = try RestoreSecret.read(secret)
                if let rewritten = try RestoreSecret.keyedForKubeGreen(secret) {
                    _ = try await client.update(rewritten)
                    report.rewrittenSecrets.append(key)
                }
            } catch let error as RestoreSecretError {
                report.problems.append("\(key): unreadable (\(error)): kube-green cannot wake from it either")
                continue
            }
            if !named.contains(key), contents.operation == .sleep, !contents.restore.isEmpty {
                report.problems.append("\(key): \(contents.restore.count) objects asleep with no SleepInfo \(secret.name.dropFirst("sleepinfo-".count)) (a hub schedule): kube-green will not wake them; wake the namespace with sandman first")
            }
        }
        for sleepInfo in sleepInfos.sorted(by: { ($0.namespace ?? "", $0.name) < ($1.namespace ?? "", $1.name) }) {
            let key = "\(sleepInfo.namespace ?? "")/\(sleepInfo.name)"
            report.warnings += differences(sleepInfo).map { "\(key): \($0)" }
            if sleepInfo.metadata.deletionTimestamp != nil, sleepInfo.metadata.finalizers.contains(ClusterAgent.finalizer),
               try await isAsleep(sleepInfo, client: client) {
                report.problems.append("\(key): being deleted while asleep; its deletion takes the restore data with it: wake the namespace with sandman first")
                continue
            }
            if try await release(sleepInfo, client: client) { report.released.append(key) }
        }
        return report
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
        let names = sleepInfo.includeRef.compactMap { reference in reference.name.map { _ in "\(reference.apiVersion ?? "")/\(reference.kind ?? "")" } }
        for kind in Set(names).sorted() where names.filter({ $0 == kind }).count > 1 {
            notes.append("includeRef names several objects of \(kind); kube-green ANDs them and selects none of them (kube-green issue #472), so it neither sleeps nor wakes them")
        }
        let coreNames = (sleepInfo.includeRef + sleepInfo.excludeRef).filter { $0.name != nil && !($0.apiVersion ?? "").contains("/") }
        if !coreNames.isEmpty {
            notes.append("a name reference with apiVersion \"v1\" (core group) never matches in kube-green, which reads it as no reference at all")
        }
        if let weekdays = sleepInfo.weekdays, weekdays.contains(where: \.isLetter) || weekdays.contains("?") {
            notes.append("weekdays \"\(weekdays)\" uses names or \"?\": kube-green 0.7 accepts them, the CRD of later kube-green versions only allows 0-6 * , / -")
        }
        return notes
    }
}
