import Foundation
import JSON

/// kube-apiserver's validation of written objects (pkg/apis/*/validation), for the metadata of
/// every kind and the fields of the built-in kinds that clients and controllers depend on.
/// `old` is the stored object on updates, nil on creates.
struct ObjectValidation {
    let type: ResourceType
    let object: JSONValue
    let old: JSONValue?
    private(set) var errors: [FieldError] = []

    static func errors(_ type: ResourceType, _ object: JSONValue, old: JSONValue?) -> [FieldError] {
        var validation = ObjectValidation(type: type, object: object, old: old)
        validation.validate()
        return validation.errors
    }

    private init(type: ResourceType, object: JSONValue, old: JSONValue?) {
        self.type = type
        self.object = object
        self.old = old
    }

    private mutating func add(_ error: FieldError) { errors.append(error) }

    private mutating func validate() {
        metadata()
        switch (type.group, type.kind) {
        case ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"):
            workload()
        case ("batch", "Job"):
            job()
        case ("batch", "CronJob"):
            cronJob()
        case ("", "Pod"):
            podSpec(["spec"], restartPolicies: ["Always", "OnFailure", "Never"])
        case ("", "Service"):
            service()
        case ("", "Secret"), ("", "ConfigMap"):
            configData()
        case ("policy", "PodDisruptionBudget"):
            if object[path: ["spec", "minAvailable"]] != nil, object[path: ["spec", "maxUnavailable"]] != nil {
                add(.invalid("spec", object["spec"] ?? .null, "minAvailable and maxUnavailable cannot be both set"))
            }
        case ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"):
            for (index, rule) in (object["rules"]?.array ?? []).enumerated() where (rule["verbs"]?.array ?? []).isEmpty {
                add(FieldError(.required, "rules[\(index)].verbs", detail: "verbs must contain at least one value"))
            }
        case ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            binding()
        case ("networking.k8s.io", "Ingress"):
            for (rule, value) in (object[path: ["spec", "rules"]]?.array ?? []).enumerated() {
                for (index, path) in (value[path: ["http", "paths"]]?.array ?? []).enumerated() where path["pathType"] == nil {
                    add(FieldError(.required, "spec.rules[\(rule)].http.paths[\(index)].pathType", detail: "pathType must be specified"))
                }
            }
        case ("autoscaling", "HorizontalPodAutoscaler"):
            let maximum = object[path: ["spec", "maxReplicas"]]?.int ?? 0
            if maximum < 1 { add(.invalid("spec.maxReplicas", .int(maximum), "must be greater than or equal to 1")) }
            if let minimum = object[path: ["spec", "minReplicas"]]?.int, minimum > maximum {
                add(.invalid("spec.minReplicas", .int(minimum), "must be less than or equal to maxReplicas"))
            }
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            customResourceDefinition()
        default:
            break
        }
    }

    // MARK: Metadata

