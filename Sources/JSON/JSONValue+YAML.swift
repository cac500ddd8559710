import Foundation
import Yams

/// Why a YAML text could not be turned into JSON.
public struct YAMLConversionError: Error, Sendable, CustomStringConvertible {
    public var line: Int?
    public var reason: String
    public var description: String { line.map { "line \($0): \(reason)" } ?? reason }

    public init(line: Int?, reason: String) {
        self.line = line
        self.reason = reason
    }

    /// A Yams error as a line and one sentence: `invalid YAML: <problem>` or `duplicate keys: a, b`.
    public init(_ error: any Error) {
        switch error as? YamlError {
        case .scanner(_, let problem, let mark, _)?, .parser(_, let problem, let mark, _)?, .composer(_, let problem, let mark, _)?:
            self.init(line: mark.line, reason: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, _)?:
            self.init(line: nil, reason: "duplicate keys: \(duplicates.joined(separator: ", "))")
        default:
            self.init(line: nil, reason: "invalid YAML: \(error)")
        }
    }
}

extension JSONValue {
    /// The single document of a YAML text (JSON is YAML too); an empty text is `null`.
    public init(yaml text: String) throws(YAMLConversionError) {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                self = .null
                return
            }
            self = try JSONValue(node: node)
        } catch let error as YAMLConversionError {
            throw error
        } catch {
            throw YAMLConversionError(error)
        }
    }

    /// Every non-empty document of a multi-document YAML text, as `kubectl apply -f` reads it.
    public static func documents(yaml text: String) throws(YAMLConversionError) -> [JSONValue] {
        do {
            var documents: [JSONValue] = []
            var nodes = try Yams.compose_all(yaml: text)
            while let node = nodes.next() {
                let value = try JSONValue(node: node)
                if value != .null { documents.append(value) }
            }
            // The sequence ends at a syntax error and keeps it here rather than throwing it.
            if let error = nodes.error { throw error }
            return documents
        } catch let error as YAMLConversionError {
            throw error
        } catch {
            throw YAMLConversionError(error)
        }
    }

    package init(node: Node) throws(YAMLConversionError) {
        switch node {
        case .scalar(let scalar):
            self = Self.scalar(scalar)
        case .sequence(let sequence):
            var elements: [JSONValue] = []
            for item in sequence { elements.append(try JSONValue(node: item)) }
            self = .array(elements)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw YAMLConversionError(line: key.mark?.line, reason: "mapping keys must be scalars")
                }
                members[keyScalar.string] = try JSONValue(node: value)
            }
            self = .object(members)
        case .alias(let alias):
            throw YAMLConversionError(line: alias.mark?.line, reason: "YAML aliases are not supported")
        }
    }

    private static func scalar(_ scalar: Node.Scalar) -> JSONValue {
        let node = Node.scalar(scalar)
        switch node.tag.description {
        case Tag.Name.null.rawValue: return .null
        case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
        case Tag.Name.int.rawValue: return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
        case Tag.Name.float.rawValue: return node.float.map(JSONValue.double) ?? .string(scalar.string)
        default: return .string(scalar.string)
        }
    }
}

extension JSONValue {
    /// The value as YAML text, keys sorted; `width` -1 never folds long lines.
    public func yamlText(width: Int = 0) throws -> String {
        try Yams.dump(object: foundationObject, width: width, sortKeys: true)
    }

    /// The value as Foundation objects, which Yams' serializer takes.
    private var foundationObject: Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): value
        case .int(let value): Int(value)
        case .double(let value): value
        case .string(let value): value
        case .array(let values): values.map(\.foundationObject)
        case .object(let members): members.mapValues(\.foundationObject)
        }
    }
}
