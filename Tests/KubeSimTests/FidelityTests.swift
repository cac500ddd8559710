import Foundation
import JSON
import KubeSim
import TestSupport
import Testing
import Transport

/// What KubeSim answers where a real kube-apiserver's answer is known. Each case names its
/// source: the API reference, api-concepts (kubernetes.io/docs/reference/using-api), or the
/// kube-apiserver code the behaviour comes from.
@Suite("KubeSim answers like kube-apiserver", .awaitingCleanup)
struct FidelityTests {
    struct WriteCase: Sendable, CustomStringConvertible {
        var description: String
        var method: HTTPMethod = .post
        var path: String = "/apis/apps/v1/namespaces/default/deployments"
        var body: JSONValue
        var status: Int
        var reason: String?
        var message: String
        /// Where the expected answer comes from.
        var source: String
    }

    static func deployment(_ change: (inout JSONValue) -> Void) -> JSONValue {
        var object = SimHarness.deployment("web")
        change(&object)
        return object
    }

    static let refusedWrites: [WriteCase] = [
        WriteCase(description: "replicas as a string", body: deployment { $0[path: ["spec", "replicas"]] = "two" }, status: 400, reason: "BadRequest",
                  message: #"Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"#,
                  source: "apiserver handlers/create.go transformDecodeError + encoding/json UnmarshalTypeError"),
        WriteCase(description: "replicas 2.5", body: deployment { $0[path: ["spec", "replicas"]] = .double(2.5) }, status: 400, reason: "BadRequest",
                  message: "json: cannot unmarshal number 2.5 into Go struct field DeploymentSpec.spec.replicas of type int32", source: "encoding/json"),
        WriteCase(description: "negative replicas", body: deployment { $0[path: ["spec", "replicas"]] = -1 }, status: 422, reason: "Invalid",
                  message: #"Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#, source: "apps/validation ValidateDeploymentSpec"),
        WriteCase(description: "numeric annotation", body: deployment { $0[path: ["metadata", "annotations"]] = ["a": 1] }, status: 400, reason: "BadRequest",
                  message: "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.annotations of type string", source: "encoding/json"),
        WriteCase(description: "invalid label key", body: deployment { $0[path: ["metadata", "labels"]] = ["bad key": "x"] }, status: 422, reason: "Invalid",
                  message: #"metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters"#, source: "apimachinery validation IsQualifiedName"),
        WriteCase(description: "invalid label value", body: deployment { $0[path: ["metadata", "labels"]] = ["team": "a b"] }, status: 422, reason: "Invalid",
                  message: #"metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters"#, source: "apimachinery validation IsValidLabelValue"),
        WriteCase(description: "selector not matching the template", body: deployment { $0[path: ["spec", "selector", "matchLabels", "app"]] = "other" }, status: 422, reason: "Invalid",
                  message: "spec.template.metadata.labels: Invalid value:", source: "apps/validation ValidateDeploymentSpec"),
        WriteCase(description: "no pod template", body: deployment { $0[path: ["spec", "template"]] = nil }, status: 422, reason: "Invalid",
                  message: "spec.template.spec.containers: Required value", source: "core/validation ValidatePodSpec"),
        WriteCase(description: "resourceVersion on create", body: deployment { $0[path: ["metadata", "resourceVersion"]] = "42" }, status: 500, reason: nil,
                  message: "resourceVersion should not be set on objects to be created", source: "apiserver storage/etcd3 store.go Create"),
        WriteCase(description: "secret data not base64", path: "/api/v1/namespaces/default/secrets", body: ["metadata": ["name": "s"], "data": ["k": "not base64!"]], status: 400, reason: "BadRequest",
                  message: #"Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3"#, source: "encoding/base64 via encoding/json"),
        WriteCase(description: "cron job suspend as a string", path: "/apis/batch/v1/namespaces/default/cronjobs",
                  body: ["metadata": ["name": "c"], "spec": ["schedule": "0 3 * * *", "suspend": "yes", "jobTemplate": ["spec": ["template": ["spec": ["restartPolicy": "Never", "containers": [["name": "c", "image": "c"]]]]]]]],
                  status: 400, reason: "BadRequest", message: "cannot unmarshal string into Go struct field CronJobSpec.spec.suspend of type bool", source: "encoding/json"),
        WriteCase(description: "service without ports", path: "/api/v1/namespaces/default/services", body: ["metadata": ["name": "svc"], "spec": ["selector": ["app": "web"]]], status: 422, reason: "Invalid",
                  message: "spec.ports: Required value", source: "core/validation ValidateService"),
        WriteCase(description: "role binding to a Role from a ClusterRoleBinding", path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                  body: ["metadata": ["name": "b"], "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"], "subjects": [["kind": "User", "name": "jane"]]],
                  status: 422, reason: "Invalid", message: #"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#, source: "rbac/validation ValidateClusterRoleBinding"),
    ]

    @Test(arguments: refusedWrites)
    func refusedWrite(_ write: WriteCase) async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let reply = try await harness.request(write.method, write.path, body: write.body)
        #expect(reply.status == write.status, "\(write.description) (\(write.source)): \(reply.body)")
        #expect(reply.body["kind"] == "Status")
        #expect(reply.body["reason"]?.string == write.reason)
        #expect((reply.body["message"]?.string ?? "").contains(write.message), "\(write.description) (\(write.source)): \(reply.body["message"] ?? .null)")
        if write.status == 422 {
            // errors.NewInvalid: details name the kind and list each cause with its field.
            #expect(reply.body[path: ["details", "causes"]]?.array?.isEmpty == false)
        }
    }

    /// fieldValidation: Strict refuses unknown fields, Warn (the default) drops them with a
    /// `Warning: 299` header, Ignore drops them silently (api-concepts, "Field validation").
    @Test func unknownFieldsByValidationMode() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let body = Self.deployment { $0[path: ["spec", "replicaz"]] = 3 }
        let strict = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict", body: body)
        #expect(strict.status == 400)
        #expect(strict.body["message"] == #"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicaz""#)
        let warned = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: body)
        #expect(warned.status == 201)
        #expect(warned.headers["Warning"] == #"299 - "unknown field \"spec.replicaz\"""#)
        #expect(warned.body[path: ["spec", "replicaz"]] == nil)
        var other = body
        other[path: ["metadata", "name"]] = "quiet"
        let ignored = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Ignore", body: other)
        #expect(ignored.status == 201)
        #expect(ignored.headers["Warning"] == nil)
    }

    /// Defaults the controllers rely on (pkg/apis/apps/v1/defaults.go, batch, core).
    @Test func defaultsAreFilledIn() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let deployment = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("web")).body
        #expect(deployment[path: ["spec", "strategy"]] == ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]])
        #expect(deployment[path: ["spec", "revisionHistoryLimit"]] == 10)
        #expect(deployment[path: ["spec", "progressDeadlineSeconds"]] == 600)
        #expect(deployment[path: ["spec", "template", "spec", "restartPolicy"]] == "Always")
        let cronJob = try await harness.request(.post, "/apis/batch/v1/namespaces/default/cronjobs", body: ["metadata": ["name": "nightly"], "spec": ["schedule": "0 3 * * *", "jobTemplate": ["spec": ["template": ["spec": ["restartPolicy": "OnFailure", "containers": [["name": "c", "image": "c"]]]]]]]]).body
        #expect(cronJob[path: ["spec", "suspend"]] == false)
        #expect(cronJob[path: ["spec", "concurrencyPolicy"]] == "Allow")
        #expect(cronJob[path: ["spec", "successfulJobsHistoryLimit"]] == 3)
        let service = try await harness.request(.post, "/api/v1/namespaces/default/services", body: ["metadata": ["name": "web"], "spec": ["selector": ["app": "web"], "ports": [["port": 80]]]]).body
        #expect(service[path: ["spec", "ports"]]?.array?.first == ["port": 80, "protocol": "TCP", "targetPort": 80])
        #expect(service[path: ["spec", "type"]] == "ClusterIP")
    }

    /// Immutability and deletion rules on updates.
    @Test func updatesThatARealServerRefuses() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        _ = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("web"))
        var moved = SimHarness.deployment("web")
        moved[path: ["spec", "selector", "matchLabels", "app"]] = "other"
        moved[path: ["spec", "template", "metadata", "labels", "app"]] = "other"
        let selector = try await harness.request(.put, "/apis/apps/v1/namespaces/default/deployments/web", body: moved)
        #expect(selector.status == 422)
        #expect((selector.body["message"]?.string ?? "").contains("spec.selector: Invalid value:"))
        #expect((selector.body["message"]?.string ?? "").hasSuffix("field is immutable"))

        // A finalizer holds the object; no new finalizer may be added while it is being deleted
        // (apimachinery ValidateObjectMetaUpdate).
        _ = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "held", "finalizers": ["example.com/a"]]])
        _ = try await harness.request(.delete, "/api/v1/namespaces/default/configmaps/held")
        let added = try await harness.request(.patch, "/api/v1/namespaces/default/configmaps/held", body: ["metadata": ["finalizers": ["example.com/a", "example.com/b"]]], contentType: "application/merge-patch+json")
        #expect(added.status == 422)
        #expect((added.body["message"]?.string ?? "").contains("no new finalizers can be added if the object is being deleted"))
    }

    /// A custom resource is validated and pruned by its CRD's structural schema; errors are 422
    /// with the OpenAPI validator's messages (apiextensions-apiserver).
    @Test func customResourcesFollowTheirSchema() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.sim.loadBundledCustomResourceDefinitions()
        let path = "/apis/kube-green.com/v1alpha1/namespaces/default/sleepinfos"
        let bad = try await harness.request(.post, path, body: ["metadata": ["name": "bad"], "spec": ["weekdays": "8", "sleepAt": 2000, "suspendCronJobs": "yes"]])
        #expect(bad.status == 422)
        let causes = (bad.body[path: ["details", "causes"]]?.array ?? []).compactMap { $0["message"]?.string }
        #expect(causes.contains("Invalid value: \"8\": spec.weekdays in body should match '^[0-6*,/-]+$'"), "\(causes)")
        #expect(causes.contains("Invalid value: \"integer\": spec.sleepAt in body must be of type string: \"integer\""), "\(causes)")
        #expect(causes.contains("Invalid value: \"string\": spec.suspendCronJobs in body must be of type boolean: \"string\""), "\(causes)")

        let pruned = try await harness.request(.post, path, body: ["metadata": ["name": "ok"], "spec": ["weekdays": "1-5", "sleepAt": "20:00", "colour": "blue"]])
        #expect(pruned.status == 201)
        #expect(pruned.body[path: ["spec", "colour"]] == nil)
        #expect(pruned.headers["Warning"] == #"299 - "unknown field \"spec.colour\"""#)
        let strict = try await harness.request(.post, path + "?fieldValidation=Strict", body: ["metadata": ["name": "ok2"], "spec": ["weekdays": "1-5", "sleepAt": "20:00", "colour": "blue"]])
        #expect(strict.status == 400)
        #expect(strict.body["message"] == #"SleepInfo in version "v1alpha1" cannot be handled as a SleepInfo: strict decoding error: unknown field "spec.colour""#)
    }

    /// A third-party CRD of the kind deploy manifests need (prometheus-operator's PrometheusRule,
    /// its schema's features): `kubectl apply --dry-run=server` of a rule is checked, not stored.
    static let prometheusRuleCRD = #"""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: prometheusrules.monitoring.coreos.com}
        spec:
          group: monitoring.coreos.com
          names: {categories: [prometheus-operator], kind: PrometheusRule, listKind: PrometheusRuleList, plural: prometheusrules, shortNames: [promrule], singular: prometheusrule}
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                required: [spec]
                properties:
                  apiVersion: {type: string}
                  kind: {type: string}
                  metadata: {type: object}
                  spec:
                    type: object
                    properties:
                      groups:
                        type: array
                        x-kubernetes-list-map-keys: [name]
                        x-kubernetes-list-type: map
                        items:
                          type: object
                          required: [name]
                          properties:
                            name: {type: string, minLength: 1}
                            partial_response_strategy: {type: string, pattern: '^(?i)(abort|warn)?$'}
                            rules:
                              type: array
                              items:
                                type: object
                                required: [expr]
                                properties:
                                  alert: {type: string}
                                  expr: {anyOf: [{type: integer}, {type: string}], x-kubernetes-int-or-string: true}
                                  for: {type: string, pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'}
                                  labels: {type: object, additionalProperties: {type: string}}
        """#

    @Test func thirdPartyCustomResourcesDryRun() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        try await harness.sim.load(manifests: Self.prometheusRuleCRD)
        let path = "/apis/monitoring.coreos.com/v1/namespaces/default/prometheusrules"
        func rule(_ expr: JSONValue, for duration: String) -> JSONValue {
            ["metadata": ["name": "sandman"], "spec": ["groups": [["name": "sandman", "rules": [["alert": "SandmanDown", "expr": expr, "for": .string(duration)]]]]]]
        }
        let checked = try await harness.request(.post, path + "?dryRun=All&fieldValidation=Strict", body: rule("up == 0", for: "5m"))
        #expect(checked.status == 201, "\(checked.body)")
        #expect(try await harness.request(.get, path + "/sandman").status == 404)
        #expect(try await harness.request(.post, path + "?dryRun=All", body: rule(1, for: "5m")).status == 201)
        let bad = try await harness.request(.post, path + "?dryRun=All", body: rule(true, for: "five"))
        #expect(bad.status == 422)
        #expect((bad.body[path: ["details", "causes"]]?.array ?? []).compactMap { $0["field"]?.string }.sorted() == ["spec.groups[0].rules[0].expr", "spec.groups[0].rules[0].for"])
    }

    /// Server-side apply (structured-merge-diff): containers are a map list keyed by name, so
    /// two appliers own one container each; a field applied by two managers stays when one drops
    /// it; /scale writes are their own manager with `subresource: scale`.
    @Test func serverSideApplySharesOwnership() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let path = "/apis/apps/v1/namespaces/default/deployments/web"
        func apply(_ manager: String, container: String, replicas: Int64?) async throws -> SimHarness.Reply {
            var object = SimHarness.deployment("web")
            object[path: ["spec", "template", "spec", "containers"]] = [["name": .string(container), "image": .string("\(container):1")]]
            object[path: ["spec", "replicas"]] = replicas.map(JSONValue.int)
            return try await harness.request(.patch, path + "?fieldManager=\(manager)", body: object, contentType: "application/apply-patch+yaml")
        }
        #expect(try await apply("argocd", container: "web", replicas: 2).status == 201)
        let both = try await apply("sandman", container: "sidecar", replicas: 2)
        #expect(both.status == 200)
        #expect(both.body[path: ["spec", "template", "spec", "containers"]]?.array?.compactMap { $0["name"]?.string } == ["web", "sidecar"])
        let fields = both.body[path: ["metadata", "managedFields"]]?.array ?? []
        let argo = fields.first { $0["manager"] == "argocd" }
        #expect(argo?[path: ["fieldsV1", "f:spec", "f:template", "f:spec", "f:containers", #"k:{"name":"web"}"#, "f:image"]] == .emptyObject)
        #expect(argo?[path: ["fieldsV1", "f:spec", "f:replicas"]] == .emptyObject)
        #expect(fields.first { $0["manager"] == "sandman" }?[path: ["fieldsV1", "f:spec", "f:replicas"]] == .emptyObject)

        // argocd stops applying replicas; sandman still owns them, so they stay.
        #expect(try await apply("argocd", container: "web", replicas: nil).body[path: ["spec", "replicas"]] == 2)
        // A /scale write takes replicas; re-applying another value conflicts with that manager.
        _ = try await harness.request(.patch, path + "/scale?fieldManager=kubectl-scale", body: ["spec": ["replicas": 5]], contentType: "application/merge-patch+json")
        let conflict = try await apply("sandman", container: "sidecar", replicas: 2)
        #expect(conflict.status == 409)
        #expect(conflict.body["message"] == #"Apply failed with 1 conflict: conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas"#)
        // sandman drops its sidecar: nobody else owns it, so it goes.
        var withoutSidecar = SimHarness.deployment("web")
        withoutSidecar[path: ["spec", "template", "spec", "containers"]] = []
        withoutSidecar[path: ["spec", "replicas"]] = nil
        let dropped = try await harness.request(.patch, path + "?fieldManager=sandman&force=true", body: withoutSidecar, contentType: "application/apply-patch+yaml")
        #expect(dropped.body[path: ["spec", "template", "spec", "containers"]]?.array?.compactMap { $0["name"]?.string } == ["web"], "\(dropped.body["message"] ?? .null)")
    }

    /// Query strings decode as Go's url.ParseQuery: `+` is a space (client-go, pykube).
    @Test func plusInQueryStringsIsASpace() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        _ = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("api", labels: ["app": "api"]))
        let list = try await harness.request(.get, "/apis/apps/v1/namespaces/default/deployments?labelSelector=app+in+%28api%2Cworker%29")
        #expect(list.status == 200)
        #expect(list.body["items"]?.array?.count == 1)
    }

    /// Namespaces: no deletecollection (405, as discovery says), the system namespaces cannot be
    /// deleted (NamespaceLifecycle admission); DELETE answers a Status for kinds that do not
    /// return the deleted object (registry Store.ReturnDeletedObject).
    @Test func deletionSafetyAndAnswers() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let all = try await harness.request(.delete, "/api/v1/namespaces")
        #expect(all.status == 405)
        #expect(try await harness.request(.get, "/api/v1/namespaces/default").status == 200)
        for name in ["default", "kube-system", "kube-public"] {
            let refused = try await harness.request(.delete, "/api/v1/namespaces/\(name)")
            #expect(refused.status == 403)
            #expect(refused.body["message"] == .string("namespaces \"\(name)\" is forbidden: this namespace may not be deleted"))
        }
        _ = try await harness.request(.post, "/apis/apps/v1/namespaces/default/deployments", body: SimHarness.deployment("web"))
        let deleted = try await harness.request(.delete, "/apis/apps/v1/namespaces/default/deployments/web")
        #expect(deleted.body["kind"] == "Status")
        #expect(deleted.body["status"] == "Success")
        #expect(deleted.body[path: ["details", "kind"]] == "deployments")
        _ = try await harness.request(.post, "/api/v1/namespaces/default/services", body: ["metadata": ["name": "web"], "spec": ["ports": [["port": 80]]]])
        #expect(try await harness.request(.delete, "/api/v1/namespaces/default/services/web").body["kind"] == "Service")
    }

    /// A watch whose object stops matching its selector gets DELETED with the last state that
    /// matched, at the change's resourceVersion (apiserver cacher, cache_watcher.go).
    @Test func leavingASelectorSendsTheLastMatchingState() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        _ = try await harness.request(.post, "/api/v1/namespaces/default/configmaps", body: ["metadata": ["name": "c", "labels": ["team": "a"]], "data": ["v": "1"]])
        let events = try await harness.watch("/api/v1/namespaces/default/configmaps?watch=1&labelSelector=team%3Da", count: 2) {
            _ = try await harness.request(.patch, "/api/v1/namespaces/default/configmaps/c", body: ["metadata": ["labels": ["team": "b"]], "data": ["v": "2"]], contentType: "application/merge-patch+json")
        }
        #expect(events.map { $0["type"] } == ["ADDED", "DELETED"])
        let last = events.last?["object"]
        #expect(last?[path: ["metadata", "labels", "team"]] == "a")
        #expect(last?[path: ["data", "v"]] == "1")
        #expect(last?[path: ["metadata", "resourceVersion"]] != events.first?[path: ["object", "metadata", "resourceVersion"]])
    }

    /// One HorizontalPodAutoscaler, served as autoscaling/v2 (storage) and autoscaling/v1, each
    /// in its own form (API reference: HorizontalPodAutoscaler v1 and v2).
    @Test func autoscalingVersionsConvert() async throws {
        let harness = try await SimHarness.start()
        defer { afterTest { await harness.stop() } }
        let created = try await harness.request(.post, "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers", body: [
            "metadata": ["name": "web"],
            "spec": ["scaleTargetRef": ["apiVersion": "apps/v1", "kind": "Deployment", "name": "web"], "maxReplicas": 5, "targetCPUUtilizationPercentage": 70],
        ])
        #expect(created.status == 201, "\(created.body)")
        #expect(created.body["apiVersion"] == "autoscaling/v1")
        #expect(created.body[path: ["spec", "targetCPUUtilizationPercentage"]] == 70)
        let v2 = try await harness.request(.get, "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web").body
        #expect(v2["apiVersion"] == "autoscaling/v2")
        #expect(v2[path: ["spec", "metrics"]]?.array?.first?[path: ["resource", "target", "averageUtilization"]] == 70)
        #expect(v2[path: ["spec", "minReplicas"]] == 1)
    }

    /// The SleepInfo CRD ships in the binary and matches deploy/crds/.
    @Test func bundledCRDMatchesTheRepository() throws {
        for (file, text) in KubeSim.bundledCustomResourceDefinitions {
            let onDisk = try String(contentsOfFile: repositoryFile("deploy/crds/" + file), encoding: .utf8)
            #expect(text + "\n" == onDisk || text == onDisk, "\(file) differs from deploy/crds: run make kubesim-generated")
        }
        #expect(KubeSim.bundledCustomResourceDefinitions.count == (try FileManager.default.contentsOfDirectory(atPath: repositoryFile("deploy/crds")).filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.count))
    }
}
