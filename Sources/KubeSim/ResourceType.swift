import JSON

/// A kind the simulated server serves: where it lives in the API and what it supports.
struct ResourceType: Sendable, Hashable {
    var group: String
    var version: String
    var kind: String
    /// Plural lower-case name used in paths (`deployments`).
    var plural: String
    var singular: String
    var namespaced: Bool
    var shortNames: [String] = []
    var hasStatus: Bool = true
    var hasScale: Bool = false
    /// Built-in kinds accept strategic merge patches; custom resources answer 415.
    var builtIn: Bool = true
    var categories: [String] = []
    /// Extra `kubectl get` columns of a custom resource: name and JSON path such as `.spec.sleepAt`.
    var printerColumns: [PrinterColumn] = []

    struct PrinterColumn: Sendable, Hashable {
        var name: String
        var type: String
        var path: [String]
    }

    var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `deployments.apps`, or `pods` for the core group: how RBAC and error messages name it.
    var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
    var listKind: String { kind + "List" }
    /// Storage identity: one set of objects per group and resource, whatever the version.
    var storageKey: String { "\(group)/\(plural)" }

    static let verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// Discovery entries for this resource and its subresources.
    func discoveryEntries() -> [JSONValue] {
        var main: JSONValue = [
            "name": .string(plural), "singularName": .string(singular), "namespaced": .bool(namespaced),
            "kind": .string(kind), "verbs": .array(Self.verbs.map(JSONValue.string)),
        ]
        if !shortNames.isEmpty { main["shortNames"] = .array(shortNames.map(JSONValue.string)) }
        if !categories.isEmpty { main["categories"] = .array(categories.map(JSONValue.string)) }
        var entries = [main]
        if hasStatus {
            entries.append(["name": .string("\(plural)/status"), "singularName": "", "namespaced": .bool(namespaced), "kind": .string(kind), "verbs": ["get", "patch", "update"]])
        }
        if hasScale {
            entries.append(["name": .string("\(plural)/scale"), "singularName": "", "namespaced": .bool(namespaced), "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]])
        }
        return entries
    }

    static let builtIns: [ResourceType] = [
        ResourceType(group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false, shortNames: ["ns"]),
        ResourceType(group: "", version: "v1", kind: "Pod", plural: "pods", singular: "pod", namespaced: true, shortNames: ["po"], categories: ["all"]),
        ResourceType(group: "", version: "v1", kind: "Secret", plural: "secrets", singular: "secret", namespaced: true, hasStatus: false),
        ResourceType(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap", namespaced: true, shortNames: ["cm"], hasStatus: false),
        ResourceType(group: "", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true, shortNames: ["ev"], hasStatus: false),
        ResourceType(group: "", version: "v1", kind: "Service", plural: "services", singular: "service", namespaced: true, shortNames: ["svc"], categories: ["all"]),
        ResourceType(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", singular: "serviceaccount", namespaced: true, shortNames: ["sa"], hasStatus: false),
        ResourceType(group: "apps", version: "v1", kind: "Deployment", plural: "deployments", singular: "deployment", namespaced: true, shortNames: ["deploy"], hasScale: true, categories: ["all"]),
        ResourceType(group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", singular: "statefulset", namespaced: true, shortNames: ["sts"], hasScale: true, categories: ["all"]),
        ResourceType(group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", singular: "replicaset", namespaced: true, shortNames: ["rs"], hasScale: true, categories: ["all"]),
        ResourceType(group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", singular: "daemonset", namespaced: true, shortNames: ["ds"], categories: ["all"]),
        ResourceType(group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", singular: "cronjob", namespaced: true, shortNames: ["cj"], categories: ["all"]),
        ResourceType(group: "batch", version: "v1", kind: "Job", plural: "jobs", singular: "job", namespaced: true, categories: ["all"]),
        ResourceType(group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", singular: "horizontalpodautoscaler", namespaced: true, shortNames: ["hpa"], categories: ["all"]),
        ResourceType(group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease", namespaced: true, hasStatus: false),
        ResourceType(group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true, shortNames: ["ev"], hasStatus: false),
        ResourceType(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", singular: "customresourcedefinition", namespaced: false, shortNames: ["crd", "crds"]),
    ]
}
