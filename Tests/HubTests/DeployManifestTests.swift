import Foundation
import JSON
import Kube
import KubeSim
import TestSupport
import Testing

/// deploy/ as a platform engineer uses it: each kustomization rendered by `kubectl kustomize`,
/// validated against the Kubernetes 1.32 schemas by kubernetes-validate, and applied with
/// `kubectl apply --dry-run=server` to KubeSim (which serves the monitoring and external-secrets
/// CRDs from Tests/Fixtures/crds). What the issue asks of the objects is then checked on what
/// the server answered.
@Suite("Deploy manifests", .serialized, .awaitingCleanup)
struct DeployManifestTests {
    /// A kustomization and the flags `kubectl kustomize` needs for it.
    struct Rendering: CustomStringConvertible {
        var directory: String
        var flags: [String] = []
        var description: String { directory }
    }

    static let renderings = [
        Rendering(directory: "deploy/overlays/single"),
        Rendering(directory: "deploy/overlays/ha"),
        Rendering(directory: "deploy/managed-cluster"),
        Rendering(directory: "deploy/examples/external-secrets"),
    ]

    struct Cluster {
        let sim: KubeSim
        let directory: TemporaryDirectory
        let kubectl: Kubectl

        static func start() async throws -> Cluster {
            let sim = try await KubeSim.start(KubeSim.Configuration())
            let directory = try TemporaryDirectory("deploy")
            let kubeconfig = try directory.write("kubeconfig", try sim.kubeconfig())
            let kubectl = try Kubectl(kubeconfig: kubeconfig, cacheDirectory: directory.path + "/cache")
            for file in ["monitoring.coreos.com.yaml", "external-secrets.io.yaml"] {
                let applied = try await kubectl.run(["apply", "-f", repositoryFile("Tests/Fixtures/crds/" + file)])
                #expect(applied.status == 0, "\(file): \(applied.stderr)")
            }
            return Cluster(sim: sim, directory: directory, kubectl: kubectl)
        }

        func stop() async {
            await sim.shutdown()
            directory.remove()
        }

        /// Renders, validates and dry-run applies `rendering`; returns the objects the server answered.
        func apply(_ rendering: Rendering) async throws -> [JSONValue] {
            let path = rendering.directory.hasPrefix("/") ? rendering.directory : repositoryFile(rendering.directory)
            let rendered = try await kubectl.run(["kustomize"] + rendering.flags + [path])
            #expect(rendered.status == 0, "kubectl kustomize \(rendering): \(rendered.stderr)")
            let name = rendering.directory.replacingOccurrences(of: "/", with: "-")
            let file = try directory.write(name + ".yaml", rendered.stdout)

            let validator = repositoryFile(".build-python/bin/kubernetes-validate")
            guard FileManager.default.isExecutableFile(atPath: validator) else {
                Issue.record("kubernetes-validate is not installed at \(validator): run make python-deps")
                return []
            }
            let validated = try await ProcessOutput.run(validator, arguments: ["-k", "1.32.0", "--strict", "--quiet", file], timeout: .seconds(120))
            #expect(validated.status == 0, "kubernetes-validate \(rendering): \(validated.stdout)\(validated.stderr)")

            // A dry run creates nothing: the namespaces and CRDs the other objects need go in for real first.
            let documents = try JSONValue.documents(yaml: rendered.stdout)
            let prerequisites = documents.filter { $0["kind"] == "Namespace" || $0["kind"] == "CustomResourceDefinition" }
            if !prerequisites.isEmpty {
                for (index, object) in prerequisites.enumerated() {
                    try directory.write("\(name)-setup/\(index).json", object.serialized())
                }
                let setup = directory.path + "/\(name)-setup"
                let created = try await kubectl.run(["apply", "-f", setup])
                #expect(created.status == 0, "\(rendering) namespaces and CRDs: \(created.stderr)")
            }
            let applied = try await kubectl.run(["apply", "--dry-run=server", "-f", file, "-o", "json"])
            #expect(applied.status == 0, "kubectl apply --dry-run=server \(rendering): \(applied.stderr)")
            let answered = (try? JSONValue(parsing: applied.stdout)).map { $0["kind"] == "List" ? $0["items"]?.array ?? [] : [$0] } ?? []
            #expect(answered.count == documents.count, "\(rendering): \(documents.count) objects rendered, \(answered.count) applied")
            return answered
        }
    }

    static func object(_ objects: [JSONValue], kind: String, name: String? = nil) -> JSONValue? {
        objects.first { $0["kind"]?.string == kind && (name == nil || $0[path: ["metadata", "name"]]?.string == name) }
    }

