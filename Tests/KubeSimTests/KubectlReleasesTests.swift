import Foundation
import JSON
import KubeSim
import TestSupport
import Testing

/// kubectl 1.31, 1.32 and 1.33 against KubeSim: what each sends must be answered as a real
/// kube-apiserver answers it. Expected answers come from kubectl's own output against a real
/// cluster (kubernetes.io/docs/reference/kubectl), noted beside each case.
@Suite("kubectl releases against KubeSim", .serialized, .awaitingCleanup)
struct KubectlReleasesTests {
    static let releases = [31, 32, 33]

    private func kubectl(_ harness: SimHarness, release: Int) throws -> Kubectl {
        let path = try harness.directory.write("kubeconfig-\(release).yaml", try harness.sim.kubeconfig(user: "admin"))
        return Kubectl(executable: try Kubectl.release(release), kubeconfig: path, cacheDirectory: harness.directory.path + "/cache-\(release)")
    }

    private func succeeds(_ output: Kubectl.Output, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(output.status == 0, "kubectl \(what): \(output.stderr)", sourceLocation: sourceLocation)
    }

    /// kubectl 1.32+ sends `kubectl create` bodies as application/vnd.kubernetes.protobuf
    /// (client-go's default for built-in kinds); a real server stores what they describe.
    @Test(arguments: releases)
    func createCommands(release: Int) async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let kubectl = try kubectl(harness, release: release)
        succeeds(try await kubectl.run(["create", "namespace", "shop"]), "create namespace")
        succeeds(try await kubectl.run(["create", "configmap", "settings", "-n", "shop", "--from-literal=mode=fast"]), "create configmap")
        succeeds(try await kubectl.run(["create", "secret", "generic", "token", "-n", "shop", "--from-literal=key=s3cr3t"]), "create secret")
        succeeds(try await kubectl.run(["create", "deployment", "web", "-n", "shop", "--image=nginx:1.27", "--replicas=0", "--port=80"]), "create deployment")
        succeeds(try await kubectl.run(["create", "job", "once", "-n", "shop", "--image=busybox:1.36", "--", "echo", "hi"]), "create job")
        succeeds(try await kubectl.run(["create", "cronjob", "nightly", "-n", "shop", "--image=busybox:1.36", "--schedule=0 3 * * *"]), "create cronjob")
        succeeds(try await kubectl.run(["create", "service", "clusterip", "web", "-n", "shop", "--tcp=80:8080"]), "create service")

        #expect(await harness.sim.object(apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "settings")?["data"] == ["mode": "fast"])
        #expect(await harness.sim.object(apiVersion: "v1", kind: "Secret", namespace: "shop", name: "token")?[path: ["data", "key"]] == .string(Data("s3cr3t".utf8).base64EncodedString()))
        let deployment = try #require(await harness.sim.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "shop", name: "web"))
        // --replicas=0 is kept (a pointer field), defaults filled as the API server does.
        #expect(deployment[path: ["spec", "replicas"]] == 0)
        #expect(deployment[path: ["spec", "template", "spec", "containers"]]?.array?.first?["ports"]?.array?.first == ["containerPort": 80, "protocol": "TCP"])
        #expect(deployment[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]] == "25%")
        #expect(deployment[path: ["spec", "progressDeadlineSeconds"]] == 600)
        #expect(deployment[path: ["metadata", "managedFields"]]?.array?.first?["manager"] == "kubectl-create")
        let job = try #require(await harness.sim.object(apiVersion: "batch/v1", kind: "Job", namespace: "shop", name: "once"))
        #expect(job[path: ["spec", "template", "spec", "containers"]]?.array?.first?["command"] == ["echo", "hi"])
        #expect(job[path: ["spec", "template", "spec", "restartPolicy"]] == "Never")
        #expect(job[path: ["spec", "selector", "matchLabels", "batch.kubernetes.io/controller-uid"]] == job[path: ["metadata", "uid"]])
        let service = try #require(await harness.sim.object(apiVersion: "v1", kind: "Service", namespace: "shop", name: "web"))
        #expect(service[path: ["spec", "ports"]]?.array?.first?["targetPort"] == 8080)

