import JSON

/// Maps kinds to the resources that serve them, from the server's discovery documents.
/// A group version is read once and cached; a kind it does not list makes it read again, so
/// kinds whose CRD was created later are found. The groups and their preferred versions come
/// from one read of `/apis`; a group it does not list (a CRD not installed) is looked for again
/// after `missingGroupRecheck`, not at every sleep of every namespace.
actor RESTMapper {
    private var resources: [String: [String: APIResource]] = [:]
    private var preferredVersions: [String: String] = [:]
    private var groupsListed: ContinuousClock.Instant?
    /// Kinds found missing from their group (Argo CD's group without Rollouts), by `group/kind`:
    /// the sleeps that ask by group look for them again after `missingGroupRecheck`.
    private var missingKinds: [String: ContinuousClock.Instant] = [:]
    private let missingGroupRecheck: Duration
    private let fetch: @Sendable (String) async throws -> JSONValue
    /// Discovery reads under way: callers asking for the same path at once share one request.
    private var fetching: [String: Task<JSONValue, any Error>] = [:]

    /// `fetch` reads a discovery path such as `/apis/apps/v1`.
    init(missingGroupRecheck: Duration = .seconds(60), fetch: @escaping @Sendable (String) async throws -> JSONValue) {
        self.missingGroupRecheck = missingGroupRecheck
        self.fetch = fetch
    }

    func resource(for kind: ResourceKind) async throws -> APIResource {
        if let known = resources[kind.apiVersion]?[kind.kind] { return known }
        try await refresh(kind.apiVersion)
        guard let found = resources[kind.apiVersion]?[kind.kind] else {
            throw KubeError(reason: .notFound, message: "the server does not serve \(kind.kind) in \(kind.apiVersion)")
        }
        return found
    }

    /// The resource of `kind` in `group` at the group's preferred version (SleepInfo patches
    /// name kinds by group only).
    func resource(group: String, kind: String) async throws -> APIResource {
        if group.isEmpty { return try await resource(for: ResourceKind(group: "", version: "v1", kind: kind)) }
        if preferredVersions[group] == nil, groupsListed.map({ ContinuousClock.now - $0 >= missingGroupRecheck }) ?? true {
            try await listGroups()
        }
        guard let version = preferredVersions[group] else {
            throw KubeError(reason: .notFound, message: "the server does not serve the API group \(group)")
        }
        let key = "\(group)/\(kind)"
        if let missed = missingKinds[key], ContinuousClock.now - missed < missingGroupRecheck {
            throw KubeError(reason: .notFound, message: "the server does not serve \(kind) in \(group)/\(version)")
        }
        do {
            let found = try await resource(for: ResourceKind(group: group, version: version, kind: kind))
            missingKinds[key] = nil
            return found
        } catch let error as KubeError where error.isNotFound {
            missingKinds[key] = ContinuousClock.now
            throw error
        }
    }

    /// Forgets what discovery said of `apiVersion`, which the server no longer serves (a list of
    /// one of its kinds answered 404: its CRD was removed, or now serves other versions). The
    /// next ask reads the groups and the group version again instead of trusting the cache until
    /// the hub restarts.
    func forget(_ apiVersion: String) {
        resources[apiVersion] = nil
        let parts = ResourceKind(apiVersion: apiVersion, kind: "")
        if preferredVersions[parts.group] == parts.version { preferredVersions[parts.group] = nil }
        groupsListed = nil
        missingKinds = missingKinds.filter { !$0.key.hasPrefix(parts.group + "/") }
    }

    /// Every group the server serves, at its preferred version (`/apis`, an APIGroupList).
    private func listGroups() async throws {
        let document = try await fetchOnce("/apis")
        for group in document["groups"]?.array ?? [] {
            guard let name = group["name"]?.string else { continue }
            let version = group[path: ["preferredVersion", "version"]]?.string ?? group["versions"]?.array?.first?["version"]?.string
            if let version { preferredVersions[name] = version }
        }
        groupsListed = ContinuousClock.now
    }

    private func refresh(_ apiVersion: String) async throws {
        let path = apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)"
        let document: JSONValue
        do {
            document = try await fetchOnce(path)
        } catch let error as KubeError where error.isNotFound {
            resources[apiVersion] = [:]
            return
        }
        var byKind: [String: APIResource] = [:]
        var subresources: [String: Set<String>] = [:]
        let entries = document["resources"]?.array ?? []
        for entry in entries {
            guard let name = entry["name"]?.string else { continue }
            let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
            if parts.count == 2 { subresources[parts[0], default: []].insert(parts[1]) }
        }
        let kindParts = ResourceKind(apiVersion: apiVersion, kind: "")
        for entry in entries {
            guard let name = entry["name"]?.string, !name.contains("/"), let kind = entry["kind"]?.string else { continue }
            byKind[kind] = APIResource(
                kind: ResourceKind(group: kindParts.group, version: kindParts.version, kind: kind),
                plural: name, namespaced: entry["namespaced"]?.bool ?? true, subresources: subresources[name] ?? []
            )
        }
        resources[apiVersion] = byKind
    }

    private func fetchOnce(_ path: String) async throws -> JSONValue {
        if let running = fetching[path] { return try await running.value }
        let task = Task { [fetch] in try await fetch(path) }
        fetching[path] = task
        defer { fetching[path] = nil }
        return try await task.value
    }
}
