import ArgumentParser
import Foundation
import Kube
import KubeSim
import Logging
import Sleep
import Store

struct SleepBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sleep", abstract: "Objects put to sleep and woken per second against KubeSim over HTTPS.")

    @Option var objects = 1000

    func run() async throws {
        let sim = try await KubeSim.start()
        defer { Task { await sim.shutdown() } }
        var manifests = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}"]
        for index in 0..<objects {
            manifests.append("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app-\(index), namespace: bench}\nspec: {replicas: 3, selector: {matchLabels: {app: a}}, template: {spec: {containers: [{name: a, image: a, resources: {requests: {cpu: 100m, memory: 128Mi}}}]}}}")
        }
        try await sim.load(manifests: manifests.joined(separator: "\n---\n"))
        let identity = try sim.certificateAuthority.issueClientCertificate(user: "bench")
        var configuration = KubeClient.Configuration()
        configuration.qps = 100_000
        configuration.burst = 100_000
        let client = try KubeClient(name: "bench", access: ClusterAccess(
            contextName: "bench", cluster: .init(server: sim.url, certificateAuthority: .data(Data(sim.certificateAuthority.certificatePEM.utf8))),
            user: .init(clientCertificate: .data(Data(identity.certificatePEM.utf8)), clientKey: .data(Data(identity.privateKeyPEM.utf8)))
        ), configuration: configuration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sandman-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(path: directory + "/bench.sqlite")
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let executor = SleepExecutor(cluster: "bench", client: client, store: store, concurrency: 16, logger: logger)
        let target = SleepExecutor.Target(namespace: "bench", name: "bench", spec: SleepSpec())
        for action in ["sleep", "wake"] {
            let operation = OperationRecord(cluster: "bench", namespaces: ["bench"], action: action, source: "bench", actor: "bench", state: .running, createdAt: Date())
            try await store.save(operation)
            let start = ContinuousClock.now
            let outcome = action == "sleep"
                ? try await executor.sleep(target, operation: operation, scheduledAt: Date())
                : try await executor.wake(target, operation: operation, scheduledAt: Date())
            let elapsed = ContinuousClock.now - start
            report("\(action) \(objects) Deployments", String(format: "%.2f s, %.0f objects/s (%d done, %d failed)", seconds(elapsed), Double(outcome.done.count) / seconds(elapsed), outcome.done.count, outcome.failed.count))
        }
    }
}
