import Foundation
import JSON

/// Reads a written object against its kind's schema as kube-apiserver's decoders do: built-in
/// kinds as Go's JSON decoder into their types (a wrong type is a 400 naming the Go field, unknown
/// fields are dropped and reported), custom resources as the CRD's structural schema (wrong
/// types, enums, patterns and bounds are 422 causes; unknown fields are pruned and reported,
/// except under `x-kubernetes-preserve-unknown-fields`).
struct ObjectDecoder {
    /// How unknown fields are treated, from the `fieldValidation` parameter.
    enum FieldValidation: String, Sendable {
        case strict = "Strict", warn = "Warn", ignore = "Ignore"
    }

    /// Built-in kinds decode as Go types; custom resources (and their metadata aside) as schemas.
    private var builtIn: Bool
    private(set) var unknownFields: [String] = []
    /// The first decoding error of a built-in kind (Go stops at the first).
    private(set) var decodeError: String?
    /// Schema violations of a custom resource.
    private(set) var errors: [FieldError] = []

    init(builtIn: Bool) {
        self.builtIn = builtIn
    }

    /// Decodes a whole object: its `metadata` against ObjectMeta, the rest against `schema`.
    mutating func decode(object: JSONValue, schema: Schema) -> JSONValue {
        guard case .object(let members) = object else { return object }
        var result: [String: JSONValue] = [:]
        let meta = Schema(["$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"])
        for (key, value) in members.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "apiVersion", "kind":
                result[key] = value
            case "metadata":
                // Metadata is ObjectMeta for every kind, decoded as Go decodes it.
                let saved = builtIn
                builtIn = true
                result[key] = decode(value, schema: meta, path: ["metadata"], parent: .named("ObjectMeta"))
                builtIn = saved
            default:
                if let property = schema.property(key) {
                    if let decoded = decode(value, schema: property, path: [key], parent: .structOf(schema)) { result[key] = decoded }
                } else if schema.preservesUnknownFields {
                    result[key] = value
                } else {
                    unknownFields.append(key)
                }
            }
        }
        // Required means present in what was sent, even if its value was wrong.
        if !builtIn { checkRequired(object, schema: schema, path: []) }
        return .object(result)
    }

    /// Decodes one value; nil drops it (a null, or a value that could not be decoded).
    private mutating func decode(_ value: JSONValue, schema: Schema, path: [String], parent: GoParent) -> JSONValue? {
        if value == .null {
            if !builtIn, !schema.nullable, !schema.preservesUnknownFields, let expected = schema.type {
                errors.append(.invalid(Self.display(path), .string("null"), "\(Self.display(path)) in body must be of type \(expected): \"null\""))
            }
            return builtIn || !schema.nullable ? nil : .null
        }
        if schema.isIntOrString {
            switch value {
            case .int, .string: return value
            default: return mismatch(value, schema: schema, path: path, parent: parent, expected: "integer")
            }
        }
        if schema.isQuantity {
            guard case .string(let text) = value.int.map({ JSONValue.string(String($0)) }) ?? value, Quantity.isValid(text) else {
                if builtIn { fail("quantities must match the regular expression '\(Quantity.pattern)'") } else { return mismatch(value, schema: schema, path: path, parent: parent, expected: "string") }
                return nil
            }
            return .string(text)
        }
        switch schema.type {
        case "object", nil where schema.isObject:
            return decodeObject(value, schema: schema, path: path, parent: parent)
        case "array":
            guard case .array(let items) = value else { return mismatch(value, schema: schema, path: path, parent: parent, expected: "array") }
            guard let itemSchema = schema.items else { return value }
            let decoded = items.enumerated().compactMap { index, item in
                decode(item, schema: itemSchema, path: path.dropLast() + [(path.last ?? "") + "[\(index)]"], parent: parent)
            }
            if !builtIn { checkBounds(.array(decoded), schema: schema, path: path) }
            return .array(decoded)
        case "string":
            guard case .string(let text) = value else { return mismatch(value, schema: schema, path: path, parent: parent, expected: "string") }
            if builtIn, schema.format == "byte" {
                if let position = Self.invalidBase64Position(text) {
                    fail("illegal base64 data at input byte \(position)")
                    return nil
                }
            } else if builtIn, schema.isTime, !Self.isRFC3339(text) {
                fail("parsing time \"\\\"\(text)\\\"\" as \"\\\"2006-01-02T15:04:05Z07:00\\\"\": cannot parse \"\\\"\(text)\\\"\" as \"2006\"")
                return nil
            }
            if !builtIn { checkBounds(value, schema: schema, path: path) }
            return value
        case "integer":
            guard case .int(let number) = value else { return mismatch(value, schema: schema, path: path, parent: parent, expected: "integer") }
            if schema.format == "int32", !(Int64(Int32.min)...Int64(Int32.max)).contains(number) {
                return mismatch(value, schema: schema, path: path, parent: parent, expected: "integer")
            }
            if !builtIn { checkBounds(value, schema: schema, path: path) }
            return value
        case "number":
            guard value.double != nil, value.bool == nil else { return mismatch(value, schema: schema, path: path, parent: parent, expected: "number") }
            if !builtIn { checkBounds(value, schema: schema, path: path) }
            return value
        case "boolean":
            guard case .bool = value else { return mismatch(value, schema: schema, path: path, parent: parent, expected: "boolean") }
            return value
        default:
            // No type: anything goes (x-kubernetes-preserve-unknown-fields, RawExtension).
            return value
        }
    }

    private mutating func decodeObject(_ value: JSONValue, schema: Schema, path: [String], parent: GoParent) -> JSONValue? {
        guard case .object(let members) = value else { return mismatch(value, schema: schema, path: path, parent: parent, expected: "object") }
        var result: [String: JSONValue] = [:]
        let structName = GoParent.structOf(schema)
        for (key, child) in members.sorted(by: { $0.key < $1.key }) {
            let childPath = path + [key]
            if let property = schema.property(key) {
                if let decoded = decode(child, schema: property, path: childPath, parent: structName) { result[key] = decoded }
            } else if let values = schema.additionalProperties {
                // A map: the Go field is the map, its values have the map's value type.
                if let decoded = decode(child, schema: values, path: builtIn ? path : childPath, parent: builtIn ? parent : structName) { result[key] = decoded }
            } else if schema.preservesUnknownFields || (builtIn && schema.properties == nil) {
                // Free-form built-in objects (FieldsV1, RawExtension) keep what they hold.
                result[key] = child
            } else if schema.isEmbeddedResource, ["apiVersion", "kind", "metadata"].contains(key) {
                result[key] = child
            } else {
                unknownFields.append(Self.display(childPath))
            }
        }
        let decoded = JSONValue.object(result)
        if !builtIn {
            checkRequired(value, schema: schema, path: path)
            checkBounds(decoded, schema: schema, path: path)
        }
        return decoded
    }

    /// The Go struct a field belongs to, as errors name it: worked out only for an error.
    enum GoParent {
        case named(String)
        case structOf(Schema)

        var name: String {
            switch self {
            case .named(let name): name
            case .structOf(let schema): schema.goStructName
            }
        }
    }

    private mutating func fail(_ message: String) {
        if decodeError == nil { decodeError = message }
    }

    /// A value of the wrong type: Go's `UnmarshalTypeError` for built-ins, a schema error otherwise.
    private mutating func mismatch(_ value: JSONValue, schema: Schema, path: [String], parent: GoParent, expected: String) -> JSONValue? {
        if builtIn {
            let field = path.map { Patterns.replacing(#"\[\d+\]"#, in: $0, with: "") }.joined(separator: ".")
            if schema.isIntOrString {
                fail("json: cannot unmarshal \(Self.goKind(value)) into Go value of type int32")
            } else {
                fail("json: cannot unmarshal \(Self.goKind(value, literal: expected == "integer")) into Go struct field \(parent.name).\(field) of type \(schema.goTypeName)")
            }
        } else {
            let actual = Self.jsonTypeName(value)
            errors.append(.invalid(Self.display(path), .string(actual), "\(Self.display(path)) in body must be of type \(expected): \"\(actual)\""))
        }
        return nil
    }

    private mutating func checkRequired(_ value: JSONValue, schema: Schema, path: [String]) {
        for field in schema.required where value[field] == nil {
            errors.append(FieldError(.required, Self.display(path + [field])))
        }
    }

    /// The structural-schema checks beyond types: enum, pattern, bounds, lengths, item counts.
    private mutating func checkBounds(_ value: JSONValue, schema: Schema, path: [String]) {
        let field = Self.display(path)
        let node = schema.node
        if let options = node["enum"]?.array, !options.contains(value) {
            errors.append(.notSupported(field, value, options.map { $0.string ?? $0.serialized() }))
        }
        switch value {
        case .string(let text):
            if let pattern = node["pattern"]?.string, !Patterns.matches(text, pattern) {
                errors.append(.invalid(field, value, "\(field) in body should match '\(pattern)'"))
            }
            if let maximum = node["maxLength"]?.int, text.count > maximum {
                errors.append(FieldError(.tooLong, field, value: value, detail: "may not be more than \(maximum) bytes"))
            }
            if let minimum = node["minLength"]?.int, text.count < minimum {
                errors.append(.invalid(field, value, "\(field) in body should be at least \(minimum) chars long"))
            }
        case .int, .double:
            let number = value.double ?? 0
            if let minimum = node["minimum"]?.double, node["exclusiveMinimum"]?.bool == true ? number <= minimum : number < minimum {
                errors.append(.invalid(field, value, "\(field) in body should be greater than \(node["exclusiveMinimum"]?.bool == true ? "" : "or equal to ")\(FieldError.goValue(node["minimum"]!))"))
            }
            if let maximum = node["maximum"]?.double, node["exclusiveMaximum"]?.bool == true ? number >= maximum : number > maximum {
                errors.append(.invalid(field, value, "\(field) in body should be less than \(node["exclusiveMaximum"]?.bool == true ? "" : "or equal to ")\(FieldError.goValue(node["maximum"]!))"))
            }
        case .array(let items):
            if let maximum = node["maxItems"]?.int, items.count > maximum {
                errors.append(FieldError(.tooMany, field, value: .int(Int64(items.count)), detail: "must have at most \(maximum) items"))
            }
            if let minimum = node["minItems"]?.int, items.count < minimum {
                errors.append(.invalid(field, value, "\(field) in body should have at least \(minimum) items"))
            }
        case .object(let members):
            if let maximum = node["maxProperties"]?.int, members.count > maximum {
                errors.append(FieldError(.tooMany, field, value: .int(Int64(members.count)), detail: "must have at most \(maximum) items"))
            }
        default:
            break
        }
    }

    // MARK: Names

    /// `spec.containers[0].image`: how field paths appear in errors.
    static func display(_ path: [String]) -> String {
        path.joined(separator: ".")
    }

    private static func goKind(_ value: JSONValue, literal: Bool = false) -> String {
        switch value {
        case .string: "string"
        case .bool: "bool"
        case .array: "array"
        case .object: "object"
        case .null: "null"
        case .int(let number): literal ? "number \(number)" : "number"
        case .double(let number): literal ? "number \(FieldError.goValue(.double(number)))" : "number"
        }
    }

    private static func jsonTypeName(_ value: JSONValue) -> String {
        switch value {
        case .string: "string"
        case .bool: "boolean"
        case .array: "array"
        case .object: "object"
        case .null: "null"
        case .int: "integer"
        case .double: "number"
        }
    }

    /// Go's `time.RFC3339` (Time) and `RFC3339Micro` (MicroTime) both accept fractional seconds.
    static func isRFC3339(_ text: String) -> Bool {
        Patterns.matches(text, #"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#)
    }

    /// Where Go's base64 decoder would stop, or nil for valid standard base64.
    static func invalidBase64Position(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        for (index, byte) in bytes.enumerated() {
            let valid = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2B || byte == 0x2F || byte == 0x3D
            if !valid { return index }
        }
        if Data(base64Encoded: text) == nil { return max(0, bytes.count - (bytes.count % 4 == 0 ? 1 : bytes.count % 4)) }
        return nil
    }
}

extension Schema {
    /// The Go struct a field belongs to, as decoding errors name it (`DeploymentSpec`).
    var goStructName: String {
        name.map { String($0.split(separator: ".").last ?? "") } ?? "Object"
    }
}

/// Kubernetes resource quantities (`100m`, `1Gi`, `2.5`, `1e3`).
enum Quantity {
    static let pattern = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

    static func isValid(_ text: String) -> Bool {
        Patterns.matches(text, pattern)
            && Patterns.matches(text, #"^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?\d+))?$"#)
    }
}