        // Server-side printing: the CronJob table has TIMEZONE and prints False (pkg/printers).
        let cronJobs = try await kubectl.run(["get", "cronjobs", "-n", "shop"])
        #expect(cronJobs.stdout.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"])
        #expect(cronJobs.stdout.contains("<none>     False"))
        let services = try await kubectl.run(["get", "services", "-n", "shop"])
        #expect(services.stdout.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"])
        #expect(services.stdout.contains("ClusterIP") && services.stdout.contains("80/TCP"))
    }

    /// Set-based selectors travel as `app+in+%28...%29` (kubectl, client-go): `+` is a space.
    /// `kubectl rollout status` and `wait --for=condition=Available` read the Deployment's
    /// observedGeneration, updated/available replicas and conditions (kubectl rollout status
    /// source: polymorphichelpers/rollout_status.go); a restart makes a new revision.
    @Test(arguments: releases)
    func selectorsRolloutsAndWaits(release: Int) async throws {
        let harness = try await SimHarness.start { $0.workloadReadyDelay = .milliseconds(400) }
        defer { afterTest { await harness.stop() } }
        let kubectl = try kubectl(harness, release: release)
        succeeds(try await kubectl.run(["apply", "-f", "-"], stdin: KubectlCompatibilityTests.deployment.replacingOccurrences(of: "namespace: shop", with: "namespace: default")), "apply")
        let selected = try await kubectl.run(["get", "deployments", "-l", "app in (web,api),tier notin (back)", "-o", "name"])
        succeeds(selected, "get -l set-based")
        #expect(selected.stdout == "deployment.apps/web\n")

        succeeds(try await kubectl.run(["rollout", "status", "deployment/web", "--timeout=20s"]), "rollout status")
        succeeds(try await kubectl.run(["wait", "--for=condition=Available", "deployment/web", "--timeout=20s"]), "wait Available")
        succeeds(try await kubectl.run(["rollout", "restart", "deployment/web"]), "rollout restart")
        let status = try await kubectl.run(["rollout", "status", "deployment/web", "--timeout=20s"])
        succeeds(status, "rollout status after restart")
        #expect(status.stdout.contains("successfully rolled out"))
        #expect(try await kubectl.run(["get", "deployment", "web", "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}"]).stdout == "2")

        succeeds(try await kubectl.run(["apply", "-f", "-"], stdin: """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: db}
            spec:
              replicas: 2
              serviceName: db
              selector: {matchLabels: {app: db}}
              template:
                metadata: {labels: {app: db}}
                spec: {containers: [{name: db, image: "postgres:16"}]}
            """), "apply StatefulSet")
        succeeds(try await kubectl.run(["rollout", "status", "statefulset/db", "--timeout=20s"]), "rollout status StatefulSet")
    }

    /// Writes a real server refuses, as kubectl shows them (kube-apiserver's decoding errors are
    /// 400 BadRequest, validation errors 422 Invalid; kubectl's default is fieldValidation=Strict).
    @Test(arguments: releases)
    func refusedWrites(release: Int) async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let kubectl = try kubectl(harness, release: release)
        let unknown = try await kubectl.run(["apply", "-f", "-"], stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nextra: field\n")
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains(#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "extra""#))
        let wrongType = try await kubectl.run(["apply", "-f", "-"], stdin: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {schedule: '0 3 * * *', suspend: 'yes', jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: c}]}}}}}\n")
        #expect(wrongType.stderr.contains("json: cannot unmarshal string into Go struct field CronJobSpec.spec.suspend of type bool"), "\(wrongType.stderr)")
        let negative = try await kubectl.run(["create", "deployment", "web", "--image=nginx", "--replicas=-1"])
        #expect(negative.stderr.contains(#"spec.replicas: Invalid value: -1: must be greater than or equal to 0"#), "\(negative.stderr)")
        let undeletable = try await kubectl.run(["delete", "namespace", "default"])
        #expect(undeletable.stderr.contains(#"namespaces "default" is forbidden: this namespace may not be deleted"#))
    }

    /// Discovery and the reviews kubectl asks: api-resources, auth can-i (SelfSubjectAccessReview),
    /// auth whoami (SelfSubjectReview), explain (OpenAPI v3 schemas).
    @Test(arguments: releases)
    func discoveryReviewsAndExplain(release: Int) async throws {
        let harness = try await SimHarness.start { $0.readOnlyUsers = ["viewer"] }
        defer { afterTest { await harness.stop() } }
        let kubectl = try kubectl(harness, release: release)
        let resources = try await kubectl.run(["api-resources", "-o", "wide"])
        succeeds(resources, "api-resources")
        let rows = resources.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.contains { $0.first == "namespaces" && $0.contains("create,delete,get,list,patch,update,watch") })
        for kind in ["roles", "clusterrolebindings", "networkpolicies", "poddisruptionbudgets", "ingresses", "persistentvolumeclaims", "nodes", "endpointslices", "serviceaccounts"] {
            #expect(rows.contains { $0.first == kind }, "\(kind) is served")
        }
        #expect(rows.contains { $0.first == "customresourcedefinitions" && $0.last == "api-extensions" })

        #expect(try await kubectl.run(["auth", "can-i", "delete", "deployments"]).stdout == "yes\n")
        let viewerConfig = try harness.directory.write("viewer.yaml", try harness.sim.kubeconfig(user: "viewer", groups: ["viewers"]))
        let viewer = Kubectl(executable: kubectl.executable, kubeconfig: viewerConfig, cacheDirectory: harness.directory.path + "/cache-viewer-\(release)")
        #expect(try await viewer.run(["auth", "can-i", "delete", "deployments"]).stdout == "no\n")
        #expect(try await viewer.run(["auth", "can-i", "list", "pods"]).stdout == "yes\n")
        let whoami = try await viewer.run(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"])
        #expect(whoami.stdout == #"viewer ["viewers","system:authenticated"]"#)

        let explained = try await kubectl.run(["explain", "deployment.spec.replicas"])
        succeeds(explained, "explain")
        #expect(explained.stdout.contains("FIELD: replicas <integer>"))
        #expect(explained.stdout.contains("Number of desired pods"))
    }
}
