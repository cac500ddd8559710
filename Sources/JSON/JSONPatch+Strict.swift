extension JSONPatch {
    /// The RFC 6902 patch that does to `document` exactly what this patch does to it under
    /// `options`: what to send to an API server that applies patches strictly. A `remove` of a
    /// missing path is dropped; an `add` into missing parents becomes an `add` of the first
    /// missing one with its new contents (or, when nulls pad an array, a `replace` of that array).
    public func strict(for document: JSONValue, options: Options) throws(JSONPatchError) -> JSONPatch {
        var current = document
        var strict: [Operation] = []
        for operation in operations {
            let single = JSONPatch([operation])
            let next = try single.applied(to: current, options: options)
            if (try? single.applied(to: current)) != nil {
                strict.append(operation)
            } else if case .add(let path, _) = operation {
                strict.append(Self.creation(of: path, from: current, to: next))
            }
            current = next
        }
        return JSONPatch(strict)
    }

    /// The operation that builds, in `before`, the missing parents of `path` as they are in `after`.
    private static func creation(of path: JSONPointer, from before: JSONValue, to after: JSONValue) -> Operation {
        let tokens = path.tokens
        let missing = (1..<tokens.count).first { value(at: JSONPointer(tokens: Array(tokens[..<$0])), in: before) == nil } ?? tokens.count
        let created = JSONPointer(tokens: Array(tokens[..<missing]))
        let parent = JSONPointer(tokens: Array(tokens[..<(missing - 1)]))
        if case .array(let elements) = value(at: parent, in: before), Int(tokens[missing - 1]) != elements.count {
            return .replace(parent, value(at: parent, in: after) ?? .null)
        }
        return .add(created, value(at: created, in: after) ?? .null)
    }
}
