import JSON

/// The OpenAPI documents kubectl reads: `/openapi/v2` (Swagger 2.0 with every definition) and
/// `/openapi/v3` (an index of group versions, then one document per group version), with the
/// published schemas of the built-in kinds and the CRD schemas of custom resources, so that
/// `kubectl explain` works and kubectl sees that the server validates fields itself.
enum OpenAPI {
    static func document(for segments: [String], types: [ResourceType]) -> JSONValue? {
        guard segments.first == "openapi", segments.count >= 2 else { return nil }
        if segments == ["openapi", "v2"] {
            return [
                "swagger": "2.0", "info": ["title": "Kubernetes", "version": .string("v" + BuiltInSchemas.kubernetesVersion)],
                "paths": .object(paths(types, reference: "#/definitions/")), "definitions": .object(definitions(types, reference: "#/definitions/")),
            ]
        }
        guard segments[1] == "v3" else { return nil }
        let groupVersions = Dictionary(grouping: types, by: \.groupVersion)
        if segments.count == 2 {
            var paths: [String: JSONValue] = [:]
            for (groupVersion, members) in groupVersions {
                let prefix = groupVersion.contains("/") ? "apis/\(groupVersion)" : "api/\(groupVersion)"
                paths[prefix] = ["serverRelativeURL": .string("/openapi/v3/\(prefix)?hash=\(hash(members))")]
            }
            return ["paths": .object(paths)]
        }
        let requested = segments.dropFirst(2)
        let groupVersion: String
        switch (requested.first, requested.count) {
        case ("api", 2): groupVersion = requested.last!
        case ("apis", 3): groupVersion = requested.dropFirst().joined(separator: "/")
        default: return nil
        }
        guard let members = groupVersions[groupVersion] else { return nil }
        return [
            "openapi": "3.0.0",
            "info": ["title": "Kubernetes", "version": .string("v" + BuiltInSchemas.kubernetesVersion)],
            "paths": .object(paths(members, reference: "#/components/schemas/")),
            "components": ["schemas": .object(definitions(members, reference: "#/components/schemas/"))],
        ]
    }

    /// The definition name of a custom resource (`com.kube-green.v1alpha1.SleepInfo`), as kube-apiserver names it.
    static func customResourceName(_ type: ResourceType) -> String {
        type.group.split(separator: ".").reversed().joined(separator: ".") + ".\(type.version).\(type.kind)"
    }

    private static func definitions(_ types: [ResourceType], reference: String) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        let builtIns = BuiltInSchemas.definitions
        for (name, schema) in builtIns {
            result[name] = reference == "#/definitions/" ? schema : rewrite(schema, reference: reference)
        }
        for type in types where !type.builtIn {
            var schema = type.crdSchema ?? ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
            schema[path: ["properties", "apiVersion"]] = ["type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."]
            schema[path: ["properties", "kind"]] = ["type": "string", "description": "Kind is a string value representing the REST resource this object represents."]
            schema[path: ["properties", "metadata"]] = ["$ref": .string(reference + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")]
            schema["x-kubernetes-group-version-kind"] = [["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind)]]
            result[customResourceName(type)] = schema
        }
        return result
    }

    private static func rewrite(_ schema: JSONValue, reference: String) -> JSONValue {
        switch schema {
        case .object(var members):
            if let target = members["$ref"]?.string {
                let rewritten = JSONValue.string(target.replacingOccurrences(of: "#/definitions/", with: reference))
                // OpenAPI v3 ignores siblings of `$ref`; kube-apiserver wraps the reference in `allOf`.
                if members.count > 1 {
                    members["$ref"] = nil
                    members["allOf"] = [["$ref": rewritten]]
                } else {
                    members["$ref"] = rewritten
                }
            }
            return .object(members.mapValues { rewrite($0, reference: reference) })
        case .array(let items):
            return .array(items.map { rewrite($0, reference: reference) })
        default:
            return schema
        }
    }

    /// The PATCH operation of every kind, with the parameters kubectl looks for (`fieldValidation`).
    private static func paths(_ types: [ResourceType], reference: String) -> [String: JSONValue] {
        var paths: [String: JSONValue] = [:]
        for type in types where !type.isCreateOnly {
            let base = type.group.isEmpty ? "/api/\(type.version)" : "/apis/\(type.group)/\(type.version)"
            let path = type.namespaced ? "\(base)/namespaces/{namespace}/\(type.plural)/{name}" : "\(base)/\(type.plural)/{name}"
            paths[path] = [
                "patch": [
                    "operationId": .string("patch\(type.kind)"),
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": ["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind)],
                    "parameters": [
                        ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                        ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                        ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                        ["name": "force", "in": "query", "schema": ["type": "boolean", "uniqueItems": true]],
                    ],
                    "responses": ["200": ["description": "OK"]],
                ],
            ]
        }
        return paths
    }

    private static func hash(_ types: [ResourceType]) -> String {
        var value: UInt64 = 1469598103934665603
        let text = types.map { "\($0.kind)/\($0.plural)/\($0.hasStatus)/\($0.hasScale)/\($0.crdSchema?.serialized() ?? "")" }.sorted().joined()
        for byte in text.utf8 {
            value = (value ^ UInt64(byte)) &* 1099511628211
        }
        return String(value, radix: 16)
    }
}
