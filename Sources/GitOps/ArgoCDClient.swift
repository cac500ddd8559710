import Foundation
import JSON
import Transport

/// The part of Argo CD's API v1 the hub uses: read an Application (refreshing it), sync it,
/// patch its spec. Authenticates with `Authorization: Bearer`.
///
/// ```swift
/// let argocd = ArgoCDClient(url: "https://argocd.example.com", token: token, http: HTTPClient())
/// let application = try await argocd.application("staging-payments", refresh: true)
/// ```
public struct ArgoCDClient: Sendable {
    private let api: ServiceClient

    public init(url: String, token: String?, http: HTTPClient, observe: RequestObserver? = nil) {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        api = ServiceClient(
            service: .argocd, baseURL: base + "/api/v1/applications", authorization: token.map { ("Authorization", "Bearer \($0)") },
            tokenVariable: "SANDMAN_ARGOCD_TOKEN", http: http, observe: observe
        )
    }

    /// An object an Application manages, as a sync names it.
    public struct Resource: Sendable, Equatable {
        public var group: String
        public var kind: String
        public var namespace: String
        public var name: String

        public init(group: String, kind: String, namespace: String, name: String) {
            self.group = group
            self.kind = kind
            self.namespace = namespace
            self.name = name
        }
    }

    /// The Application; with `refresh`, after Argo CD compared git and the cluster again.
    public func application(_ name: String, refresh: Bool = false) async throws(GitOpsError) -> Application {
        Application(try await api.send(.get, "/\(encoded(name))" + (refresh ? "?refresh=normal" : ""), call: "get_application"))
    }

    /// Starts a sync, of `resources` only when given; `revision` only for an Application without
    /// auto-sync (Argo CD refuses one otherwise).
    public func sync(_ name: String, revision: String?, resources: [Resource]?) async throws(GitOpsError) {
        var body: JSONValue = ["name": .string(name), "prune": false]
        if let revision { body["revision"] = .string(revision) }
        if let resources {
            body["resources"] = .array(resources.map {
                ["group": .string($0.group), "kind": .string($0.kind), "namespace": .string($0.namespace), "name": .string($0.name)]
            })
        }
        _ = try await api.send(.post, "/\(encoded(name))/sync", call: "sync", body: body)
    }

    public enum PatchType: String, Sendable {
        case merge, json
    }

    /// Patches the Application (`ApplicationPatchRequest`): a merge patch or a JSON patch document.
    @discardableResult
    public func patch(_ name: String, _ patch: JSONValue, type: PatchType) async throws(GitOpsError) -> Application {
        let body: JSONValue = ["name": .string(name), "patch": .string(patch.serialized()), "patchType": .string(type.rawValue)]
        return Application(try await api.send(.patch, "/\(encoded(name))", call: "patch_application", body: body))
    }
}

/// An Argo CD Application (`argoproj.io/v1alpha1`) as the API returns it, with the fields the hub reads.
public struct Application: Sendable, Equatable {
    public var object: JSONValue

    public init(_ object: JSONValue) {
        self.object = object
    }

    public var name: String { object[path: ["metadata", "name"]]?.string ?? "" }
    public var annotations: [String: String] {
        (object[path: ["metadata", "annotations"]]?.object ?? [:]).compactMapValues(\.string)
    }

    /// `spec.syncPolicy`, `null` when absent.
    public var syncPolicy: JSONValue { object[path: ["spec", "syncPolicy"]] ?? .null }
    public var isAutomated: Bool {
        if case .object = syncPolicy["automated"] ?? .null { return true }
        return false
    }

    public var syncStatus: String? { object[path: ["status", "sync", "status"]]?.string }
    public var healthStatus: String? { object[path: ["status", "health", "status"]]?.string }
    public var operationPhase: String? { object[path: ["status", "operationState", "phase"]]?.string }
    /// The revision the last operation synced.
    public var syncedRevision: String? { object[path: ["status", "operationState", "syncResult", "revision"]]?.string }
    /// An operation is set or running: a new sync would be refused.
    public var operationInProgress: Bool {
        (object["operation"].map { $0 != .null } ?? false) || operationPhase == "Running" || operationPhase == "Terminating"
    }

    /// Revisions deployed, oldest first.
    public var deployedRevisions: [String] {
        (object[path: ["status", "history"]]?.array ?? []).compactMap { $0["revision"]?.string }
    }

    /// `status.resources[]` entry of an object: its sync status (`Synced`, `OutOfSync`).
    public func syncStatus(of resource: ArgoCDClient.Resource) -> String? {
        (object[path: ["status", "resources"]]?.array ?? []).first { entry in
            entry["kind"]?.string == resource.kind && (entry["group"]?.string ?? "") == resource.group
                && entry["name"]?.string == resource.name && (entry["namespace"]?.string ?? "") == resource.namespace
        }?["status"]?.string
    }
}
