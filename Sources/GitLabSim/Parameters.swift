import Foundation
import JSON

/// The parameters of one API request as Grape sees them: the query string, a JSON body and a
/// form body (with Rack's `actions[][file_path]=...` nesting) merged into one object, the body
/// winning over the query.
struct Parameters: Sendable {
    private(set) var values: [String: JSONValue]

    init(_ values: [String: JSONValue] = [:]) {
        self.values = values
    }

    init(query: String?, body: Data, contentType: String?) throws(GitLabError) {
        var merged = Self.form(query ?? "")
        guard !body.isEmpty else {
            values = merged
            return
        }
        let type = contentType?.lowercased() ?? ""
        if type.hasPrefix("application/x-www-form-urlencoded") {
            merged.merge(Self.form(String(decoding: body, as: UTF8.self))) { $1 }
        } else {
            // GitLab reads any other body as JSON (clients often send none or a wrong type).
            guard let parsed = try? JSONValue(parsing: body) else {
                throw .invalid("The provided content-type '\(contentType ?? "")' is not supported.")
            }
            guard let object = parsed.object else { throw .invalid("body must be a JSON object") }
            merged.merge(object) { $1 }
        }
        values = merged
    }

    subscript(name: String) -> JSONValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// A string parameter; numbers and booleans are turned into text as Grape coerces them.
    func string(_ name: String) -> String? {
        switch values[name] {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): String(number)
        case .bool(let flag): String(flag)
        default: nil
        }
    }

    /// A string parameter that must not be empty when present.
    func nonEmptyString(_ name: String) -> String? {
        string(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Grape's Boolean coercion: true/false, 1/0, "true"/"false" (any case), "1"/"0".
    func bool(_ name: String) throws(GitLabError) -> Bool? {
        switch values[name] {
        case nil, .null: return nil
        case .bool(let flag): return flag
        case .int(let number) where number == 0 || number == 1: return number == 1
        case .string(let text):
            switch text.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: break
            }
        default: break
        }
        throw .invalid("\(name) is invalid")
    }

    func int(_ name: String) throws(GitLabError) -> Int? {
        switch values[name] {
        case nil, .null: return nil
        case .int(let number): return Int(number)
        case .string(let text):
            if let number = Int(text) { return number }
        default: break
        }
        throw .invalid("\(name) is invalid")
    }

    /// An array of integers, given as a JSON array, repeated `name[]` form fields or a comma list.
    func ints(_ name: String) throws(GitLabError) -> [Int]? {
        switch values[name] {
        case nil, .null: return nil
        case .array(let items):
            var numbers: [Int] = []
            for item in items {
                guard let number = item.int.map({ Int($0) }) ?? item.string.flatMap({ Int($0) }) else { throw .invalid("\(name) is invalid") }
                numbers.append(number)
            }
            return numbers
        case .int(let number): return [Int(number)]
        case .string(let text):
            let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.allSatisfy({ $0 != nil }) else { throw .invalid("\(name) is invalid") }
            return parts.compactMap { $0 }
        default: throw .invalid("\(name) is invalid")
        }
    }

    /// A list of strings given as an array or a comma-separated list (`labels`).
    func strings(_ name: String) -> [String]? {
        switch values[name] {
        case .array(let items): return items.compactMap(\.string)
        case .string(let text):
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        default: return nil
        }
    }

    /// Throws Grape's `a is missing, b is missing` for the required parameters that are absent.
    func require(_ names: String...) throws(GitLabError) {
        let missing = names.filter { name in
            switch values[name] {
            case nil, .null: true
            default: false
            }
        }
        if !missing.isEmpty { throw .missing(missing) }
    }

    /// A required text parameter: missing is `<name> is missing`, a list or object `<name> is invalid`.
    func required(_ name: String) throws(GitLabError) -> String {
        switch values[name] {
        case nil, .null: throw .missing([name])
        default:
            guard let text = string(name) else { throw .invalid("\(name) is invalid") }
            return text
        }
    }

    // MARK: Form and query decoding

    /// Decodes `application/x-www-form-urlencoded` text with Rack's bracket nesting:
    /// `a=1`, `a[]=1&a[]=2`, `a[b]=1`, `a[][b]=1&a[][c]=2` (a new array element starts when a key repeats).
    static func form(_ text: String) -> [String: JSONValue] {
        var root: JSONValue = .emptyObject
        for pair in text.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            insert(.string(value), at: keyPath(key), into: &root)
        }
        return root.object ?? [:]
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// `actions[][file_path]` → ["actions", "", "file_path"]; an empty segment means "append".
    private static func keyPath(_ key: String) -> [String] {
        guard let open = key.firstIndex(of: "[") else { return [key] }
        var path = [String(key[..<open])]
        var rest = key[open...]
        while rest.first == "[", let close = rest.firstIndex(of: "]") {
            path.append(String(rest[rest.index(after: rest.startIndex)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return path
    }

    private static func insert(_ value: JSONValue, at path: [String], into node: inout JSONValue) {
        guard let head = path.first else {
            node = value
            return
        }
        let rest = Array(path.dropFirst())
        if head.isEmpty {
            var items = node.array ?? []
            // Rack: `a[][k]` adds to the last element unless it already has `k`.
            if let next = rest.first, !next.isEmpty, var last = items.last, last.object != nil, last[next] == nil {
                insert(value, at: rest, into: &last)
                items[items.count - 1] = last
            } else {
                var element: JSONValue = rest.isEmpty ? .null : .emptyObject
                insert(value, at: rest, into: &element)
                items.append(element)
            }
            node = .array(items)
            return
        }
        var members = node.object ?? [:]
        var child = members[head] ?? (rest.first == "" ? .array([]) : .emptyObject)
        insert(value, at: rest, into: &child)
        members[head] = child
        node = .object(members)
    }
}
