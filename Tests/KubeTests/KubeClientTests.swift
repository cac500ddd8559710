import Foundation
import JSON
import Kube
import KubeSim
import LocalPKI
import Synchronization
import TestSupport
import Testing

/// A simulator and a directory for kubeconfigs and credential files.
struct ClusterFixture {
    let sim: KubeSim
    let directory: TemporaryDirectory

    static func start(_ configure: (inout KubeSim.Configuration) -> Void = { _ in }) async throws -> ClusterFixture {
        var configuration = KubeSim.Configuration()
        configure(&configuration)
        return ClusterFixture(sim: try await KubeSim.start(configuration), directory: try TemporaryDirectory("kube-client"))
    }

    func stop() async {
        await sim.shutdown()
        directory.remove()
    }

    var caData: Data { Data(sim.certificateAuthority.certificatePEM.utf8) }

    func access(user: Kubeconfig.User, server: String? = nil, tlsServerName: String? = nil) -> ClusterAccess {
        ClusterAccess(contextName: "test", cluster: .init(server: server ?? sim.url, certificateAuthority: .data(caData), tlsServerName: tlsServerName), user: user)
    }

    func adminUser() throws -> Kubeconfig.User {
        let identity = try sim.certificateAuthority.issueClientCertificate(user: "admin", groups: ["system:masters"])
        return Kubeconfig.User(clientCertificate: .data(Data(identity.certificatePEM.utf8)), clientKey: .data(Data(identity.privateKeyPEM.utf8)))
    }

    func adminClient(_ configure: (inout KubeClient.Configuration) -> Void = { _ in }) throws -> KubeClient {
        var configuration = KubeClient.Configuration()
        configure(&configuration)
        return try KubeClient(name: "test", access: access(user: adminUser()), configuration: configuration)
    }

    func users(since start: Date) -> [String] {
        sim.requests.filter { $0.time >= start && $0.path.hasPrefix("/api/v1/namespaces") }.map(\.user)
    }
}

@Suite("Kubernetes client against KubeSim", .awaitingCleanup)
struct KubeClientTests {
    @Test func clientCertificateTokenAndBasicAuthentication() async throws {
        let cluster = try await ClusterFixture.start {
            $0.tokens = ["static-token": "robot"]
            $0.passwords = ["alice": "secret"]
        }
        defer { afterTest { await cluster.stop() } }
        let start = Date()
        _ = try await cluster.adminClient().list(.namespace)
        _ = try await KubeClient(name: "t", access: cluster.access(user: .init(token: "static-token"))).list(.namespace)
        _ = try await KubeClient(name: "b", access: cluster.access(user: .init(username: "alice", password: "secret"))).list(.namespace)
        #expect(cluster.users(since: start) == ["admin", "robot", "alice"])

        let refused = try KubeClient(name: "bad", access: cluster.access(user: .init(token: "wrong")))
        let error = await #expect(throws: KubeError.self) { try await refused.list(.namespace) }
        #expect(error?.reason == .unauthorized)
        #expect(error?.cluster == "bad")
    }

    @Test func tokenFileIsReadAgainAfterRotation() async throws {
        let cluster = try await ClusterFixture.start { $0.tokens = ["first": "sa-one", "second": "sa-two"] }
        defer { afterTest { await cluster.stop() } }
        let tokenFile = try cluster.directory.write("token", "first\n")
        let clock = TestDate(Date())
        var configuration = KubeClient.Configuration()
        configuration.tokenFileLifetime = 60
        configuration.now = clock.read
        let client = try KubeClient(name: "rotating", access: cluster.access(user: .init(tokenFile: tokenFile)), configuration: configuration)
        let start = Date()
        _ = try await client.list(.namespace)
        try cluster.directory.write("token", "second\n")
        clock.advance(by: 59)
        _ = try await client.list(.namespace)
        // The file is read again once its token has been used for the lifetime.
        clock.advance(by: 2)
        _ = try await client.list(.namespace)
        #expect(cluster.users(since: start) == ["sa-one", "sa-one", "sa-two"])

        // Rotated and the old token revoked before the lifetime is up: the 401 makes the client read it again.
        try cluster.directory.write("token", "first\n")
        let patient = try KubeClient(name: "patient", access: cluster.access(user: .init(tokenFile: tokenFile)), configuration: configuration)
        let second = Date()
        _ = try await patient.list(.namespace)
        try cluster.directory.write("token", "second\n")
        cluster.sim.setTokens(["second": "sa-two"])
        _ = try await patient.list(.namespace)
        #expect(cluster.users(since: second) == ["sa-one", "", "sa-two"])
    }

