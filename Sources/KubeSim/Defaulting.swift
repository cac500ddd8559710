import Foundation
import JSON

/// The defaults kube-apiserver fills in for built-in kinds (pkg/apis/*/v1/defaults.go), as far
/// as controllers and clients read them, and the schema defaults of custom resources.
enum Defaulting {
    static func apply(_ type: ResourceType, to object: inout JSONValue) {
        switch (type.group, type.kind) {
        case ("apps", "Deployment"):
            setMissing(&object, ["spec", "replicas"], 1)
            if object[path: ["spec", "strategy", "type"]] == nil { object[path: ["spec", "strategy", "type"]] = "RollingUpdate" }
            if object[path: ["spec", "strategy", "type"]] == "RollingUpdate" {
                setMissing(&object, ["spec", "strategy", "rollingUpdate", "maxUnavailable"], "25%")
                setMissing(&object, ["spec", "strategy", "rollingUpdate", "maxSurge"], "25%")
            }
            setMissing(&object, ["spec", "revisionHistoryLimit"], 10)
            setMissing(&object, ["spec", "progressDeadlineSeconds"], 600)
            podTemplate(&object, ["spec", "template"])
        case ("apps", "ReplicaSet"):
            setMissing(&object, ["spec", "replicas"], 1)
            podTemplate(&object, ["spec", "template"])
        case ("apps", "StatefulSet"):
            setMissing(&object, ["spec", "replicas"], 1)
            setMissing(&object, ["spec", "podManagementPolicy"], "OrderedReady")
            setMissing(&object, ["spec", "updateStrategy", "type"], "RollingUpdate")
            if object[path: ["spec", "updateStrategy", "type"]] == "RollingUpdate" {
                setMissing(&object, ["spec", "updateStrategy", "rollingUpdate", "partition"], 0)
            }
            setMissing(&object, ["spec", "revisionHistoryLimit"], 10)
            setMissing(&object, ["spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"], "Retain")
            setMissing(&object, ["spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"], "Retain")
            podTemplate(&object, ["spec", "template"])
        case ("apps", "DaemonSet"):
            setMissing(&object, ["spec", "updateStrategy", "type"], "RollingUpdate")
            if object[path: ["spec", "updateStrategy", "type"]] == "RollingUpdate" {
                setMissing(&object, ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], 1)
                setMissing(&object, ["spec", "updateStrategy", "rollingUpdate", "maxSurge"], 0)
            }
            setMissing(&object, ["spec", "revisionHistoryLimit"], 10)
            podTemplate(&object, ["spec", "template"])
        case ("batch", "Job"):
            job(&object, ["spec"])
        case ("batch", "CronJob"):
            setMissing(&object, ["spec", "concurrencyPolicy"], "Allow")
            setMissing(&object, ["spec", "suspend"], false)
            setMissing(&object, ["spec", "successfulJobsHistoryLimit"], 3)
            setMissing(&object, ["spec", "failedJobsHistoryLimit"], 1)
            podTemplate(&object, ["spec", "jobTemplate", "spec", "template"])
        case ("", "Pod"):
            podSpec(&object, ["spec"])
            setMissing(&object, ["spec", "enableServiceLinks"], true)
            if object[path: ["status", "phase"]] == nil { object[path: ["status", "phase"]] = "Running" }
        case ("", "Service"):
            service(&object)
        case ("", "Secret"):
            if object["type"] == nil { object["type"] = "Opaque" }
            if let stringData = object["stringData"]?.object {
                for (key, value) in stringData {
                    object[path: ["data", key]] = .string(Data((value.string ?? "").utf8).base64EncodedString())
                }
                object["stringData"] = nil
            }
        case ("", "Namespace"):
            let name = object[path: ["metadata", "name"]]?.string ?? ""
            object[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = .string(name)
            setMissing(&object, ["spec", "finalizers"], ["kubernetes"])
            if object[path: ["metadata", "deletionTimestamp"]] == nil { object[path: ["status", "phase"]] = "Active" }
        case ("", "PersistentVolumeClaim"):
            setMissing(&object, ["spec", "volumeMode"], "Filesystem")
            setMissing(&object, ["status", "phase"], "Pending")
        case ("", "Endpoints"):
            mapItems(&object, ["subsets"]) { subset in mapItems(&subset, ["ports"]) { setMissing(&$0, ["protocol"], "TCP") } }
        case ("autoscaling", "HorizontalPodAutoscaler"):
            setMissing(&object, ["spec", "minReplicas"], 1)
            if type.version == "v2", object[path: ["spec", "metrics"]] == nil {
                object[path: ["spec", "metrics"]] = [["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": 80]]]]
            }
        case ("networking.k8s.io", "NetworkPolicy"):
            if object[path: ["spec", "policyTypes"]] == nil {
                object[path: ["spec", "policyTypes"]] = object[path: ["spec", "egress"]] == nil ? ["Ingress"] : ["Ingress", "Egress"]
            }
            for direction in ["ingress", "egress"] {
                mapItems(&object, ["spec", direction]) { rule in mapItems(&rule, ["ports"]) { setMissing(&$0, ["protocol"], "TCP") } }
            }
        case ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            mapItems(&object, ["subjects"]) { subject in
                if subject["apiGroup"] == nil, subject["kind"]?.string != "ServiceAccount" { subject["apiGroup"] = "rbac.authorization.k8s.io" }
            }
        case ("scheduling.k8s.io", "PriorityClass"):
            setMissing(&object, ["preemptionPolicy"], "PreemptLowerPriority")
        case ("storage.k8s.io", "StorageClass"):
            setMissing(&object, ["reclaimPolicy"], "Delete")
            setMissing(&object, ["volumeBindingMode"], "Immediate")
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            customResourceDefinition(&object)
        default:
            if !type.builtIn, let schema = type.schema { schemaDefaults(&object, schema: schema) }
        }
    }

    /// What kube-apiserver's create strategies add once the object has its uid: a Job's
    /// generated selector and the labels that match it.
    static func prepareForCreate(_ type: ResourceType, _ object: inout JSONValue) {
        guard type.group == "batch", type.kind == "Job", object[path: ["spec", "manualSelector"]]?.bool != true,
              let uid = object[path: ["metadata", "uid"]], let name = object[path: ["metadata", "name"]]
        else { return }
        let labels: [String: JSONValue] = ["batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name]
        if object[path: ["spec", "selector"]] == nil {
            object[path: ["spec", "selector"]] = ["matchLabels": ["batch.kubernetes.io/controller-uid": uid]]
        }
        for (key, value) in labels { object[path: ["spec", "template", "metadata", "labels", key]] = value }
    }

    static func setMissing(_ object: inout JSONValue, _ path: [String], _ value: JSONValue) {
        if object[path: path] == nil { object[path: path] = value }
    }

    /// Applies `change` to every element of the list at `path`, if there is one.
    static func mapItems(_ object: inout JSONValue, _ path: [String], _ change: (inout JSONValue) -> Void) {
        guard var items = object[path: path]?.array else { return }
        for index in items.indices { change(&items[index]) }
        object[path: path] = .array(items)
    }

    private static func job(_ object: inout JSONValue, _ spec: [String]) {
        setMissing(&object, spec + ["parallelism"], 1)
        setMissing(&object, spec + ["completions"], 1)
        setMissing(&object, spec + ["backoffLimit"], 6)
        setMissing(&object, spec + ["completionMode"], "NonIndexed")
        setMissing(&object, spec + ["suspend"], false)
        if object[path: spec + ["podFailurePolicy"]] == nil { setMissing(&object, spec + ["podReplacementPolicy"], "TerminatingOrFailed") }
        podTemplate(&object, spec + ["template"])
    }

    static func podTemplate(_ object: inout JSONValue, _ template: [String]) {
        guard object[path: template] != nil else { return }
        if object[path: template + ["metadata"]] == nil { object[path: template + ["metadata"]] = .emptyObject }
        podSpec(&object, template + ["spec"])
    }

    static func podSpec(_ object: inout JSONValue, _ spec: [String]) {
        guard object[path: spec] != nil else { return }
        setMissing(&object, spec + ["restartPolicy"], "Always")
        setMissing(&object, spec + ["terminationGracePeriodSeconds"], 30)
        setMissing(&object, spec + ["dnsPolicy"], "ClusterFirst")
        setMissing(&object, spec + ["securityContext"], .emptyObject)
        setMissing(&object, spec + ["schedulerName"], "default-scheduler")
        for list in ["containers", "initContainers"] {
            mapItems(&object, spec + [list], container)
        }
        mapItems(&object, spec + ["volumes"]) { volume in
            for source in ["secret", "configMap", "downwardAPI", "projected"] where volume[source] != nil {
                setMissing(&volume, [source, "defaultMode"], 420)
            }
        }
    }

    private static func container(_ container: inout JSONValue) {
        setMissing(&container, ["terminationMessagePath"], "/dev/termination-log")
        setMissing(&container, ["terminationMessagePolicy"], "File")
        setMissing(&container, ["resources"], .emptyObject)
        if container["imagePullPolicy"] == nil {
            let image = container["image"]?.string ?? ""
            let reference = image.split(separator: "@").first.map(String.init) ?? image
            let lastSegment = reference.split(separator: "/").last.map(String.init) ?? reference
            let tag = lastSegment.contains(":") ? String(lastSegment.split(separator: ":").last ?? "") : ""
            container["imagePullPolicy"] = (tag.isEmpty || tag == "latest") && !image.contains("@") ? "Always" : "IfNotPresent"
        }
        mapItems(&container, ["ports"]) { setMissing(&$0, ["protocol"], "TCP") }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] where container[probe] != nil {
            setMissing(&container, [probe, "timeoutSeconds"], 1)
            setMissing(&container, [probe, "periodSeconds"], 10)
            setMissing(&container, [probe, "successThreshold"], 1)
            setMissing(&container, [probe, "failureThreshold"], 3)
            if container[path: [probe, "httpGet"]] != nil { setMissing(&container, [probe, "httpGet", "scheme"], "HTTP") }
        }
        mapItems(&container, ["env"]) { variable in
            if variable[path: ["valueFrom", "fieldRef"]] != nil { setMissing(&variable, ["valueFrom", "fieldRef", "apiVersion"], "v1") }
        }
    }

    private static func service(_ object: inout JSONValue) {
        setMissing(&object, ["spec", "type"], "ClusterIP")
        let type = object[path: ["spec", "type"]]?.string ?? "ClusterIP"
        if type != "ExternalName" {
            setMissing(&object, ["spec", "sessionAffinity"], "None")
            setMissing(&object, ["spec", "internalTrafficPolicy"], "Cluster")
            setMissing(&object, ["spec", "ipFamilies"], ["IPv4"])
            setMissing(&object, ["spec", "ipFamilyPolicy"], "SingleStack")
            if object[path: ["spec", "clusterIP"]] == nil {
                let name = (object[path: ["metadata", "namespace"]]?.string ?? "") + "/" + (object[path: ["metadata", "name"]]?.string ?? "")
                let hash = name.utf8.reduce(UInt32(2166136261)) { ($0 ^ UInt32($1)) &* 16777619 }
                object[path: ["spec", "clusterIP"]] = .string("10.96.\((hash >> 8) & 0xFF).\(max(1, hash & 0xFE))")
            }
            setMissing(&object, ["spec", "clusterIPs"], [object[path: ["spec", "clusterIP"]] ?? .null])
        }
        if type == "NodePort" || type == "LoadBalancer" { setMissing(&object, ["spec", "externalTrafficPolicy"], "Cluster") }
        mapItems(&object, ["spec", "ports"]) { port in
            setMissing(&port, ["protocol"], "TCP")
            if port["targetPort"] == nil, let number = port["port"] { port["targetPort"] = number }
            if type == "NodePort" || type == "LoadBalancer", port["nodePort"] == nil {
                port["nodePort"] = .int(30000 + (port["port"]?.int ?? 0) % 2768)
            }
        }
        setMissing(&object, ["status", "loadBalancer"], .emptyObject)
    }

    private static func customResourceDefinition(_ object: inout JSONValue) {
        setMissing(&object, ["spec", "conversion", "strategy"], "None")
        let kind = object[path: ["spec", "names", "kind"]]?.string ?? ""
        setMissing(&object, ["spec", "names", "singular"], .string(kind.lowercased()))
        setMissing(&object, ["spec", "names", "listKind"], .string(kind + "List"))
        if object[path: ["status", "conditions"]] == nil {
            object["status"] = [
                "acceptedNames": object[path: ["spec", "names"]] ?? .emptyObject,
                "conditions": [
                    ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"],
                    ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"],
                ],
                "storedVersions": .array((object[path: ["spec", "versions"]]?.array ?? []).filter { $0["storage"]?.bool == true }.compactMap { $0["name"] }),
            ]
        }
    }

    /// Structural-schema defaults: a missing property with a `default` gets it, recursively.
    static func schemaDefaults(_ value: inout JSONValue, schema: Schema) {
        switch value {
        case .object(var members):
            for (key, property) in schema.properties ?? [:] {
                let child = Schema(property)
                if members[key] == nil, let fallback = child.node["default"] { members[key] = fallback }
                if var present = members[key] {
                    schemaDefaults(&present, schema: child)
                    members[key] = present
                }
            }
            if let values = schema.additionalProperties {
                for key in members.keys where schema.properties?[key] == nil {
                    schemaDefaults(&members[key]!, schema: values)
                }
            }
            value = .object(members)
        case .array(var items):
            if let itemSchema = schema.items {
                for index in items.indices { schemaDefaults(&items[index], schema: itemSchema) }
            }
            value = .array(items)
        default:
            break
        }
    }
}
