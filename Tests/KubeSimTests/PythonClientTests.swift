import Foundation
import JSON
import Kube
import KubeSim
import TestSupport
import Testing

/// The official Kubernetes Python client (PyPI `kubernetes`, installed by `make python-deps`)
/// against KubeSim over HTTPS with a bearer token: a second, independent client.
@Suite("Python kubernetes client against KubeSim", .awaitingCleanup)
struct PythonClientTests {
    struct MissingPython: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) is missing: run `make python-deps` (a venv with the official kubernetes client)" }
    }

    /// Each step prints one JSON line: what the client saw.
    static let script = #"""
        import json, sys
        from kubernetes import client, config, dynamic, watch
        from kubernetes.client.rest import ApiException

        config.load_kube_config(config_file=sys.argv[1])
        apps, core = client.AppsV1Api(), client.CoreV1Api()
        def report(step, **values):
            print(json.dumps(dict(step=step, **values)), flush=True)

        def deployment(name, replicas):
            return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                             "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}

        for name in ["web", "api", "batch"]:
            apps.create_namespaced_deployment("default", deployment(name, 2))
        selected = apps.list_namespaced_deployment("default", label_selector="app in (web,api)")
        report("set-based selector", names=sorted(d.metadata.name for d in selected.items))
        # The typed API checks types itself; the dynamic client sends what it is given.
        deployments = dynamic.DynamicClient(client.ApiClient()).resources.get(api_version="apps/v1", kind="Deployment")
        try:
            deployments.create(body=deployment("bad", "two"), namespace="default")
            report("wrong type", status=201)
        except ApiException as error:
            report("wrong type", status=error.status, reason=json.loads(error.body).get("reason"))
        try:
            apps.create_namespaced_deployment("default", deployment("negative", -1))
        except ApiException as error:
            body = json.loads(error.body)
            report("negative replicas", status=error.status, fields=[c["field"] for c in body["details"]["causes"]])
        scaled = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
        report("scale", replicas=scaled.spec.replicas)
        status = apps.read_namespaced_deployment_status("web", "default").status
        report("status", observed=status.observed_generation, available=status.available_replicas,
               conditions=sorted(c.type for c in status.conditions or []))
        events = []
        stream = watch.Watch().stream(apps.list_namespaced_deployment, "default", label_selector="app in (web)", timeout_seconds=1)
        for event in stream:
            events.append(event["type"])
        report("watch", events=events)
        review = client.AuthorizationV1Api().create_self_subject_access_review(
            {"spec": {"resourceAttributes": {"verb": "delete", "group": "apps", "resource": "deployments", "namespace": "default"}}})
        report("can-i", allowed=review.status.allowed)
        deleted = apps.delete_namespaced_deployment("batch", "default")
        deleted = deleted if isinstance(deleted, dict) else deleted.to_dict()
        report("delete", kind=deleted.get("kind"), status=deleted.get("status"))
        """#

    @Test func officialClientSeesARealServer() async throws {
        let python = repositoryFile(".build-python/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python) else { throw MissingPython(path: python) }
        let harness = try await SimHarness.start { $0.tokens = ["python-token": "admin"] }
        defer { afterTest { await harness.stop() } }
        let configPath = try harness.directory.write("python.yaml", harness.sim.kubeconfig(token: "python-token", userName: "admin"))
        let scriptPath = try harness.directory.write("client.py", Self.script)
        let result = try await ProcessOutput.run(python, arguments: [scriptPath, configPath], input: "", timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stderr)")
        var steps: [String: JSONValue] = [:]
        for line in result.stdout.split(separator: "\n") {
            let value = try JSONValue(parsing: String(line))
            steps[value["step"]?.string ?? ""] = value
        }
        #expect(steps["set-based selector"]?["names"] == ["api", "web"])
        #expect(steps["wrong type"]?["status"] == 400)
        #expect(steps["wrong type"]?["reason"] == "BadRequest")
        #expect(steps["negative replicas"]?["status"] == 422)
        #expect(steps["negative replicas"]?["fields"] == ["spec.replicas"])
        #expect(steps["scale"]?["replicas"] == 5)
        #expect(steps["status"]?["observed"] == 2)
        #expect(steps["status"]?["available"] == 5)
        #expect(steps["status"]?["conditions"] == ["Available", "Progressing"])
        #expect(steps["watch"]?["events"] == ["ADDED"])
        #expect(steps["can-i"]?["allowed"] == true)
        #expect(steps["delete"]?["kind"] == "Status")
        #expect(steps["delete"]?["status"] == "Success")
    }
}
