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
    /// A custom resource's structural schema (`openAPIV3Schema` of its CRD version).
    var crdSchema: JSONValue?
    /// A custom resource's `.spec.replicas` path for its scale subresource.
    var scaleReplicasPath: String?

    struct PrinterColumn: Sendable, Hashable {
        var name: String
        var type: String
        var path: [String]
    }

    /// The schema written objects are checked against: the published definition of a built-in
    /// kind, a custom resource's CRD schema.
    var schema: Schema? {
        builtIn ? BuiltInSchemas.schema(group: group, version: version, kind: kind) : crdSchema.map { Schema($0) }
    }

    var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    /// `deployments.apps`, or `pods` for the core group: how RBAC and error messages name it.
    var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
    var listKind: String { kind + "List" }
    /// Storage identity: one set of objects per group and resource, whatever the version.
    var storageKey: String { "\(group)/\(plural)" }

    static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// What the resource supports, as discovery lists it: namespaces have no deletecollection,
    /// reviews are create-only.
    var verbs: [String] = ResourceType.allVerbs
    /// kube-apiserver answers a DELETE of these with the deleted object (`ReturnDeletedObject`);
    /// the others answer a `Status` once the object is gone.
    var returnsDeletedObject = false

    var isCreateOnly: Bool { verbs == ["create"] }

    /// Discovery entries for this resource and its subresources.
    func discoveryEntries() -> [JSONValue] {
        var main: JSONValue = [
            "name": .string(plural), "singularName": .string(singular), "namespaced": .bool(namespaced),
            "kind": .string(kind), "verbs": .array(verbs.map(JSONValue.string)),
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

    static let builtIns: [ResourceType] = {
        func core(_ kind: String, _ plural: String, namespaced: Bool = true, short: [String] = [], status: Bool = true, all: Bool = false) -> ResourceType {
            ResourceType(group: "", version: "v1", kind: kind, plural: plural, singular: kind.lowercased(), namespaced: namespaced, shortNames: short, hasStatus: status, categories: all ? ["all"] : [])
        }
        func kind(_ groupVersion: String, _ kind: String, _ plural: String, namespaced: Bool = true, short: [String] = [], status: Bool = true, scale: Bool = false, all: Bool = false) -> ResourceType {
            let parts = groupVersion.split(separator: "/").map(String.init)
            return ResourceType(group: parts[0], version: parts[1], kind: kind, plural: plural, singular: kind.lowercased(), namespaced: namespaced, shortNames: short, hasStatus: status, hasScale: scale, categories: all ? ["all"] : [])
        }
        func review(_ groupVersion: String, _ reviewKind: String, _ plural: String, namespaced: Bool = false) -> ResourceType {
            var type = kind(groupVersion, reviewKind, plural, namespaced: namespaced, status: false)
            type.verbs = ["create"]
            return type
        }
        var namespace = core("Namespace", "namespaces", namespaced: false, short: ["ns"])
        namespace.verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        namespace.returnsDeletedObject = true
        var pod = core("Pod", "pods", short: ["po"], all: true)
        pod.returnsDeletedObject = true
        var service = core("Service", "services", short: ["svc"], all: true)
        service.returnsDeletedObject = true
        var serviceAccount = core("ServiceAccount", "serviceaccounts", short: ["sa"], status: false)
        serviceAccount.returnsDeletedObject = true
        var storageClass = kind("storage.k8s.io/v1", "StorageClass", "storageclasses", namespaced: false, short: ["sc"], status: false)
        storageClass.returnsDeletedObject = true
        var definitions = kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced: false, short: ["crd", "crds"])
        definitions.categories = ["api-extensions"]
        return [
            namespace, pod,
            core("Secret", "secrets", status: false),
            core("ConfigMap", "configmaps", short: ["cm"], status: false),
            core("Event", "events", short: ["ev"], status: false),
            service, serviceAccount,
            core("Endpoints", "endpoints", short: ["ep"], status: false),
            core("Node", "nodes", namespaced: false, short: ["no"]),
            core("PersistentVolumeClaim", "persistentvolumeclaims", short: ["pvc"]),
            core("PersistentVolume", "persistentvolumes", namespaced: false, short: ["pv"]),
            core("ResourceQuota", "resourcequotas", short: ["quota"]),
            core("LimitRange", "limitranges", short: ["limits"], status: false),
            kind("apps/v1", "Deployment", "deployments", short: ["deploy"], scale: true, all: true),
            kind("apps/v1", "StatefulSet", "statefulsets", short: ["sts"], scale: true, all: true),
            kind("apps/v1", "ReplicaSet", "replicasets", short: ["rs"], scale: true, all: true),
            kind("apps/v1", "DaemonSet", "daemonsets", short: ["ds"], all: true),
            kind("apps/v1", "ControllerRevision", "controllerrevisions", status: false),
            kind("batch/v1", "CronJob", "cronjobs", short: ["cj"], all: true),
            kind("batch/v1", "Job", "jobs", all: true),
            kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short: ["hpa"], all: true),
            kind("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short: ["hpa"], all: true),
            kind("coordination.k8s.io/v1", "Lease", "leases", status: false),
            kind("events.k8s.io/v1", "Event", "events", short: ["ev"], status: false),
            definitions,
            kind("rbac.authorization.k8s.io/v1", "Role", "roles", status: false),
            kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", status: false),
            kind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced: false, status: false),
            kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced: false, status: false),
            kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short: ["netpol"], status: false),
            kind("networking.k8s.io/v1", "Ingress", "ingresses", short: ["ing"]),
            kind("networking.k8s.io/v1", "IngressClass", "ingressclasses", namespaced: false, status: false),
            kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short: ["pdb"]),
            kind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", status: false),
            kind("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", namespaced: false, short: ["pc"], status: false),
            storageClass,
            review("authorization.k8s.io/v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews"),
            review("authorization.k8s.io/v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews"),
            review("authorization.k8s.io/v1", "SubjectAccessReview", "subjectaccessreviews"),
            review("authorization.k8s.io/v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", namespaced: true),
            review("authentication.k8s.io/v1", "SelfSubjectReview", "selfsubjectreviews"),
            review("authentication.k8s.io/v1", "TokenReview", "tokenreviews"),
        ]
    }()
}
