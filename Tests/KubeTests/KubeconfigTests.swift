import Foundation
import JSON
import Kube
import KubeSim
import LocalPKI
import TestSupport
import Testing

@Suite("Kubeconfig loading", .awaitingCleanup)
struct KubeconfigTests {
    @Test func kubeconfigWrittenByKubectlIsUnderstood() async throws {
        let cluster = try await ClusterFixture.start { $0.tokens = ["robot-token": "robot"] }
        defer { afterTest { await cluster.stop() } }
        let identity = try cluster.sim.certificateAuthority.issueClientCertificate(user: "kubectl-user")
        let ca = try cluster.directory.write("pki/ca.pem", cluster.sim.certificateAuthority.certificatePEM)
        let certificate = try cluster.directory.write("pki/client.pem", identity.certificatePEM)
        let key = try cluster.directory.write("pki/client-key.pem", identity.privateKeyPEM)
        let path = cluster.directory.path + "/written-by-kubectl.yaml"
        let kubectl = try Kubectl(kubeconfig: path, cacheDirectory: cluster.directory.path + "/cache")
        for arguments in [
            ["config", "set-cluster", "sim", "--server=\(cluster.sim.url)", "--certificate-authority=\(ca)", "--embed-certs=true"],
            ["config", "set-credentials", "admin", "--client-certificate=\(certificate)", "--client-key=\(key)", "--embed-certs=true"],
            ["config", "set-credentials", "robot", "--token=robot-token"],
            ["config", "set-context", "sim", "--cluster=sim", "--user=admin", "--namespace=shop"],
            ["config", "set-context", "sim-robot", "--cluster=sim", "--user=robot"],
            ["config", "use-context", "sim"],
        ] {
            let output = try await kubectl.run(arguments)
            #expect(output.status == 0, "kubectl \(arguments): \(output.stderr)")
        }
        let kubeconfig = try Kubeconfig(path: path)
        let access = try kubeconfig.access()
        #expect(access.contextName == "sim")
        #expect(access.namespace == "shop")
        guard case .data = access.cluster.certificateAuthority, case .data = access.user.clientCertificate else {
            Issue.record("embedded certificates were not read as data")
            return
        }
        let start = Date()
        _ = try await KubeClient(name: "sim", access: access).list(.namespace)
        _ = try await KubeClient(name: "robot", access: kubeconfig.access(context: "sim-robot")).list(.namespace)
        #expect(cluster.users(since: start) == ["kubectl-user", "robot"])

        // The same files referenced by path rather than embedded, relative to the kubeconfig.
        let relative = try cluster.directory.write("relative.yaml", """
            apiVersion: v1
            kind: Config
            clusters:
            - name: sim
              cluster: {server: "\(cluster.sim.url)", certificate-authority: pki/ca.pem}
            users:
            - name: admin
              user: {client-certificate: pki/client.pem, client-key: pki/client-key.pem}
            contexts:
            - name: sim
              context: {cluster: sim, user: admin}
            current-context: sim
            """)
        let byPath = try Kubeconfig(path: relative).access()
        #expect(byPath.cluster.certificateAuthority == .file(cluster.directory.path + "/pki/ca.pem"))
        _ = try await KubeClient(name: "by-path", access: byPath).list(.namespace)
    }

    @Test func kubeconfigListsMergeFirstDefinitionWins() throws {
        let directory = try TemporaryDirectory("kubeconfig-merge")
        defer { directory.remove() }
        let first = try directory.write("a.yaml", """
            clusters:
            - {name: shared, cluster: {server: "https://first:6443"}}
            users:
            - {name: me, user: {token: from-first}}
            contexts:
            - {name: one, context: {cluster: shared, user: me}}
            """)
        let second = try directory.write("b.yaml", """
            clusters:
            - {name: shared, cluster: {server: "https://second:6443"}}
            - {name: other, cluster: {server: "https://other:6443", insecure-skip-tls-verify: true, tls-server-name: api.other, proxy-url: "socks5://proxy:1080"}}
            users:
            - {name: me, user: {token: from-second}}
            - {name: them, user: {username: u, password: p}}
            contexts:
            - {name: two, context: {cluster: other, user: them, namespace: ops}}
            current-context: two
            """)
        let merged = try Kubeconfig(kubeconfigList: "\(first):\(directory.path)/missing.yaml:\(second)")
        #expect(merged.currentContext == "two")
        #expect(merged.clusters["shared"]?.server == "https://first:6443")
        #expect(merged.users["me"]?.token == "from-first")
        let two = try merged.access()
        #expect(two.cluster.server == "https://other:6443")
        #expect(two.cluster.insecureSkipTLSVerify)
        #expect(two.cluster.tlsServerName == "api.other")
        #expect(two.cluster.proxyURL == "socks5://proxy:1080")
        #expect(two.user.username == "u")
        #expect(two.namespace == "ops")
        #expect(try merged.access(context: "one").user.token == "from-first")
        let defaults = try Kubeconfig.loadDefault(environment: ["KUBECONFIG": "\(second):\(first)"])
        #expect(defaults.clusters["shared"]?.server == "https://second:6443")
    }

