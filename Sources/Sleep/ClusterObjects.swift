import JSON
import Kube

/// A cluster's objects read for one evaluation with as few requests as possible: a kind is listed
/// in the first namespace that asks for it, and across all namespaces at once when a second one
/// does (at once, when several namespaces are known to act). Each namespace gets its share of a
/// cluster-wide list once; asking again (after an operation patched the namespace, or for another
/// unit in it) lists the namespace afresh.
public actor ClusterObjects {
    private let client: KubeClient
    /// Several namespaces will ask: the first one lists across all of them.
    private let expectingMany: Bool
    private var firstNamespace: [ResourceKind: String] = [:]
    private var clusterWide: [ResourceKind: Task<[String: [JSONValue]], any Error>] = [:]
    private var served: Set<Served> = []
    /// Cluster-wide lists refused (permissions for some namespaces only): namespace lists from then on.
    private var namespacedOnly = false

    private struct Served: Hashable {
        var kind: ResourceKind
        var namespace: String
    }

    public init(client: KubeClient, expectingMany: Bool = false) {
        self.client = client
        self.expectingMany = expectingMany
    }

    /// The objects of `kind` in `namespace`.
    public func items(of kind: ResourceKind, in namespace: String) async throws -> [JSONValue] {
        let share = Served(kind: kind, namespace: namespace)
        guard !namespacedOnly, served.insert(share).inserted else { return try await listNamespace(kind, namespace) }
        let listing: Task<[String: [JSONValue]], any Error>
        if let started = clusterWide[kind] {
            listing = started
        } else if expectingMany || firstNamespace[kind].map({ $0 != namespace }) == true {
            listing = Task { [client] in
                Dictionary(grouping: try await client.list(kind).items) { $0[path: ["metadata", "namespace"]]?.string ?? "" }
            }
            clusterWide[kind] = listing
        } else {
            firstNamespace[kind] = namespace
            return try await listNamespace(kind, namespace)
        }
        do {
            return try await listing.value[namespace] ?? []
        } catch let error as KubeError where error.reason == .forbidden {
            namespacedOnly = true
            return try await listNamespace(kind, namespace)
        }
    }

    private func listNamespace(_ kind: ResourceKind, _ namespace: String) async throws -> [JSONValue] {
        try await client.list(kind, namespace: namespace).items
    }
}

/// A target's state Secret as last read or written (`secret` nil: there is none), so that the
/// next write needs no read first.
public struct StateSecret: Sendable {
    public let secret: Secret?
    public let contents: RestoreSecret.Contents?

    public init(_ secret: Secret?) throws {
        self.secret = secret
        contents = try secret.map(RestoreSecret.read)
    }
}
