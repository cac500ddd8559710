import Foundation
import JSON

/// Loads declarative cluster contents: multi-document YAML, applied as create-or-replace.
enum Fixtures {
    static func load(directory: String, into store: ObjectStore) async throws {
        let root = URL(fileURLWithPath: directory)
        guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw KubeSimError.invalidFixture(source: directory, reason: "not a readable directory")
        }
        let files = enumerator.compactMap { $0 as? URL }
            .filter { ["yaml", "yml", "json"].contains($0.pathExtension) }
            .map(\.path)
            .sorted()
        var documents: [(source: String, object: JSONValue)] = []
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            documents += try parse(text, source: file)
        }
        try await apply(documents, into: store)
    }

    static func load(_ text: String, source: String, at time: Date = Date(), into store: ObjectStore) async throws {
        try await apply(try parse(text, source: source), at: time, into: store)
    }

    private static func parse(_ text: String, source: String) throws -> [(source: String, object: JSONValue)] {
        do {
            return try JSONValue.documents(yaml: text).flatMap { document -> [JSONValue] in
                // A `kind: List` carries its objects in `items`.
                if document["kind"]?.string == "List" { return document["items"]?.array ?? [] }
                return [document]
            }.map { (source, $0) }
        } catch {
            throw KubeSimError.invalidFixture(source: source, reason: "\(error)")
        }
    }

    /// Namespaces, then CRDs, then everything else, so that objects find what they need.
    private static func rank(_ object: JSONValue) -> Int {
        switch object["kind"]?.string {
        case "Namespace": 0
        case "CustomResourceDefinition": 1
        default: 2
        }
    }

    private static func apply(
        _ documents: [(source: String, object: JSONValue)], at time: Date = Date(), into store: ObjectStore
    ) async throws {
        let context = WriteContext(fieldManager: "kubesim-fixtures", now: time)
        for (source, object) in documents.sorted(by: { rank($0.object) < rank($1.object) }) {
            guard let apiVersion = object["apiVersion"]?.string, let kind = object["kind"]?.string,
                  let name = object[path: ["metadata", "name"]]?.string
            else {
                throw KubeSimError.invalidFixture(source: source, reason: "every object needs apiVersion, kind and metadata.name")
            }
            guard let type = await store.resourceType(apiVersion: apiVersion, kind: kind) else {
                throw KubeSimError.invalidFixture(source: source, reason: "\(kind) \(name): no such kind served as \(apiVersion) (define its CRD first)")
            }
            var namespace: String?
            if type.namespaced {
                namespace = object[path: ["metadata", "namespace"]]?.string ?? "default"
                if let namespace, await !store.namespaceExists(namespace) {
                    let namespaceType = await store.resourceType(apiVersion: "v1", kind: "Namespace")!
                    _ = try await store.create(namespaceType, namespace: nil, body: ["metadata": ["name": .string(namespace)]], context: context)
                }
            }
            do {
                if let existing = try? await store.object(type, namespace: namespace, name: name) {
                    var replacement = object
                    replacement[path: ["metadata", "resourceVersion"]] = nil
                    _ = try await store.store(replacement, replacing: existing, type, namespace: namespace, name: name, context: context, ownership: .update())
                } else {
                    _ = try await store.create(type, namespace: namespace, body: object, context: context)
                }
            } catch {
                throw KubeSimError.invalidFixture(source: source, reason: "\(kind) \(name): \(error.message)")
            }
        }
    }
}
