/// Why a patch could not be applied; the message names the operation and path.
public enum JSONPatchError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidPatch(String)
    case invalidPointer(String)
    case pathNotFound(String)
    case testFailed(String)

    public var description: String {
        switch self {
        case .invalidPatch(let reason): "invalid patch: \(reason)"
        case .invalidPointer(let pointer): "invalid JSON pointer \"\(pointer)\""
        case .pathNotFound(let pointer): "path \(pointer) does not exist"
        case .testFailed(let pointer): "test failed at \(pointer)"
        }
    }
}

/// An RFC 6902 JSON Patch: a list of `add`, `remove`, `replace`, `move`, `copy` and `test`
/// operations applied in order, all or nothing.
public struct JSONPatch: Sendable, Hashable {
    /// How strictly operations apply: RFC 6902 by default. The lenient rules are those of
    /// evanphx/json-patch v5 (`ApplyOptions` in v5/patch.go), which kube-green applies sleep
    /// patches with.
    public struct Options: Sendable, Hashable {
        /// A `remove` whose target (or a parent of it) is missing does nothing instead of failing.
        public var allowMissingPathOnRemove: Bool
        /// An `add` creates the missing containers on its path: an array when the next token is an
        /// index or `-` (padded with nulls up to that index), an object otherwise.
        public var createMissingParentsOnAdd: Bool

        public init(allowMissingPathOnRemove: Bool = false, createMissingParentsOnAdd: Bool = false) {
            self.allowMissingPathOnRemove = allowMissingPathOnRemove
            self.createMissingParentsOnAdd = createMissingParentsOnAdd
        }

        /// RFC 6902, as the Kubernetes API server applies `application/json-patch+json`.
        public static let rfc6902 = Options()
        /// kube-green's patcher (internal/patcher/patcher.go): `EnsurePathExistsOnAdd` and
        /// `AllowMissingPathOnRemove`, negative indices not supported.
        public static let kubeGreen = Options(allowMissingPathOnRemove: true, createMissingParentsOnAdd: true)
    }

    public enum Operation: Sendable, Hashable {
        case add(JSONPointer, JSONValue)
        case remove(JSONPointer)
        case replace(JSONPointer, JSONValue)
        case move(from: JSONPointer, to: JSONPointer)
        case copy(from: JSONPointer, to: JSONPointer)
        case test(JSONPointer, JSONValue)
    }

    public var operations: [Operation]

    public init(_ operations: [Operation]) {
        self.operations = operations
    }

    /// Reads a patch document: an array of `{op, path, value|from}` objects.
    public init(_ document: JSONValue) throws(JSONPatchError) {
        guard let items = document.array else { throw .invalidPatch("a JSON patch is an array of operations") }
        var operations: [Operation] = []
        for (index, item) in items.enumerated() {
            guard let op = item["op"]?.string else { throw .invalidPatch("operation \(index) has no \"op\"") }
            guard let pathText = item["path"]?.string else { throw .invalidPatch("operation \(index) (\(op)) has no \"path\"") }
            let path = try JSONPointer(parsing: pathText)
            func value() throws(JSONPatchError) -> JSONValue {
                guard let value = item["value"] else { throw .invalidPatch("operation \(index) (\(op) \(pathText)) has no \"value\"") }
                return value
            }
            func from() throws(JSONPatchError) -> JSONPointer {
                guard let text = item["from"]?.string else { throw .invalidPatch("operation \(index) (\(op) \(pathText)) has no \"from\"") }
                return try JSONPointer(parsing: text)
            }
            switch op {
            case "add": operations.append(.add(path, try value()))
            case "remove": operations.append(.remove(path))
            case "replace": operations.append(.replace(path, try value()))
            case "move": operations.append(.move(from: try from(), to: path))
            case "copy": operations.append(.copy(from: try from(), to: path))
            case "test": operations.append(.test(path, try value()))
            default: throw .invalidPatch("operation \(index) has unknown op \"\(op)\"")
            }
        }
        self.operations = operations
    }

    /// The patch as a JSON document (an array of operations), to send.
    public var document: JSONValue {
        .array(operations.map { operation in
            switch operation {
            case .add(let path, let value): ["op": "add", "path": .string(path.description), "value": value]
            case .remove(let path): ["op": "remove", "path": .string(path.description)]
            case .replace(let path, let value): ["op": "replace", "path": .string(path.description), "value": value]
            case .move(let from, let to): ["op": "move", "from": .string(from.description), "path": .string(to.description)]
            case .copy(let from, let to): ["op": "copy", "from": .string(from.description), "path": .string(to.description)]
            case .test(let path, let value): ["op": "test", "path": .string(path.description), "value": value]
            }
        })
    }

