import JSON

/// Serving one resource in several versions from one storage version, as kube-apiserver does:
/// objects are stored in the first version registered for their resource (autoscaling/v2 for
/// HorizontalPodAutoscalers, a CRD's storage version) and converted on the way in and out.
/// Custom resources convert with the `None` strategy (only apiVersion changes); the
/// HorizontalPodAutoscaler's v1 form carries the CPU target of v2's metrics.
enum Conversion {
    static func convert(_ object: JSONValue, to type: ResourceType) -> JSONValue {
        guard case .object = object, let from = object["apiVersion"]?.string, from != type.groupVersion,
              object["kind"]?.string == type.kind
        else { return object }
        var converted = object
        converted["apiVersion"] = .string(type.groupVersion)
        if type.group == "autoscaling", type.kind == "HorizontalPodAutoscaler" {
            converted = type.version == "v1" ? autoscalingV1(from: converted) : autoscalingV2(from: converted)
        }
        return converted
    }

    private static func autoscalingV1(from v2: JSONValue) -> JSONValue {
        var v1 = v2
        let cpu = (v2[path: ["spec", "metrics"]]?.array ?? []).first {
            $0["type"] == "Resource" && $0[path: ["resource", "name"]] == "cpu" && $0[path: ["resource", "target", "type"]] == "Utilization"
        }
        v1[path: ["spec", "metrics"]] = nil
        v1[path: ["spec", "behavior"]] = nil
        v1[path: ["spec", "targetCPUUtilizationPercentage"]] = cpu?[path: ["resource", "target", "averageUtilization"]]
        let current = (v2[path: ["status", "currentMetrics"]]?.array ?? []).first { $0[path: ["resource", "name"]] == "cpu" }
        v1[path: ["status", "currentMetrics"]] = nil
        v1[path: ["status", "conditions"]] = nil
        v1[path: ["status", "currentCPUUtilizationPercentage"]] = current?[path: ["resource", "current", "averageUtilization"]]
        return v1
    }

    private static func autoscalingV2(from v1: JSONValue) -> JSONValue {
        var v2 = v1
        if let target = v1[path: ["spec", "targetCPUUtilizationPercentage"]] {
            v2[path: ["spec", "metrics"]] = [["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": target]]]]
        }
        v2[path: ["spec", "targetCPUUtilizationPercentage"]] = nil
        if let current = v1[path: ["status", "currentCPUUtilizationPercentage"]] {
            v2[path: ["status", "currentMetrics"]] = [["type": "Resource", "resource": ["name": "cpu", "current": ["averageUtilization": current]]]]
        }
        v2[path: ["status", "currentCPUUtilizationPercentage"]] = nil
        return v2
    }
}
