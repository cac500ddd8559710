import Foundation
import JSON
import KubeSim
import TestSupport
import Testing

/// The real kubectl against KubeSim over HTTPS with client certificates: the independent check
/// that the simulator behaves like a kube-apiserver.
@Suite("kubectl against KubeSim", .awaitingCleanup)
struct KubectlCompatibilityTests {
    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: shop
          labels: {app: web, tier: front}
        spec:
          replicas: 3
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: nginx:1.27
        """

    private func expectSuccess(_ output: Kubectl.Output, _ command: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(output.status == 0, "kubectl \(command) failed: \(output.stderr)", sourceLocation: sourceLocation)
    }

    @Test func applyGetScalePatchDelete() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let kubectl = try harness.kubectl()

        expectSuccess(try await kubectl.run(["create", "namespace", "shop"]), "create namespace")
        let applied = try await kubectl.run(["apply", "-f", "-"], stdin: Self.deployment)
        expectSuccess(applied, "apply")
        #expect(applied.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "deployment.apps/web created")
        #expect(try await kubectl.run(["apply", "-f", "-"], stdin: Self.deployment).stdout.contains("deployment.apps/web unchanged"))

        let json = try await kubectl.run(["get", "deployment", "web", "-n", "shop", "-o", "json"])
        expectSuccess(json, "get -o json")
        let object = try JSONValue(parsing: json.stdout)
        #expect(object[path: ["spec", "replicas"]] == 3)
        #expect(object[path: ["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"]] != nil)

        let wide = try await kubectl.run(["get", "deployments", "-n", "shop", "-o", "wide"])
        expectSuccess(wide, "get -o wide")
        let lines = wide.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.first == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"])
        #expect(lines.dropFirst().first.map { [$0[0], $0[1], $0[5], $0[6], $0[7]] } == ["web", "3/3", "web", "nginx:1.27", "app=web"])

        #expect(try await kubectl.run(["get", "deploy", "-n", "shop", "--selector", "tier=front", "-o", "name"]).stdout == "deployment.apps/web\n")
        #expect(try await kubectl.run(["get", "deploy", "-n", "shop", "--selector", "tier=back", "-o", "name"]).stdout == "")

        let scaled = try await kubectl.run(["scale", "deployment/web", "-n", "shop", "--replicas=5"])
        expectSuccess(scaled, "scale")
        #expect(scaled.stdout.contains("deployment.apps/web scaled"))
        #expect(try await kubectl.run(["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}/{.status.readyReplicas}"]).stdout == "5/5")

        expectSuccess(try await kubectl.run(["patch", "deploy", "web", "-n", "shop", "--type=merge", "-p", #"{"spec":{"replicas":2}}"#]), "patch merge")
        expectSuccess(try await kubectl.run(["patch", "deploy", "web", "-n", "shop", "--type=json", "-p", #"[{"op":"replace","path":"/spec/replicas","value":1}]"#]), "patch json")
        expectSuccess(try await kubectl.run(["patch", "deploy", "web", "-n", "shop", "--type=strategic", "-p", #"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#]), "patch strategic")
        let patched = try await kubectl.run(["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[*].image} {.metadata.generation}"])
        #expect(patched.stdout == "1 nginx:1.28 5")

        let deleted = try await kubectl.run(["delete", "deployment", "web", "-n", "shop"])
        expectSuccess(deleted, "delete")
        #expect(deleted.stdout.contains("deployment.apps \"web\" deleted"))
        let missing = try await kubectl.run(["get", "deployment", "web", "-n", "shop"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("deployments.apps \"web\" not found"))
    }

    @Test func customResourceDefinitionMakesSleepInfoServed() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let kubectl = try harness.kubectl()
        let crd = repositoryFile("deploy/crds/kube-green.com_sleepinfos.yaml")
        expectSuccess(try await kubectl.run(["apply", "-f", crd]), "apply CRD")

        let resources = try await kubectl.run(["api-resources"])
        expectSuccess(resources, "api-resources")
        let rows = resources.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.contains(["sleepinfos", "kube-green.com/v1alpha1", "true", "SleepInfo"]))
        #expect(rows.contains(["deployments", "deploy", "apps/v1", "true", "Deployment"]))
        #expect(rows.contains(["leases", "coordination.k8s.io/v1", "true", "Lease"]))

        let sleepInfo = """
            apiVersion: kube-green.com/v1alpha1
            kind: SleepInfo
            metadata: {name: working-hours, namespace: default}
            spec: {weekdays: "1-5", sleepAt: "20:00", wakeUpAt: "08:00", timeZone: Europe/Rome}
            """
        expectSuccess(try await kubectl.run(["apply", "-f", "-"], stdin: sleepInfo), "apply SleepInfo")
        let table = try await kubectl.run(["get", "sleepinfos"])
        #expect(table.stdout.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "SLEEP", "AT", "WAKE", "UP", "AT", "AGE"])
        #expect(table.stdout.contains("working-hours   20:00"))
        let object = try JSONValue(parsing: try await kubectl.run(["get", "sleepinfo", "working-hours", "-o", "json"]).stdout)
        #expect(object[path: ["spec", "timeZone"]] == "Europe/Rome")
        #expect(object["kind"] == "SleepInfo")
    }

    @Test func serverSideApplyAndConflicts() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let kubectl = try harness.kubectl()
        expectSuccess(try await kubectl.run(["create", "namespace", "shop"]), "create namespace")
        let applied = try await kubectl.run(["apply", "--server-side", "-f", "-"], stdin: Self.deployment)
        expectSuccess(applied, "apply --server-side")
        #expect(applied.stdout.contains("deployment.apps/web serverside-applied"))
        expectSuccess(try await kubectl.run(["scale", "deployment/web", "-n", "shop", "--replicas=0"]), "scale")

        let conflict = try await kubectl.run(["apply", "--server-side", "-f", "-"], stdin: Self.deployment)
        #expect(conflict.status != 0)
        #expect(conflict.stderr.contains("Apply failed with 1 conflict"))
        #expect(conflict.stderr.contains(".spec.replicas"))

        expectSuccess(try await kubectl.run(["apply", "--server-side", "--force-conflicts", "-f", "-"], stdin: Self.deployment), "apply --force-conflicts")
        #expect(try await kubectl.run(["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}"]).stdout == "3")
    }

    @Test func watchSeesAChange() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let kubectl = try harness.kubectl()
        expectSuccess(try await kubectl.run(["create", "namespace", "shop"]), "create namespace")
        expectSuccess(try await kubectl.run(["apply", "-f", "-"], stdin: Self.deployment), "apply")

        async let watched = kubectl.run(["get", "deployments", "-n", "shop", "--watch", "--output-watch-events", "--request-timeout=8s"])
        #expect(await eventually { await harness.sim.openWatchCount > 0 })
        expectSuccess(try await kubectl.run(["scale", "deployment/web", "-n", "shop", "--replicas=7"]), "scale")
        let output = try await watched
        let rows = output.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.first?.prefix(2) == ["EVENT", "NAME"])
        #expect(rows.contains { $0.count > 2 && $0[0] == "ADDED" && $0[2] == "3/3" })
        #expect(rows.contains { $0.count > 2 && $0[0] == "MODIFIED" && $0[2] == "7/7" }, "\(output.stdout)")
    }

    @Test func credentialsAreChecked() async throws {
        let harness = try await SimHarness.start {
            $0.tokens = ["reader-token": "reader"]
            $0.readOnlyUsers = ["reader"]
        }
        defer { afterTest { await harness.stop() } }
        let tokenConfig = try harness.directory.write("token.yaml", harness.sim.kubeconfig(token: "reader-token"))
        let reader = try Kubectl(kubeconfig: tokenConfig, cacheDirectory: harness.directory.path + "/cache-reader")
        let namespaces = try await reader.run(["get", "namespaces", "-o", "name"])
        #expect(namespaces.stdout.contains("namespace/default"))
        let forbidden = try await reader.run(["create", "namespace", "nope"])
        #expect(forbidden.status != 0)
        #expect(forbidden.stderr.contains("Error from server (Forbidden)"))

        let wrongConfig = try harness.directory.write("wrong.yaml", harness.sim.kubeconfig(token: "not-a-token"))
        let stranger = try Kubectl(kubeconfig: wrongConfig, cacheDirectory: harness.directory.path + "/cache-stranger")
        let denied = try await stranger.run(["get", "namespaces"])
        #expect(denied.status != 0)
        #expect(denied.stderr.contains("Unauthorized") || denied.stderr.contains("must be logged in"))

        let whoami = try await harness.kubectl(user: "jane").run(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"])
        #expect(whoami.stdout == "jane")
    }
}