    public func applied(to document: JSONValue, options: Options = .rfc6902) throws(JSONPatchError) -> JSONValue {
        var result = document
        for operation in operations {
            switch operation {
            case .add(let path, let value):
                try Self.add(value, at: path.tokens[...], in: &result, pointer: path, createParents: options.createMissingParentsOnAdd)
            case .remove(let path):
                if options.allowMissingPathOnRemove, Self.isAbsent(path, in: result) { continue }
                _ = try Self.remove(at: path.tokens[...], in: &result, pointer: path)
            case .replace(let path, let value):
                _ = try Self.remove(at: path.tokens[...], in: &result, pointer: path)
                try Self.add(value, at: path.tokens[...], in: &result, pointer: path)
            case .move(let from, let to):
                let value = try Self.remove(at: from.tokens[...], in: &result, pointer: from)
                try Self.add(value, at: to.tokens[...], in: &result, pointer: to)
            case .copy(let from, let to):
                guard let value = Self.value(at: from, in: result) else { throw .pathNotFound(from.description) }
                try Self.add(value, at: to.tokens[...], in: &result, pointer: to)
            case .test(let path, let expected):
                guard Self.value(at: path, in: result) == expected else { throw .testFailed(path.description) }
            }
        }
        return result
    }

    public static func value(at pointer: JSONPointer, in document: JSONValue) -> JSONValue? {
        var current = document
        for token in pointer.tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let elements):
                guard let index = Int(token), elements.indices.contains(index) else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }

    private static func add(_ value: JSONValue, at tokens: ArraySlice<String>, in document: inout JSONValue, pointer: JSONPointer, createParents: Bool = false) throws(JSONPatchError) {
        guard let token = tokens.first else {
            document = value
            return
        }
        let rest = tokens.dropFirst()
        switch document {
        case .object(var members):
            if rest.isEmpty {
                members[token] = value
            } else {
                var child: JSONValue
                if let existing = members[token] {
                    child = existing
                } else if createParents {
                    child = try emptyContainer(before: rest.first!, pointer: pointer)
                } else {
                    throw .pathNotFound(pointer.description)
                }
                try add(value, at: rest, in: &child, pointer: pointer, createParents: createParents)
                members[token] = child
            }
            document = .object(members)
        case .array(var elements):
            if rest.isEmpty {
                if token == "-" {
                    elements.append(value)
                } else {
                    guard let index = Int(token), (0...elements.count).contains(index) else { throw .pathNotFound(pointer.description) }
                    elements.insert(value, at: index)
                }
            } else if let index = Int(token), elements.indices.contains(index) {
                try add(value, at: rest, in: &elements[index], pointer: pointer, createParents: createParents)
            } else if createParents, let index = Int(token), index >= elements.count {
                // As evanphx/json-patch's ensurePathExists: pad with nulls up to the index.
                elements += Array(repeating: .null, count: index - elements.count)
                var child = try emptyContainer(before: rest.first!, pointer: pointer)
                try add(value, at: rest, in: &child, pointer: pointer, createParents: createParents)
                elements.append(child)
            } else {
                throw .pathNotFound(pointer.description)
            }
            document = .array(elements)
        default:
            throw .pathNotFound(pointer.description)
        }
    }

    /// The container `add` creates for a missing parent, given the token that follows it: an array
    /// (holding `index` nulls, so that adding at that index works) or an object.
    private static func emptyContainer(before next: String, pointer: JSONPointer) throws(JSONPatchError) -> JSONValue {
        if next == "-" { return .array([]) }
        guard let index = Int(next) else { return .emptyObject }
        guard index >= 0 else { throw .pathNotFound(pointer.description) }
        return .array(Array(repeating: .null, count: index))
    }

    /// Whether removing `pointer` is a no-op for evanphx/json-patch with `AllowMissingPathOnRemove`:
    /// a parent is missing or not a container, the member is missing, or the index is past the end.
    /// A token that is not an index into an array, or a negative one, is still an error.
    private static func isAbsent(_ pointer: JSONPointer, in document: JSONValue) -> Bool {
        guard let last = pointer.tokens.last else { return false }
        switch value(at: JSONPointer(tokens: pointer.tokens.dropLast()), in: document) {
        case .object(let members): return members[last] == nil
        case .array(let elements):
            guard let index = Int(last), index >= 0 else { return false }
            return index >= elements.count
        default: return true
        }
    }

    private static func remove(at tokens: ArraySlice<String>, in document: inout JSONValue, pointer: JSONPointer) throws(JSONPatchError) -> JSONValue {
        guard let token = tokens.first else { throw .invalidPatch("cannot remove the whole document") }
        let rest = tokens.dropFirst()
        switch document {
        case .object(var members):
            guard var child = members[token] else { throw .pathNotFound(pointer.description) }
            let removed: JSONValue
            if rest.isEmpty {
                removed = child
                members[token] = nil
            } else {
                removed = try remove(at: rest, in: &child, pointer: pointer)
                members[token] = child
            }
            document = .object(members)
            return removed
        case .array(var elements):
            guard let index = Int(token), elements.indices.contains(index) else { throw .pathNotFound(pointer.description) }
            let removed: JSONValue
            if rest.isEmpty {
                removed = elements.remove(at: index)
            } else {
                removed = try remove(at: rest, in: &elements[index], pointer: pointer)
            }
            document = .array(elements)
            return removed
        default:
            throw .pathNotFound(pointer.description)
        }
    }
}
