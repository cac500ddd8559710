import Foundation
import JSON

/// What kube-apiserver and the controllers do around writes, as far as Sandman depends on it:
/// defaults, workload status following spec.replicas, CRDs becoming served kinds, namespace
/// termination and garbage collection of dependents.
extension ObjectStore {
    func type(forStorageKey key: String) -> ResourceType? {
        types.first { $0.storageKey == key }
    }

    func didWrite(_ type: ResourceType, namespace: String?, name: String, previous: JSONValue?, current: JSONValue, context: WriteContext) {
        if type.group == "apps", WorkloadStatus.kinds.contains(type.kind),
           previous == nil || previous?[path: ["metadata", "generation"]] != current[path: ["metadata", "generation"]] {
            rollOut(type, namespace: namespace, name: name)
        }
        if type.kind == "CustomResourceDefinition", type.group == "apiextensions.k8s.io" {
            registerCustomResource(current)
        }
    }

    private func registerCustomResource(_ definition: JSONValue) {
        guard let group = definition[path: ["spec", "group"]]?.string,
              let kind = definition[path: ["spec", "names", "kind"]]?.string,
              let plural = definition[path: ["spec", "names", "plural"]]?.string
        else { return }
        let names = definition[path: ["spec", "names"]] ?? .emptyObject
        let namespaced = definition[path: ["spec", "scope"]]?.string != "Cluster"
        // The storage version first: objects are kept in it and converted for the others.
        let versions = (definition[path: ["spec", "versions"]]?.array ?? []).filter { $0["served"]?.bool != false }
            .sorted { ($0["storage"]?.bool == true ? 0 : 1) < ($1["storage"]?.bool == true ? 0 : 1) }
        let newTypes = versions.compactMap { version -> ResourceType? in
            guard let name = version["name"]?.string else { return nil }
            return ResourceType(
                group: group, version: name, kind: kind, plural: plural,
                singular: names["singular"]?.string ?? kind.lowercased(), namespaced: namespaced,
                shortNames: (names["shortNames"]?.array ?? []).compactMap(\.string),
                hasStatus: version[path: ["subresources", "status"]] != nil,
                hasScale: version[path: ["subresources", "scale"]] != nil,
                builtIn: false,
                categories: (names["categories"]?.array ?? []).compactMap(\.string),
                printerColumns: (version["additionalPrinterColumns"]?.array ?? []).compactMap { column in
                    guard let name = column["name"]?.string, let jsonPath = column["jsonPath"]?.string else { return nil }
                    return .init(name: name, type: column["type"]?.string ?? "string", path: jsonPath.split(separator: ".").map(String.init))
                },
                crdSchema: version[path: ["schema", "openAPIV3Schema"]],
                scaleReplicasPath: version[path: ["subresources", "scale", "specReplicasPath"]]?.string
            )
        }
        register(newTypes, replacingGroup: group, plural: plural)
    }

    func didRemove(_ type: ResourceType, namespace: String?, object: JSONValue, propagation: Propagation, context: WriteContext) {
        if let uid = object[path: ["metadata", "uid"]]?.string {
            collectDependents(of: uid, propagation: propagation, context: context)
        }
        if type.kind == "CustomResourceDefinition", type.group == "apiextensions.k8s.io",
           let group = object[path: ["spec", "group"]]?.string, let plural = object[path: ["spec", "names", "plural"]]?.string {
            let storageKey = "\(group)/\(plural)"
            if let resourceType = self.type(forStorageKey: storageKey) {
                for (key, stored) in objects[storageKey] ?? [:] {
                    let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
                    commit(resourceType, namespace: parts[0].isEmpty ? nil : String(parts[0]), name: String(parts[1]), object: stored, kind: .deleted, previous: stored)
                }
            }
            register([], replacingGroup: group, plural: plural)
        }
        if let namespace {
            finishNamespaceIfEmpty(namespace, context: context)
        }
    }

    /// Deletes (or, orphaning, releases) every object owned by `uid`.
    private func collectDependents(of uid: String, propagation: Propagation, context: WriteContext) {
        var dependents: [(ResourceType, String?, String, JSONValue)] = []
        for (storageKey, bucket) in objects {
            guard let type = type(forStorageKey: storageKey) else { continue }
            for object in bucket.values {
                let owners = object[path: ["metadata", "ownerReferences"]]?.array ?? []
                guard owners.contains(where: { $0["uid"]?.string == uid }) else { continue }
                dependents.append((type, object[path: ["metadata", "namespace"]]?.string, object[path: ["metadata", "name"]]?.string ?? "", object))
            }
        }
        for (type, namespace, name, object) in dependents {
            if propagation == .orphan {
                var released = object
                released[path: ["metadata", "ownerReferences"]] = .array((object[path: ["metadata", "ownerReferences"]]?.array ?? []).filter { $0["uid"]?.string != uid })
                commit(type, namespace: namespace, name: name, object: released, kind: .modified, previous: object)
            } else {
                _ = try? delete(type, namespace: namespace, name: name, propagation: propagation, context: context)
            }
        }
    }

    /// Deletes everything in a terminating namespace; the namespace goes once it is empty.
    func terminateNamespace(_ name: String, object: JSONValue, context: WriteContext) -> JSONValue {
        let prefix = "\(name)/"
        for (storageKey, bucket) in objects where storageKey != "/namespaces" {
            guard let type = type(forStorageKey: storageKey), type.namespaced else { continue }
            for key in bucket.keys where key.hasPrefix(prefix) {
                let objectName = String(key.dropFirst(prefix.count))
                _ = try? delete(type, namespace: name, name: objectName, context: context)
            }
        }
        finishNamespaceIfEmpty(name, context: context)
        return objects["/namespaces"]?[Self.key(namespace: nil, name: name)] ?? object
    }

    private func finishNamespaceIfEmpty(_ name: String, context: WriteContext) {
        guard let namespaceType = type(forStorageKey: "/namespaces"),
              let namespace = objects["/namespaces"]?[Self.key(namespace: nil, name: name)],
              namespace[path: ["metadata", "deletionTimestamp"]] != nil
        else { return }
        let prefix = "\(name)/"
        let empty = objects.allSatisfy { storageKey, bucket in
            storageKey == "/namespaces" || !bucket.keys.contains { $0.hasPrefix(prefix) }
        }
        if empty {
            commit(namespaceType, namespace: nil, name: name, object: namespace, kind: .deleted, previous: namespace)
        }
    }
}