    @Test func everyKustomizationRendersValidatesAndApplies() async throws {
        let cluster = try await Cluster.start()
        defer { afterTest { await cluster.stop() } }
        var applied: [String: [JSONValue]] = [:]
        for rendering in Self.renderings {
            applied[rendering.directory] = try await cluster.apply(rendering)
        }

        for overlay in ["deploy/overlays/single", "deploy/overlays/ha"] {
            let objects = applied[overlay] ?? []
            let workloadKind = overlay.hasSuffix("single") ? "StatefulSet" : "Deployment"
            let workload = try #require(Self.object(objects, kind: workloadKind, name: "sandman"), "\(overlay) has no \(workloadKind)")
            let pod = workload[path: ["spec", "template", "spec"]] ?? .null
            let container = pod["containers"]?.array?.first ?? .null
            // Pod Security "restricted", enforced on the namespace and met by the pod.
            let namespace = Self.object(objects, kind: "Namespace", name: "sandman-system")
            #expect(namespace?[path: ["metadata", "labels", "pod-security.kubernetes.io/enforce"]] == "restricted")
            #expect(pod[path: ["securityContext", "runAsNonRoot"]] == true)
            #expect(pod[path: ["securityContext", "seccompProfile", "type"]] == "RuntimeDefault")
            #expect(container[path: ["securityContext", "allowPrivilegeEscalation"]] == false)
            #expect(container[path: ["securityContext", "readOnlyRootFilesystem"]] == true)
            #expect(container[path: ["securityContext", "capabilities", "drop"]] == ["ALL"])
            // The seed's requests and limits, probes, the bootstrap token's Secret.
            #expect(container["resources"] == ["requests": ["cpu": "100m", "memory": "128Mi"], "limits": ["cpu": "500m", "memory": "256Mi"]])
            #expect(container[path: ["readinessProbe", "httpGet", "path"]] == "/readyz")
            #expect(container[path: ["livenessProbe", "httpGet", "path"]] == "/healthz")
            #expect(container["envFrom"]?.array?.contains { $0[path: ["secretRef", "name"]] == "sandman-secrets" } == true)
            // Only Slack's webhook paths are public; the API is not.
            let paths = Self.object(objects, kind: "Ingress")?[path: ["spec", "rules"]]?.array?.flatMap { $0[path: ["http", "paths"]]?.array ?? [] } ?? []
            #expect(paths.compactMap { $0["path"]?.string } == ["/slack/"])
            for kind in ["ServiceMonitor", "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget", "ClusterRole", "Role", "ServiceAccount"] {
                #expect(Self.object(objects, kind: kind) != nil, "\(overlay) has no \(kind)")
            }
            let config = Self.object(objects, kind: "ConfigMap") { $0.hasPrefix("sandman-config") }?[path: ["data", "sandman.yaml"]]?.string ?? ""
            try await Self.validateConfiguration(in: objects, overlay: overlay, directory: cluster.directory)
            if workloadKind == "StatefulSet" {
                #expect(workload[path: ["spec", "replicas"]] == 1)
                #expect(workload[path: ["spec", "volumeClaimTemplates"]]?.array?.first?[path: ["metadata", "name"]] == "data")
                #expect(!config.contains("leaderElection"))
            } else {
                #expect((workload[path: ["spec", "replicas"]]?.int ?? 0) >= 2)
                let election = try JSONValue(yaml: config)["leaderElection"]
                #expect(election?["enabled"] == true, "\(config)")
                // One store for every replica, its password from SANDMAN_DATABASE_URL, never in the ConfigMap.
                let database = try JSONValue(yaml: config)["database"]?.string ?? ""
                #expect(database.hasPrefix("postgres://sandman@"), "\(config)")
            }
        }

        // The managed clusters' role: the seed's kube-green ClusterRole is the floor.
        let role = Self.object(applied["deploy/managed-cluster"] ?? [], kind: "ClusterRole", name: "sandman")
        let rules = role?["rules"]?.array ?? []
        func allows(_ group: String, _ resource: String, _ verb: String) -> Bool {
            rules.contains { rule in
                (rule["apiGroups"]?.array ?? []).contains(.string(group)) && (rule["resources"]?.array ?? []).contains(.string(resource))
                    && (rule["verbs"]?.array ?? []).contains(.string(verb))
            }
        }
        let seed: [(String, [String], [String])] = [
            ("kube-green.com", ["sleepinfos"], ["get", "list", "watch", "create", "update", "patch", "delete"]),
            ("apps", ["deployments", "statefulsets"], ["get", "list", "watch", "update", "patch"]),
            ("apps", ["deployments/scale", "statefulsets/scale"], ["get", "update", "patch"]),
            ("", ["events"], ["create", "patch"]),
            ("", ["secrets"], ["get", "create", "update"]),
            // The kinds beyond kube-green's that hub schedules sleep, and what a sleep reads.
            ("argoproj.io", ["rollouts"], ["list", "patch"]),
            ("keda.sh", ["scaledobjects"], ["list", "patch"]),
            ("apps", ["daemonsets"], ["list", "patch"]),
            ("batch", ["jobs"], ["list", "patch"]),
            ("policy", ["poddisruptionbudgets"], ["list"]),
            ("autoscaling", ["horizontalpodautoscalers"], ["list"]),
        ]
        for (group, resources, verbs) in seed {
            for resource in resources {
                for verb in verbs { #expect(allows(group, resource, verb), "\(verb) \(resource).\(group) is missing") }
            }
        }
        // And the roles labelled for Sandman (the kinds of SleepInfo patches), bound to the same account.
        let aggregated = Self.object(applied["deploy/managed-cluster"] ?? [], kind: "ClusterRole", name: "sandman-kube-green-kinds")
        #expect(aggregated?[path: ["aggregationRule", "clusterRoleSelectors"]] == [["matchLabels": ["sandman.dev/aggregate-to-sandman": "true"]]])
        let binding = Self.object(applied["deploy/managed-cluster"] ?? [], kind: "ClusterRoleBinding", name: "sandman-kube-green-kinds")
        #expect(binding?[path: ["roleRef", "name"]] == "sandman-kube-green-kinds")
        #expect(binding?["subjects"] == [["kind": "ServiceAccount", "name": "sandman", "namespace": "sandman-system"]])
        #expect(Self.object(applied["deploy/examples/external-secrets"] ?? [], kind: "ExternalSecret") != nil)
    }

    /// The Prometheus Operator's rule carries exactly the plain rules file's groups.
    @Test func thePrometheusRuleIsThePlainRulesFile() throws {
        let plain = try JSONValue(yaml: String(contentsOfFile: repositoryFile("deploy/monitoring/alerts.rules.yml"), encoding: .utf8))
        let rule = try JSONValue(yaml: String(contentsOfFile: repositoryFile("deploy/base/prometheusrule.yaml"), encoding: .utf8))
        #expect(rule["spec"] == plain, "deploy/base/prometheusrule.yaml differs from deploy/monitoring/alerts.rules.yml: run scripts/prometheusrule.sh")
    }

    /// Plugins as one ConfigMap per folder, each mounted at its folder.
    @Test func pluginsShipAsOneConfigMapPerFolder() async throws {
        let cluster = try await Cluster.start()
        defer { afterTest { await cluster.stop() } }
        // Kustomize takes relative paths only.
        let up = String(repeating: "../", count: (cluster.directory.path + "/with-plugins").split(separator: "/").count)
        try cluster.directory.write("with-plugins/kustomization.yaml", """
            apiVersion: kustomize.config.k8s.io/v1beta1
            kind: Kustomization
            resources: [\(up + repositoryFile("deploy/overlays/single").dropFirst())]
            components: [\(up + repositoryFile("deploy/components/plugins-configmaps").dropFirst())]
            """)
        let objects = try await cluster.apply(Rendering(directory: cluster.directory.path + "/with-plugins", flags: ["--load-restrictor", "LoadRestrictionsNone"]))
        let workload = try #require(Self.object(objects, kind: "StatefulSet"))
        let mounts = workload[path: ["spec", "template", "spec", "containers"]]?.array?.first?["volumeMounts"]?.array ?? []
        let volumes = workload[path: ["spec", "template", "spec", "volumes"]]?.array ?? []
        for folder in ["policy", "teams", "slack", "notify"] {
            let mount = try #require(mounts.first { $0["mountPath"] == .string("/etc/sandman/plugins/" + folder) }, "no mount for \(folder)")
            let volume = volumes.first { $0["name"] == mount["name"] }
            let configMapName = volume?[path: ["configMap", "name"]]?.string ?? ""
            let configMap = try #require(Self.object(objects, kind: "ConfigMap") { $0 == configMapName }, "\(folder): no ConfigMap \(configMapName)")
            let files = try FileManager.default.contentsOfDirectory(atPath: repositoryFile("plugins/" + folder)).filter { $0.hasSuffix(".lua") && !$0.hasSuffix("_test.lua") }
            #expect(Set(configMap["data"]?.object?.keys.map { $0 } ?? []) == Set(files), "\(folder)")
        }
    }

    /// `sandman config validate` on the configuration and cluster files the overlay's ConfigMaps
    /// carry, with the in-pod paths pointed at a scratch copy.
    static func validateConfiguration(in objects: [JSONValue], overlay: String, directory: TemporaryDirectory) async throws {
        let scratch = overlay.replacingOccurrences(of: "/", with: "-") + "-config"
        let config = object(objects, kind: "ConfigMap") { $0.hasPrefix("sandman-config") }?[path: ["data", "sandman.yaml"]]?.string ?? ""
        let path = try directory.write(scratch + "/sandman.yaml", config)
        for (file, text) in object(objects, kind: "ConfigMap") { $0.hasPrefix("sandman-clusters") }?["data"]?.object ?? [:] {
            try directory.write(scratch + "/clusters/" + file, text.string ?? "")
        }
        let root = directory.path + "/" + scratch
        let result = try await ProcessOutput.run(HubFixture.binary, arguments: ["config", "validate", "--config", path], environment: [
            "SANDMAN_CLUSTERS_DIR": root + "/clusters", "SANDMAN_DATABASE": root + "/hub.sqlite", "SANDMAN_PLUGINS_DIR": root + "/plugins",
        ], timeout: .seconds(120))
        #expect(result.status == 0, "\(overlay): \(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("cluster home"), "\(overlay): \(result.stdout)")
    }

    static func object(_ objects: [JSONValue], kind: String, named: (String) -> Bool) -> JSONValue? {
        objects.first { $0["kind"]?.string == kind && named($0[path: ["metadata", "name"]]?.string ?? "") }
    }
}
