import JSON

/// One reason an object is invalid, as kube-apiserver's `field.Error`: a field path, a type, the
/// bad value and a detail. Rendered into the `Invalid` (422) status and its `details.causes`.
struct FieldError: Sendable, Equatable {
    enum Kind: String, Sendable {
        case notFound = "FieldValueNotFound"
        case required = "FieldValueRequired"
        case duplicate = "FieldValueDuplicate"
        case invalid = "FieldValueInvalid"
        case notSupported = "FieldValueNotSupported"
        case forbidden = "FieldValueForbidden"
        case tooLong = "FieldValueTooLong"
        case tooMany = "FieldValueTooMany"

        var text: String {
            switch self {
            case .notFound: "Not found"
            case .required: "Required value"
            case .duplicate: "Duplicate value"
            case .invalid: "Invalid value"
            case .notSupported: "Unsupported value"
            case .forbidden: "Forbidden"
            case .tooLong: "Too long"
            case .tooMany: "Too many"
            }
        }
    }

    var kind: Kind
    var field: String
    /// The offending value; nil when the message does not show one.
    var value: JSONValue?
    var detail: String

    init(_ kind: Kind, _ field: String, value: JSONValue? = nil, detail: String = "") {
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail
    }

    static func invalid(_ field: String, _ value: JSONValue, _ detail: String) -> FieldError {
        FieldError(.invalid, field, value: value, detail: detail)
    }

    static func notSupported(_ field: String, _ value: JSONValue, _ supported: [String]) -> FieldError {
        FieldError(.notSupported, field, value: value, detail: "supported values: " + supported.map { "\"\($0)\"" }.joined(separator: ", "))
    }

    static func immutable(_ field: String, _ value: JSONValue) -> FieldError {
        .invalid(field, value, "field is immutable")
    }

    /// `field.Error.ErrorBody()`: the type, the value as Go prints it, and the detail.
    var body: String {
        var text = kind.text
        if let value, ![.required, .forbidden, .tooLong].contains(kind) {
            text += ": " + Self.goValue(value)
        }
        if !detail.isEmpty { text += ": " + detail }
        return text
    }

    var message: String { "\(field): \(body)" }

    static func goValue(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let flag): flag ? "true" : "false"
        case .int(let number): String(number)
        case .double(let number): number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .string(let text): "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .object(let members) where members.values.allSatisfy({ $0.string != nil }):
            // Go's %#v of a map[string]string.
            "map[string]string{" + members.keys.sorted().map { "\"\($0)\":\"\(members[$0]!.string!)\"" }.joined(separator: ", ") + "}"
        case .object(let members) where !members.isEmpty && Set(members.keys).isSubset(of: ["matchLabels", "matchExpressions"]):
            // Go's %#v of a *metav1.LabelSelector.
            "v1.LabelSelector{MatchLabels:\(members["matchLabels"].map(goValue) ?? "map[string]string(nil)"), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        case .array, .object: value.serialized()
        }
    }
}