    @Test func execConfigAndTokenFileResolveRelativeToTheFile() throws {
        let directory = try TemporaryDirectory("kubeconfig-exec")
        defer { directory.remove() }
        let path = try directory.write("config/kube.yaml", """
            clusters:
            - {name: c, cluster: {server: "https://c:6443"}}
            users:
            - name: e
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  command: ./bin/credential
                  args: [get-token, --cluster, c]
                  env: [{name: REGION, value: eu}]
                  provideClusterInfo: true
            - {name: f, user: {tokenFile: tokens/sa}}
            contexts:
            - {name: e, context: {cluster: c, user: e}}
            - {name: f, context: {cluster: c, user: f}}
            """)
        let config = try Kubeconfig(path: path)
        let exec = try #require(try config.access(context: "e").user.exec)
        #expect(exec.command == directory.path + "/config/bin/credential")
        #expect(exec.args == ["get-token", "--cluster", "c"])
        #expect(exec.env.map(\.name) == ["REGION"])
        #expect(exec.provideClusterInfo)
        #expect(try config.access(context: "f").user.tokenFile == directory.path + "/config/tokens/sa")
    }

    @Test(arguments: [
        ("clusters: [{name: c}]", "clusters[0].cluster.server: required"),
        ("clusters: [{cluster: {server: x}}]", "clusters[0].name: required"),
        ("clusters: [{name: c, cluster: {server: x, certificate-authority-data: '%%%'}}]", "certificate-authority-data: not valid base64"),
        ("users: [{name: u, user: {exec: {args: [a]}}}]", "users[0].user.exec.command: required"),
        ("contexts: [{name: x, context: {user: u}}]", "contexts[0].context.cluster: required"),
        ("clusters: [\n", "invalid YAML"),
    ])
    func brokenKubeconfigsNameTheField(text: String, expected: String) throws {
        let directory = try TemporaryDirectory("kubeconfig-broken")
        defer { directory.remove() }
        let path = try directory.write("kube.yaml", text)
        let error = #expect(throws: KubeconfigError.self) { try Kubeconfig(path: path) }
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix(path) == true)
    }

    @Test func missingContextsAndUsersAreExplained() throws {
        var config = Kubeconfig()
        config.clusters["c"] = .init(server: "https://c:6443")
        config.contexts["ctx"] = .init(cluster: "c", user: "ghost")
        #expect(throws: KubeconfigError.self) { try config.access() }
        let unknown = #expect(throws: KubeconfigError.self) { try config.access(context: "nope") }
        #expect(unknown?.reason == "context \"nope\" not found; contexts: ctx")
        let ghost = #expect(throws: KubeconfigError.self) { try config.access(context: "ctx") }
        #expect(ghost?.reason == "user \"ghost\" not found")
        let missingFile = #expect(throws: KubeconfigError.self) { try Kubeconfig(path: "/nonexistent/kubeconfig") }
        #expect(missingFile?.description == "/nonexistent/kubeconfig: file not found")
    }

    @Test func inClusterConfigurationUsesTheServiceAccount() async throws {
        let cluster = try await ClusterFixture.start { $0.tokens = ["sa-token": "system:serviceaccount:sandman-system:sandman"] }
        defer { afterTest { await cluster.stop() } }
        try cluster.directory.write("sa/token", "sa-token")
        try cluster.directory.write("sa/ca.crt", cluster.sim.certificateAuthority.certificatePEM)
        try cluster.directory.write("sa/namespace", "sandman-system\n")
        let access = try ClusterAccess.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(cluster.sim.port)],
            directory: cluster.directory.path + "/sa"
        )
        #expect(access.namespace == "sandman-system")
        let start = Date()
        _ = try await KubeClient(name: "in-cluster", access: access).list(.namespace)
        #expect(cluster.users(since: start) == ["system:serviceaccount:sandman-system:sandman"])
        #expect(throws: KubeconfigError.self) { try ClusterAccess.inCluster(environment: [:]) }
    }

    @Test func probeReportsVersionUserAndPreciseFailures() async throws {
        let cluster = try await ClusterFixture.start()
        defer { afterTest { await cluster.stop() } }
        let healthy = try await cluster.adminClient().probe()
        #expect(healthy.failure == nil)
        #expect(healthy.version == KubeSim.Configuration().gitVersion)
        #expect(healthy.user == "admin")
        #expect(healthy.ready)

        let refused = try await KubeClient(name: "down", access: cluster.access(user: .init(), server: "https://127.0.0.1:1")).probe()
        #expect(refused.failure?.hasPrefix("unreachable") == true)
        let unauthorized = try await KubeClient(name: "anon", access: cluster.access(user: .init(token: "nope"))).probe()
        #expect(unauthorized.failure == "401 Unauthorized: the credentials were refused")
        var wrongCA = cluster.access(user: try cluster.adminUser())
        wrongCA.cluster.certificateAuthority = .data(Data(try CertificateAuthorityPEM.other().utf8))
        let tls = try await KubeClient(name: "tls", access: wrongCA).probe()
        #expect(tls.failure?.hasPrefix("TLS failure") == true)
        let unresolvable = try await KubeClient(name: "dns", access: cluster.access(user: .init(), server: "https://no-such-host.invalid:6443")).probe()
        #expect(unresolvable.failure?.hasPrefix("unreachable: DNS cannot resolve the server's host name") == true, "\(unresolvable.failure ?? "")")

        await cluster.sim.setFaults(.init(latency: .seconds(2)))
        let slow = try await cluster.adminClient { $0.timeout = .milliseconds(300); $0.retry.maxAttempts = 1 }.probe()
        #expect(slow.failure?.hasPrefix("timed out") == true, "\(slow.failure ?? "")")
    }
}

enum CertificateAuthorityPEM {
    static func other() throws -> String {
        try CertificateAuthority(commonName: "not-the-cluster").certificatePEM
    }
}
