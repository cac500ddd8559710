import JSON

/// The verbs with typed objects instead of JSON.
extension KubeClient {
    public func get<R: KubeResource>(_ type: R.Type, namespace: String?, name: String) async throws -> R {
        R(object: try await get(R.kind, namespace: namespace, name: name))
    }

    public func list<R: KubeResource>(_ type: R.Type, namespace: String? = nil, options: ListOptions = .init()) async throws -> [R] {
        try await list(R.kind, namespace: namespace, options: options).items.map(R.init(object:))
    }

    public func create<R: KubeResource>(_ resource: R, fieldManager: String = KubeClient.fieldManager) async throws -> R {
        R(object: try await create(resource.object, fieldManager: fieldManager))
    }

    public func update<R: KubeResource>(_ resource: R, fieldManager: String = KubeClient.fieldManager) async throws -> R {
        R(object: try await update(resource.object, fieldManager: fieldManager))
    }

    public func updateStatus<R: KubeResource>(_ resource: R, fieldManager: String = KubeClient.fieldManager) async throws -> R {
        R(object: try await updateStatus(resource.object, fieldManager: fieldManager))
    }

    public func patch<R: KubeResource>(_ type: R.Type, namespace: String?, name: String, _ patch: Patch, subresource: String? = nil, fieldManager: String = KubeClient.fieldManager) async throws -> R {
        R(object: try await self.patch(R.kind, namespace: namespace, name: name, patch, subresource: subresource, fieldManager: fieldManager))
    }
}
