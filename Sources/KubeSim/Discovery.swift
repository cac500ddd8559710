import JSON

/// The discovery documents kubectl and clients read to learn which kinds exist where.
enum Discovery {
    static func version(_ gitVersion: String) -> JSONValue {
        let numbers = gitVersion.dropFirst().split(separator: ".")
        return [
            "major": .string(numbers.first.map(String.init) ?? "1"),
            "minor": .string(numbers.dropFirst().first.map(String.init) ?? "31"),
            "gitVersion": .string(gitVersion), "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0",
            "compiler": "gc", "platform": "linux/amd64",
        ]
    }

    /// The discovery document at `/api`, `/api/v1`, `/apis`, `/apis/{group}` or
    /// `/apis/{group}/{version}`; nil for any other path.
    static func document(for segments: [String], store: ObjectStore) async -> JSONValue? {
        let types = await store.types
        switch segments.count {
        case 1 where segments[0] == "api":
            return ["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"]]]
        case 2 where segments[0] == "api" && segments[1] == "v1":
            return resourceList(groupVersion: "v1", types: types.filter { $0.group.isEmpty })
        case 1 where segments[0] == "apis":
            return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups(types).map(\.document))]
        case 2 where segments[0] == "apis":
            return groups(types).first { $0.name == segments[1] }?.document
        case 3 where segments[0] == "apis":
            let groupVersion = "\(segments[1])/\(segments[2])"
            let matching = types.filter { $0.groupVersion == groupVersion }
            return matching.isEmpty ? nil : resourceList(groupVersion: groupVersion, types: matching)
        default:
            return nil
        }
    }

    private static func resourceList(groupVersion: String, types: [ResourceType]) -> JSONValue {
        ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(types.flatMap { $0.discoveryEntries() })]
    }

    private struct Group {
        var name: String
        var versions: [String]

        var document: JSONValue {
            let entries: [JSONValue] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
            return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(name), "versions": .array(entries), "preferredVersion": entries[0]]
        }
    }

    private static func groups(_ types: [ResourceType]) -> [Group] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for type in types where !type.group.isEmpty {
            if versions[type.group] == nil { order.append(type.group) }
            if !versions[type.group, default: []].contains(type.version) { versions[type.group, default: []].append(type.version) }
        }
        return order.map { Group(name: $0, versions: versions[$0]!) }
    }
}