    private mutating func metadata() {
        let name = object[path: ["metadata", "name"]]?.string ?? ""
        for problem in NameRules.objectName(name, kind: type.kind, group: type.group) {
            add(.invalid("metadata.name", .string(name), problem))
        }
        let labels = object[path: ["metadata", "labels"]]?.object ?? [:]
        for key in labels.keys.sorted() {
            for problem in NameRules.qualifiedName(key) { add(.invalid("metadata.labels", .string(key), problem)) }
            for problem in NameRules.labelValue(labels[key]?.string ?? "") { add(.invalid("metadata.labels", labels[key]!, problem)) }
        }
        let annotations = object[path: ["metadata", "annotations"]]?.object ?? [:]
        var size = 0
        for key in annotations.keys.sorted() {
            for problem in NameRules.qualifiedName(key.lowercased()) { add(.invalid("metadata.annotations", .string(key), problem)) }
            size += key.utf8.count + (annotations[key]?.string?.utf8.count ?? 0)
        }
        if size > 262_144 { add(FieldError(.tooLong, "metadata.annotations", detail: "must have at most 262144 bytes")) }
        let finalizers = (object[path: ["metadata", "finalizers"]]?.array ?? []).compactMap(\.string)
        for (index, finalizer) in finalizers.enumerated() {
            for problem in NameRules.qualifiedName(finalizer) { add(.invalid("metadata.finalizers[\(index)]", .string(finalizer), problem)) }
        }
        for (index, owner) in (object[path: ["metadata", "ownerReferences"]]?.array ?? []).enumerated() {
            for field in ["apiVersion", "kind", "name", "uid"] where (owner[field]?.string ?? "").isEmpty {
                add(.invalid("metadata.ownerReferences[\(index)].\(field)", owner[field] ?? .string(""), "\(field) must not be empty"))
            }
        }
        if let old, old[path: ["metadata", "deletionTimestamp"]] != nil {
            let previous = Set((old[path: ["metadata", "finalizers"]]?.array ?? []).compactMap(\.string))
            let added = finalizers.filter { !previous.contains($0) }
            if !added.isEmpty {
                add(FieldError(.forbidden, "metadata.finalizers", detail: "no new finalizers can be added if the object is being deleted, found new finalizers []string{\(added.map { "\"\($0)\"" }.joined(separator: ", "))}"))
            }
        }
    }

    // MARK: Workloads

    private mutating func workload() {
        if type.kind != "DaemonSet", let replicas = object[path: ["spec", "replicas"]]?.int, replicas < 0 {
            add(.invalid("spec.replicas", .int(replicas), "must be greater than or equal to 0"))
        }
        for field in ["minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"] {
            if let value = object[path: ["spec", field]]?.int, value < 0 {
                add(.invalid("spec.\(field)", .int(value), "must be greater than or equal to 0"))
            }
        }
        let selector = object[path: ["spec", "selector"]]
        if selector == nil {
            add(FieldError(.required, "spec.selector"))
        } else if LabelSelectorValue(selector!).isEmpty {
            add(.invalid("spec.selector", selector!, "empty selector is invalid for deployment"))
        } else if let labels = object[path: ["spec", "template", "metadata", "labels"]]?.object,
                  !LabelSelectorValue(selector!).matches(labels.compactMapValues(\.string)) {
            add(.invalid("spec.template.metadata.labels", .object(labels), "`selector` does not match template `labels`"))
        } else if object[path: ["spec", "template", "metadata", "labels"]] == nil {
            add(.invalid("spec.template.metadata.labels", .object([:]), "`selector` does not match template `labels`"))
        }
        podSpec(["spec", "template", "spec"], restartPolicies: ["Always"])
        guard let old else { return }
        if old[path: ["spec", "selector"]] != selector {
            add(.immutable("spec.selector", selector ?? .null))
        }
        if type.kind == "StatefulSet" {
            var before = old["spec"] ?? .emptyObject, after = object["spec"] ?? .emptyObject
            for field in ["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"] {
                before[field] = nil
                after[field] = nil
            }
            if before != after {
                add(FieldError(.forbidden, "spec", detail: "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
            }
        }
    }

    private mutating func job() {
        podSpec(["spec", "template", "spec"], restartPolicies: ["OnFailure", "Never"])
        for field in ["parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"] {
            if let value = object[path: ["spec", field]]?.int, value < 0 {
                add(.invalid("spec.\(field)", .int(value), "must be greater than or equal to 0"))
            }
        }
        guard let old else { return }
        for field in ["selector", "template", "completions", "completionMode", "podFailurePolicy"] where old[path: ["spec", field]] != object[path: ["spec", field]] {
            add(.immutable("spec.\(field)", object[path: ["spec", field]] ?? .null))
        }
    }

    private mutating func cronJob() {
        let schedule = object[path: ["spec", "schedule"]]?.string ?? ""
        if schedule.isEmpty {
            add(FieldError(.required, "spec.schedule"))
        } else if !CronSyntax.isValid(schedule) {
            add(.invalid("spec.schedule", .string(schedule), "unparseable schedule"))
        }
        let policy = object[path: ["spec", "concurrencyPolicy"]]?.string ?? "Allow"
        if !["Allow", "Forbid", "Replace"].contains(policy) {
            add(.notSupported("spec.concurrencyPolicy", .string(policy), ["Allow", "Forbid", "Replace"]))
        }
        if let zone = object[path: ["spec", "timeZone"]]?.string, TimeZone(identifier: zone) == nil {
            add(.invalid("spec.timeZone", .string(zone), "unknown time zone \(zone)"))
        }
        podSpec(["spec", "jobTemplate", "spec", "template", "spec"], restartPolicies: ["OnFailure", "Never"])
    }

    private mutating func podSpec(_ path: [String], restartPolicies: [String]) {
        let field = path.joined(separator: ".")
        let containers = object[path: path + ["containers"]]?.array ?? []
        if containers.isEmpty { add(FieldError(.required, "\(field).containers")) }
        var names: Set<String> = []
        for list in ["initContainers", "containers"] {
            for (index, container) in (object[path: path + [list]]?.array ?? []).enumerated() {
                let prefix = "\(field).\(list)[\(index)]"
                let name = container["name"]?.string ?? ""
                if name.isEmpty {
                    add(FieldError(.required, "\(prefix).name"))
                } else {
                    for problem in NameRules.label(name) { add(.invalid("\(prefix).name", .string(name), problem)) }
                    if !names.insert(name).inserted { add(FieldError(.duplicate, "\(prefix).name", value: .string(name))) }
                }
                if (container["image"]?.string ?? "").isEmpty, old == nil || list == "containers" {
                    add(FieldError(.required, "\(prefix).image"))
                }
                if let pullPolicy = container["imagePullPolicy"]?.string, !["Always", "IfNotPresent", "Never"].contains(pullPolicy) {
                    add(.notSupported("\(prefix).imagePullPolicy", .string(pullPolicy), ["Always", "IfNotPresent", "Never"]))
                }
                for (portIndex, port) in (container["ports"]?.array ?? []).enumerated() {
                    let number = port["containerPort"]?.int ?? 0
                    if !(1...65535).contains(number) {
                        add(.invalid("\(prefix).ports[\(portIndex)].containerPort", .int(number), "must be between 1 and 65535, inclusive"))
                    }
                    protocolValue(port["protocol"], "\(prefix).ports[\(portIndex)].protocol")
                }
            }
        }
        let policy = object[path: path + ["restartPolicy"]]?.string ?? ""
        if !restartPolicies.contains(policy) {
            add(.notSupported("\(field).restartPolicy", .string(policy), restartPolicies))
        }
        let dnsPolicies = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
        if let dns = object[path: path + ["dnsPolicy"]]?.string, !dnsPolicies.contains(dns) {
            add(.notSupported("\(field).dnsPolicy", .string(dns), dnsPolicies))
        }
    }

    private mutating func protocolValue(_ value: JSONValue?, _ field: String) {
        if let text = value?.string, !["TCP", "UDP", "SCTP"].contains(text) {
            add(.notSupported(field, .string(text), ["SCTP", "TCP", "UDP"]))
        }
    }

    // MARK: Other kinds

    private mutating func service() {
        let kind = object[path: ["spec", "type"]]?.string ?? "ClusterIP"
        let kinds = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
        if !kinds.contains(kind) { add(.notSupported("spec.type", .string(kind), kinds)) }
        let ports = object[path: ["spec", "ports"]]?.array ?? []
        if ports.isEmpty, kind != "ExternalName", object[path: ["spec", "clusterIP"]]?.string != "None" {
            add(FieldError(.required, "spec.ports"))
        }
        for (index, port) in ports.enumerated() {
            let number = port["port"]?.int ?? 0
            if !(1...65535).contains(number) { add(.invalid("spec.ports[\(index)].port", .int(number), "must be between 1 and 65535, inclusive")) }
            if ports.count > 1, (port["name"]?.string ?? "").isEmpty { add(FieldError(.required, "spec.ports[\(index)].name")) }
            protocolValue(port["protocol"], "spec.ports[\(index)].protocol")
        }
        if let old, let before = old[path: ["spec", "clusterIP"]], let after = object[path: ["spec", "clusterIP"]], before != after, kind != "ExternalName" {
            add(.invalid("spec.clusterIPs[0]", after, "may not change once set"))
        }
    }

    private mutating func configData() {
        var keys: Set<String> = []
        for field in ["data", "binaryData"] {
            for key in (object[field]?.object ?? [:]).keys.sorted() {
                for problem in NameRules.configKey(key) { add(.invalid("\(field)[\(key)]", .string(key), problem)) }
                if !keys.insert(key).inserted { add(.invalid("\(field)[\(key)]", .string(key), "duplicate of key present in data")) }
            }
        }
        guard let old else { return }
        if old["immutable"]?.bool == true {
            if old["data"] != object["data"] || old["binaryData"] != object["binaryData"] {
                add(FieldError(.forbidden, "data", detail: "field is immutable when `immutable` is set"))
            }
            if object["immutable"]?.bool != true {
                add(FieldError(.forbidden, "immutable", detail: "field is immutable when `immutable` is set"))
            }
        }
        if type.kind == "Secret", old["type"] != object["type"] {
            add(.immutable("type", object["type"] ?? .null))
        }
    }

    private mutating func binding() {
        let roleRef = object["roleRef"]
        let roleKind = roleRef?["kind"]?.string ?? ""
        let allowed = type.kind == "ClusterRoleBinding" ? ["ClusterRole"] : ["Role", "ClusterRole"]
        if (roleRef?["name"]?.string ?? "").isEmpty { add(FieldError(.required, "roleRef.name")) }
        if !allowed.contains(roleKind) { add(.notSupported("roleRef.kind", .string(roleKind), allowed)) }
        if let old, old["roleRef"] != roleRef {
            add(.invalid("roleRef", roleRef ?? .null, "cannot change roleRef"))
        }
        for (index, subject) in (object["subjects"]?.array ?? []).enumerated() {
            let kind = subject["kind"]?.string ?? ""
            if !["ServiceAccount", "User", "Group"].contains(kind) {
                add(.notSupported("subjects[\(index)].kind", .string(kind), ["ServiceAccount", "User", "Group"]))
            }
            if (subject["name"]?.string ?? "").isEmpty { add(FieldError(.required, "subjects[\(index)].name")) }
            if kind == "ServiceAccount", type.kind == "ClusterRoleBinding", (subject["namespace"]?.string ?? "").isEmpty {
                add(FieldError(.required, "subjects[\(index)].namespace"))
            }
        }
    }

    private mutating func customResourceDefinition() {
        let plural = object[path: ["spec", "names", "plural"]]?.string ?? ""
        let group = object[path: ["spec", "group"]]?.string ?? ""
        let name = object[path: ["metadata", "name"]]?.string ?? ""
        if name != "\(plural).\(group)" {
            add(.invalid("metadata.name", .string(name), "must be spec.names.plural+\".\"+spec.group"))
        }
        let scope = object[path: ["spec", "scope"]]?.string ?? ""
        if !["Cluster", "Namespaced"].contains(scope) { add(.notSupported("spec.scope", .string(scope), ["Cluster", "Namespaced"])) }
        let versions = object[path: ["spec", "versions"]]?.array ?? []
        if versions.filter({ $0["storage"]?.bool == true }).count != 1 {
            add(.invalid("spec.versions", .array(versions.compactMap { $0["name"] }), "must have exactly one version marked as storage version"))
        }
    }
}

/// A `metav1.LabelSelector` value (matchLabels and matchExpressions) and whether labels match it.
struct LabelSelectorValue {
    let value: JSONValue

    init(_ value: JSONValue) { self.value = value }

    var isEmpty: Bool {
        (value["matchLabels"]?.object ?? [:]).isEmpty && (value["matchExpressions"]?.array ?? []).isEmpty
    }

    func matches(_ labels: [String: String]) -> Bool {
        for (key, expected) in value["matchLabels"]?.object ?? [:] where labels[key] != expected.string { return false }
        for expression in value["matchExpressions"]?.array ?? [] {
            let key = expression["key"]?.string ?? ""
            let values = Set((expression["values"]?.array ?? []).compactMap(\.string))
            switch expression["operator"]?.string {
            case "In": if !(labels[key].map(values.contains) ?? false) { return false }
            case "NotIn": if labels[key].map(values.contains) ?? false { return false }
            case "Exists": if labels[key] == nil { return false }
            case "DoesNotExist": if labels[key] != nil { return false }
            default: return false
            }
        }
        return true
    }

    /// `app=web,tier in (a,b)`: the selector as a string, as Scale's `status.selector` carries it.
    var text: String {
        let labels = value["matchLabels"]?.object ?? [:]
        var terms = labels.keys.sorted().map { "\($0)=\(labels[$0]?.string ?? "")" }
        for expression in value["matchExpressions"]?.array ?? [] {
            let key = expression["key"]?.string ?? ""
            let values = (expression["values"]?.array ?? []).compactMap(\.string).sorted().joined(separator: ",")
            switch expression["operator"]?.string {
            case "In": terms.append("\(key) in (\(values))")
            case "NotIn": terms.append("\(key) notin (\(values))")
            case "Exists": terms.append(key)
            default: terms.append("!\(key)")
            }
        }
        return terms.joined(separator: ",")
    }
}

/// Cron syntax as the CronJob controller's parser accepts it: five fields or a `@` descriptor.
enum CronSyntax {
    static func isValid(_ schedule: String) -> Bool {
        var text = schedule.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("TZ=") || text.hasPrefix("CRON_TZ=") {
            guard let space = text.firstIndex(of: " ") else { return false }
            text = String(text[text.index(after: space)...]).trimmingCharacters(in: .whitespaces)
        }
        if text.hasPrefix("@") {
            return ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"].contains(text) || text.hasPrefix("@every ")
        }
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 5 else { return false }
        let names = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT"
        return fields.allSatisfy { Patterns.matches($0.uppercased(), "^([0-9*?]|\(names))+([-/,]([0-9*?]|\(names))+)*$") }
    }
}