    @Test func execPluginTokensAreCachedUntilExpiryAndRefreshedOn401() async throws {
        let cluster = try await ClusterFixture.start { $0.tokens = ["token-a": "exec-a", "token-c": "exec-c"] }
        defer { afterTest { await cluster.stop() } }
        let counter = cluster.directory.path + "/calls"
        // Call 1: token-a expiring at 10:00; call 2: token-b, which the server refuses; call 3: token-c.
        let script = try cluster.directory.write("credential.sh", """
            #!/bin/sh
            test "$KUBERNETES_EXEC_INFO" != "" || { echo "no exec info" >&2; exit 1; }
            n=$(cat "\(counter)" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "\(counter)"
            case $n in
              1) token=token-a; expiry=2030-01-01T10:00:00Z ;;
              2) token=token-b; expiry=2030-01-01T12:00:00Z ;;
              *) token=token-c; expiry=2030-01-01T12:00:00Z ;;
            esac
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' $token $expiry
            """)
        chmod(script, 0o755)
        func calls() throws -> String { try String(contentsOfFile: counter, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        let clock = TestDate(try Date("2030-01-01T09:59:00Z", strategy: .iso8601))
        var configuration = KubeClient.Configuration()
        configuration.now = clock.read
        let exec = Kubeconfig.ExecConfig(apiVersion: "client.authentication.k8s.io/v1", command: script, env: [("SANDMAN_TEST", "1")])
        let client = try KubeClient(name: "exec", access: cluster.access(user: .init(exec: exec)), configuration: configuration)
        let start = Date()
        _ = try await client.list(.namespace)
        clock.advance(by: 59)
        _ = try await client.list(.namespace)
        #expect(try calls() == "1")
        clock.advance(by: 2)
        _ = try await client.list(.namespace)
        #expect(try calls() == "3")
        #expect(cluster.users(since: start).filter { !$0.isEmpty } == ["exec-a", "exec-a", "exec-c"])

        let broken = Kubeconfig.ExecConfig(apiVersion: "client.authentication.k8s.io/v1", command: "/bin/false")
        let failing = try KubeClient(name: "broken", access: cluster.access(user: .init(exec: broken)))
        let error = await #expect(throws: KubeError.self) { try await failing.list(.namespace) }
        #expect(error?.reason == .configuration)
        #expect(error?.message.contains("exited with status 1") == true)
    }

    @Test func tlsVerificationWrongCAAndServerNameOverride() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let user = try cluster.adminUser()
        let other = Data(try CertificateAuthority(commonName: "someone-else").certificatePEM.utf8)
        let wrongCA = ClusterAccess(contextName: "x", cluster: .init(server: cluster.sim.url, certificateAuthority: .data(other)), user: user)
        let error = await #expect(throws: KubeError.self) { try await KubeClient(name: "x", access: wrongCA).list(.namespace) }
        #expect(error?.reason == .tls)

        // The certificate names "kubesim" and "localhost"; reach it by address but verify the name.
        let byName = cluster.access(user: user, tlsServerName: "kubesim")
        #expect(try await KubeClient(name: "named", access: byName).list(.namespace).items.count == 4)
        let wrongName = cluster.access(user: user, tlsServerName: "not-the-server.example")
        let mismatch = await #expect(throws: KubeError.self) { try await KubeClient(name: "wrong", access: wrongName).list(.namespace) }
        #expect(mismatch?.reason == .tls)

        var insecure = cluster.access(user: user)
        insecure.cluster.certificateAuthority = nil
        insecure.cluster.insecureSkipTLSVerify = true
        #expect(try await KubeClient(name: "insecure", access: insecure).list(.namespace).items.count == 4)
    }

    @Test func pagingFollowsContinueThroughTwoThousandObjects() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        try await cluster.sim.load(manifests: (0..<2000).map { "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-\($0), namespace: bulk}\n" }.joined(separator: "---\n"))
        let client = try cluster.adminClient()
        cluster.sim.resetRequests()
        let list = try await client.list(.configMap, namespace: "bulk", options: .init(pageSize: 100))
        #expect(list.items.count == 2000)
        #expect(Set(list.items.compactMap { $0[path: ["metadata", "name"]]?.string }).count == 2000)
        #expect(list.items.first?["kind"] == "ConfigMap")
        #expect(cluster.sim.requestCounts["list configmaps"] == 20)
        let typed = try await client.list(ConfigMapLike.self, namespace: "bulk", options: .init(labelSelector: "missing"))
        #expect(typed.isEmpty)
    }

