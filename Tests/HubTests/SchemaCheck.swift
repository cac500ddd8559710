import Foundation
import JSON

/// Checks JSON values against the schemas of an OpenAPI 3.0 document, strictly: an object may
/// hold only the properties its schema lists (unless it lists none or allows more), so that an
/// answer cannot carry a field the document does not describe.
struct SchemaCheck {
    let document: JSONValue

    /// The object a local `$ref` (`#/components/schemas/Cluster`) points at.
    func resolve(_ schema: JSONValue) -> JSONValue {
        guard let reference = schema["$ref"]?.string, reference.hasPrefix("#/") else { return schema }
        let path = reference.dropFirst(2).split(separator: "/").map(String.init)
        return resolve(document[path: path] ?? .null)
    }

    /// Every way `value` departs from `schema`, each with its JSON path.
    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String = "$") -> [String] {
        let schema = resolve(schema)
        if value == .null {
            return schema["nullable"] == true || schema.object?.isEmpty == true ? [] : ["\(path): null, but not nullable"]
        }
        if let options = schema["enum"]?.array, !options.contains(value) {
            return ["\(path): \(value.serialized()) is not one of \(JSONValue.array(options).serialized())"]
        }
        switch schema["type"]?.string {
        case "object":
            guard let members = value.object else { return ["\(path): expected an object, got \(value.serialized())"] }
            let properties = schema["properties"]?.object ?? [:]
            var found = (schema["required"]?.array ?? []).compactMap(\.string).filter { members[$0] == nil }.map { "\(path).\($0): required, missing" }
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] {
                    found += problems(member, property, at: "\(path).\(key)")
                } else if !properties.isEmpty, schema["additionalProperties"] == nil {
                    found.append("\(path).\(key): not in the document")
                }
            }
            return found
        case "array":
            guard let items = value.array else { return ["\(path): expected an array, got \(value.serialized())"] }
            return items.enumerated().flatMap { problems($1, schema["items"] ?? .emptyObject, at: "\(path)[\($0)]") }
        case "string":
            guard let text = value.string else { return ["\(path): expected a string, got \(value.serialized())"] }
            if schema["format"] == "date-time", (try? Date(text, strategy: .iso8601)) == nil { return ["\(path): \"\(text)\" is not a date-time"] }
            return []
        case "integer":
            return value.int == nil || value.double?.rounded() != value.double ? ["\(path): expected an integer, got \(value.serialized())"] : []
        case "number":
            return value.double == nil ? ["\(path): expected a number, got \(value.serialized())"] : []
        case "boolean":
            return value.bool == nil ? ["\(path): expected a boolean, got \(value.serialized())"] : []
        default:
            return []
        }
    }
}
