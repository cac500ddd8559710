import JSON

/// A minimal OpenAPI v3 surface: the index of group versions and, per group version, the PATCH
/// operations of its kinds with the `fieldValidation` parameter. kubectl reads this to decide
/// that the server validates fields itself; schemas are not simulated.
enum OpenAPI {
    static func document(for segments: [String], types: [ResourceType]) -> JSONValue? {
        guard segments.first == "openapi", segments.count >= 2, segments[1] == "v3" else { return nil }
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
        var paths: [String: JSONValue] = [:]
        for type in members {
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
        return [
            "openapi": "3.0.0",
            "info": ["title": "Kubernetes (KubeSim)", "version": "v1"],
            "paths": .object(paths),
            "components": ["schemas": .emptyObject],
        ]
    }

    private static func hash(_ types: [ResourceType]) -> String {
        var value: UInt64 = 1469598103934665603
        let text = types.map { "\($0.kind)/\($0.plural)/\($0.hasStatus)/\($0.hasScale)" }.sorted().joined()
        for byte in text.utf8 {
            value = (value ^ UInt64(byte)) &* 1099511628211
        }
        return String(value, radix: 16)
    }
}