    @Test func patchInEveryContentTypeScaleAndStatus() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        var deployment = Deployment(name: "web", namespace: "default")
        deployment.object["spec"] = ["replicas": 3, "selector": ["matchLabels": ["app": "web"]], "template": ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "web", "image": "nginx", "resources": ["requests": ["cpu": "250m", "memory": "256Mi"]]]]]]]
        deployment.object[path: ["spec", "minReadySeconds"]] = 5
        let created = try await client.create(deployment)
        #expect(created.replicas == 3)
        #expect(created.containers.first?.cpuRequest == 0.25)
        #expect(created.containers.first?.memoryRequest == 268_435_456)

        let json = try await client.patch(Deployment.self, namespace: "default", name: "web", .json([["op": "replace", "path": "/spec/replicas", "value": 0]]))
        #expect(json.replicas == 0)
        let merge = try await client.patch(Deployment.self, namespace: "default", name: "web", .merge(["spec": ["replicas": 2]]))
        #expect(merge.replicas == 2)
        let strategic = try await client.patch(Deployment.self, namespace: "default", name: "web", .strategic(["spec": ["template": ["spec": ["containers": [["name": "web", "image": "nginx:2"]]]]]]))
        #expect(strategic.containers.map(\.image) == ["nginx:2"])
        let applied = try await client.patch(Deployment.self, namespace: "default", name: "web", .apply(["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"], "spec": ["replicas": 4]], force: true), fieldManager: "gitops")
        #expect(applied.replicas == 4)
        #expect(applied.object[path: ["spec", "minReadySeconds"]] == 5)

        let scale = try await client.scale(.deployment, namespace: "default", name: "web")
        #expect(scale.replicas == 4)
        let scaled = try await client.setScale(.deployment, namespace: "default", name: "web", replicas: 0, resourceVersion: scale.resourceVersion)
        #expect(scaled.replicas == 0)
        let stale = await #expect(throws: KubeError.self) {
            try await client.setScale(.deployment, namespace: "default", name: "web", replicas: 1, resourceVersion: scale.resourceVersion)
        }
        #expect(stale?.isConflict == true)

        // Before its CRD exists the kind is not served; the same client finds it once it is.
        let early = await #expect(throws: KubeError.self) { try await client.get(SleepInfo.self, namespace: "default", name: "nights") }
        #expect(early?.isNotFound == true)
        #expect(early?.message.contains("does not serve") == true, "\(String(describing: early))")
        try await cluster.sim.load(manifests: try String(contentsOfFile: repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml"), encoding: .utf8))
        var sleepInfo = SleepInfo(name: "nights", namespace: "default")
        sleepInfo.object["spec"] = ["weekdays": "1-5", "sleepAt": "20:00", "suspendDeployments": false]
        var stored = try await client.create(sleepInfo)
        #expect(stored.weekdays == "1-5")
        #expect(stored.suspendDeployments == false)
        #expect(stored.suspendStatefulSets)
        stored.operation = "SLEEP"
        stored.lastScheduleTime = Date(timeIntervalSince1970: 1_800_000_000)
        let withStatus = try await client.updateStatus(stored)
        #expect(withStatus.operation == "SLEEP")
        #expect(withStatus.lastScheduleTime == Date(timeIntervalSince1970: 1_800_000_000))
        let unsupported = await #expect(throws: KubeError.self) {
            try await client.patch(.sleepInfo, namespace: "default", name: "nights", .strategic(["spec": ["sleepAt": "21:00"]]))
        }
        #expect(unsupported?.reason == .unsupportedMediaType)
    }

    /// A CRD that moves to another version while the hub runs: the first list of the old one
    /// fails as not served, and the next ask by group finds the new version.
    @Test func aKindWhoseCRDChangesVersionIsFoundAtItsNewVersion() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        try await cluster.sim.load(manifests: Manifests.kedaScaledObjectCRD(version: "v1alpha1"))
        let old = try await client.resource(group: "keda.sh", kind: "ScaledObject")
        #expect(old.kind.version == "v1alpha1")
        #expect(try await client.list(old.kind, namespace: "default").items.isEmpty)

        let definition = ResourceKind(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition")
        try await client.delete(definition, namespace: nil, name: "scaledobjects.keda.sh")
        try await cluster.sim.load(manifests: Manifests.kedaScaledObjectCRD(version: "v1beta1"))
        let gone = await #expect(throws: KubeError.self) { _ = try await client.list(old.kind, namespace: "default") }
        #expect(gone?.isNotFound == true)
        let new = try await client.resource(group: "keda.sh", kind: "ScaledObject")
        #expect(new.kind.version == "v1beta1")
        #expect(try await client.list(new.kind, namespace: "default").items.isEmpty)
    }

    @Test func retryOnConflictRereadsAndSucceeds() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        _ = try await client.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "counter", "namespace": "default"], "data": ["n": "0"]])
        let attempts = Atomic<Int>(0)
        try await KubeClient.retryOnConflict {
            let attempt = attempts.add(1, ordering: .relaxed).newValue
            var object = try await client.get(.configMap, namespace: "default", name: "counter")
            if attempt == 1 {
                // Someone else writes between our read and our write.
                _ = try await client.patch(.configMap, namespace: "default", name: "counter", .merge(["data": ["other": "x"]]))
            }
            let value = Int(object[path: ["data", "n"]]?.string ?? "0") ?? 0
            object[path: ["data", "n"]] = .string(String(value + 1))
            _ = try await client.update(object)
        }
        #expect(attempts.load(ordering: .relaxed) == 2)
        let final = try await client.get(.configMap, namespace: "default", name: "counter")
        #expect(final[path: ["data", "n"]] == "1")
        #expect(final[path: ["data", "other"]] == "x")
    }

    @Test func aThrottlingServerSetsThePaceAndFewRequestsAreRefused() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        _ = try await client.list(.namespace)
        // 40 requests a second, and 16 callers that would send far more: after the first
        // refusals the client paces itself under what the server accepts.
        cluster.sim.setFaults(.init(rateLimit: .init(qps: 40, burst: 5, retryAfterSeconds: 1)))
        cluster.sim.resetRequests()
        let sent = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<16 {
                group.addTask {
                    for _ in stride(from: caller, to: sent, by: 16) { _ = try await client.get(.namespace, namespace: nil, name: "default") }
                }
            }
            try await group.waitForAll()
        }
        let answers = cluster.sim.requests
        #expect(answers.filter { $0.status == 200 }.count == sent)
        let refused = answers.filter { $0.status == 429 }.count
        // Unpaced, each caller's request after a success finds the bucket empty and is refused (then
        // retried after its Retry-After): about one refusal per request sent. Paced, a few dozen
        // while the pace is found, more on a loaded machine whose stalls bunch requests together.
        #expect(refused <= sent / 2, "\(refused) of \(answers.count) requests refused")
    }

    @Test func throttledRequestsWaitForRetryAfter() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        _ = try await client.list(.namespace)
        cluster.sim.setFaults(.init(rateLimit: .init(qps: 0.5, burst: 1, retryAfterSeconds: 1)))
        let start = ContinuousClock.now
        _ = try await client.list(.namespace)
        _ = try await client.list(.namespace)
        let elapsed = ContinuousClock.now - start
        let throttled = cluster.sim.requests.filter { $0.status == 429 }
        #expect(throttled.count >= 1)
        // The retry waited for the server's Retry-After (1 s) rather than hammering it.
        #expect(elapsed >= .milliseconds(950))
        let lastRejection = try #require(throttled.last?.time)
        let retry = try #require(cluster.sim.requests.last { $0.status == 200 }?.time)
        #expect(retry.timeIntervalSince(lastRejection) >= 0.95)

        cluster.sim.setFaults(.init(errorRate: 1))
        var configuration = KubeClient.Configuration()
        configuration.retry = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20), maxDelay: .milliseconds(50))
        let impatient = try cluster.adminClient { $0.retry = configuration.retry }
        cluster.sim.resetRequests()
        let failure = await #expect(throws: KubeError.self) { try await impatient.list(.namespace) }
        #expect(failure?.reason == .serverError(500))
        #expect(cluster.sim.requests.filter { $0.verb == "list" }.count == 3)
        cluster.sim.resetRequests()
        _ = try? await impatient.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "once", "namespace": "default"]])
        // A create is not repeated after a server error: it may have happened.
        #expect(cluster.sim.requests.filter { $0.verb == "create" }.count == 1)
    }

    @Test func aListWhoseContinueTokenExpiresMidwayStartsOverAndMissesNothing() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient()
        for index in 0..<20 {
            _ = try await client.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("c\(index)"), "namespace": "default"]])
        }
        // Pages of 2 at 200 ms each; a write and a compaction after the first pages expire the token.
        cluster.sim.setFaults(.init(latency: .milliseconds(200)))
        cluster.sim.resetRequests()
        async let listed = client.list(.configMap, namespace: "default", options: .init(pageSize: 2))
        #expect(await eventually { cluster.sim.requests.filter { $0.verb == "list" }.count >= 2 })
        _ = try await client.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "late", "namespace": "default"]])
        await cluster.sim.compactHistory()
        let names = Set(try await listed.items.compactMap { $0[path: ["metadata", "name"]]?.string })
        #expect(names.count == 21, "\(names.sorted())")
        #expect(names.contains("late"))
        #expect(cluster.sim.requests.contains { $0.status == 410 }, "the token did expire midway")
    }

    @Test func clientSideRateLimitSpacesRequests() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient {
            $0.qps = 10
            $0.burst = 2
        }
        _ = try await client.resource(for: .namespace)
        try await Task.sleep(for: .milliseconds(300))
        cluster.sim.resetRequests()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<22 { group.addTask { _ = try await client.get(.namespace, namespace: nil, name: "default") } }
            try await group.waitForAll()
        }
        let times = cluster.sim.requests.map(\.time).sorted()
        #expect(times.count == 22)
        // Two at once (the burst), then twenty more at 10 per second: about two seconds in all (less
        // when the first requests arrive late, held up opening their connections; without the
        // limiter it would be a few milliseconds).
        let span = times.last!.timeIntervalSince(times.first!)
        #expect(span >= 1.0)
        #expect(span < 10)
        let firstSecond = times.filter { $0.timeIntervalSince(times.first!) < 0.5 }.count
        #expect(firstSecond <= 12)
    }

    @Test func watchSurvivesExpiryAndDroppedConnectionsWithoutLosingOrRepeating() async throws {
        let cluster = try await ClusterFixture.start { $0.bookmarkInterval = .milliseconds(100) }
        defer { afterTest { await cluster.stop() } }
        let client = try cluster.adminClient { $0.retry = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(50), maxDelay: .milliseconds(200)) }
        for index in 0..<3 {
            _ = try await client.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("before-\(index)"), "namespace": "default"]])
        }
        let stream = client.watch(.configMap, namespace: "default")
        let seen = Recorder<String>()
        let collector = Task {
            for try await event in stream {
                let name = event.object[path: ["metadata", "name"]]?.string ?? "?"
                let mark = switch event {
                case .added: "+"
                case .modified: "~"
                case .deleted: "-"
                }
                seen.append(mark + name)
            }
        }
        func waitFor(_ count: Int) async throws {
            _ = await eventually(timeout: .seconds(15)) { seen.values.count >= count }
        }
        try await waitFor(3)
        _ = try await client.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "during-1", "namespace": "default"]])
        try await waitFor(4)
        let lists = cluster.sim.requestCounts["list configmaps"] ?? 0
        await cluster.sim.dropWatches()
        _ = try await client.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "while-down", "namespace": "default"]])
        try await waitFor(5)
        // A dropped connection resumes the watch from the last resourceVersion: no relist.
        #expect(cluster.sim.requestCounts["list configmaps"] ?? 0 == lists)
        // Changes around an expiry are found by the relist or the new watch, once each.
        await cluster.sim.expireWatches()
        _ = try await client.patch(.configMap, namespace: "default", name: "before-0", .merge(["data": ["x": "1"]]))
        try await client.delete(.configMap, namespace: "default", name: "before-1")
        _ = try await client.create(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "after", "namespace": "default"]])
        try await waitFor(8)
        // Anything reported twice would arrive now.
        try await Task.sleep(for: .milliseconds(700))
        // The expired resourceVersion (410) cost exactly one relist.
        #expect(cluster.sim.requestCounts["list configmaps"] ?? 0 == lists + 1)
        collector.cancel()
        let events = seen.values
        #expect(events.count == 8, "\(events)")
        #expect(Set(events.prefix(3)) == ["+before-0", "+before-1", "+before-2"])
        #expect(Array(events[3..<5]) == ["+during-1", "+while-down"])
        #expect(Set(events.dropFirst(5)) == ["~before-0", "-before-1", "+after"])
    }

    @Test func typedModelsKeepUnknownFieldsOnRoundTrip() throws {
        let original: JSONValue = [
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": ["name": "db", "namespace": "data", "labels": ["a": "b"], "managedFields": [["manager": "x"]], "ownerReferences": [["apiVersion": "v1", "kind": "X", "name": "o", "uid": "u", "controller": true]]],
            "spec": ["replicas": 3, "serviceName": "db", "volumeClaimTemplates": [["metadata": ["name": "data"]]]],
        ]
        var statefulSet = StatefulSet(object: original)
        #expect(statefulSet.metadata.isControlled)
        statefulSet.replicas = 0
        var metadata = statefulSet.metadata
        metadata.labels["sandman.dev/asleep"] = "true"
        statefulSet.metadata = metadata
        #expect(statefulSet.object[path: ["spec", "volumeClaimTemplates"]] == original[path: ["spec", "volumeClaimTemplates"]])
        #expect(statefulSet.object[path: ["metadata", "managedFields"]] == original[path: ["metadata", "managedFields"]])
        #expect(statefulSet.metadata.labels == ["a": "b", "sandman.dev/asleep": "true"])
        let encoded = try JSONEncoder().encode(statefulSet)
        #expect(try JSONDecoder().decode(StatefulSet.self, from: encoded) == statefulSet)
    }

    @Test(arguments: [("100m", 0.1), ("2", 2.0), ("1.5", 1.5), ("128Mi", 134_217_728), ("1G", 1e9), ("500Ki", 512_000), ("2e3", 2000)] as [(String, Double)])
    func quantities(text: String, value: Double) {
        #expect(Quantity.parse(.string(text)) == value)
    }

}

/// A typed view used to exercise the generic verbs on a kind without a model of its own.
struct ConfigMapLike: KubeResource {
    static let kind = ResourceKind.configMap
    var object: JSONValue
    init(object: JSONValue) { self.object = object }
}
