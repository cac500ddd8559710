import Foundation
import Scheduling
import Yams

/// Collects the issues of one load, across files.
final class ConfigDiagnostics {
    private(set) var issues: [ConfigIssue] = []

    private(set) var warnings: [ConfigIssue] = []

    func report(_ issue: ConfigIssue) {
        issues.append(issue)
    }

    func warn(_ issue: ConfigIssue) {
        warnings.append(issue)
    }
}

/// A position in a YAML document being read into typed configuration. Reading a field marks it
/// as known; `rejectUnknownFields()` then reports the fields nobody read (typos, misplaced keys).
/// Wrong types are reported with the file, line and field path, and the reader carries on with
/// the default so that one load reports every problem.
final class ConfigNode {
    let file: String
    let path: String
    let node: Node?
    let diagnostics: ConfigDiagnostics
    /// The line of the value, else (an absent field) of the mapping it is missing from.
    let line: Int?
    private var readKeys: Set<String> = []

    init(file: String, path: String, node: Node?, diagnostics: ConfigDiagnostics, parentLine: Int? = nil) {
        self.file = file
        self.path = path
        self.node = node
        self.diagnostics = diagnostics
        line = node?.mark?.line ?? parentLine
    }

    /// True when the value is present and not YAML null.
    var isPresent: Bool {
        guard let node else { return false }
        if case .scalar(let scalar) = node, scalar.style == .plain {
            return !["", "~", "null", "Null", "NULL"].contains(scalar.string)
        }
        return true
    }

    func report(_ message: String) {
        diagnostics.report(ConfigIssue(file: file, line: line, field: path, message: message))
    }

    func warn(_ message: String) {
        diagnostics.warn(ConfigIssue(file: file, line: line, field: path, message: message))
    }

    private var kindDescription: String {
        switch node {
        case .none: "nothing"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar): "\"\(scalar.string)\""
        }
    }

    // MARK: Structure

    /// The value under `key` of this mapping (absent when this is not a mapping; reported once by
    /// `rejectUnknownFields` or by the caller asking for a mapping).
    subscript(key: String) -> ConfigNode {
        readKeys.insert(key)
        let child: Node? = if case .mapping(let mapping) = node { mapping[key] } else { nil }
        return ConfigNode(file: file, path: path.isEmpty ? key : "\(path).\(key)", node: child, diagnostics: diagnostics, parentLine: line)
    }

    /// Reports a present value that is not a mapping; true when it is a usable mapping.
    @discardableResult
    func expectMapping() -> Bool {
        guard isPresent else { return false }
        if case .mapping = node { return true }
        report("expected a mapping of fields, got \(kindDescription)")
        return false
    }

    /// The items of a list; a present non-list is reported and reads as empty.
    func items() -> [ConfigNode] {
        guard isPresent else { return [] }
        guard case .sequence(let sequence) = node else {
            report("expected a list, got \(kindDescription)")
            return []
        }
        return sequence.enumerated().map { index, item in
            ConfigNode(file: file, path: "\(path)[\(index)]", node: item, diagnostics: diagnostics, parentLine: line)
        }
    }

    /// Keys of a mapping in document order.
    var keys: [String] {
        guard case .mapping(let mapping) = node else { return [] }
        return mapping.keys.compactMap(\.string)
    }

    /// Reports every field of this mapping that was never read, suggesting close known names.
    func rejectUnknownFields() {
        guard case .mapping(let mapping) = node else { return }
        for key in mapping.keys {
            let name = key.string ?? ""
            guard !readKeys.contains(name) else { continue }
            let fieldPath = path.isEmpty ? name : "\(path).\(name)"
            var message = "unknown field"
            if let suggestion = closestName(to: name, among: readKeys) {
                message += "; did you mean \"\(suggestion)\"?"
            } else if !readKeys.isEmpty {
                message += "; known fields: \(readKeys.sorted().joined(separator: ", "))"
            }
            diagnostics.report(ConfigIssue(file: file, line: key.mark?.line, field: fieldPath, message: message))
        }
    }

    // MARK: Scalars

    private var scalarText: String? {
        guard isPresent else { return nil }
        guard case .scalar(let scalar) = node else {
            report("expected a single value, got \(kindDescription)")
            return nil
        }
        return scalar.string
    }

    func string() -> String? {
        scalarText
    }

    func string(default value: String) -> String {
        string() ?? value
    }

    /// A present string that must not be empty.
    func nonEmptyString() -> String? {
        guard let text = string() else { return nil }
        if text.trimmingCharacters(in: .whitespaces).isEmpty {
            report("must not be empty")
            return nil
        }
        return text
    }

    func bool() -> Bool? {
        guard let text = scalarText else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report("expected true or false, got \"\(text)\"")
            return nil
        }
    }

    func bool(default value: Bool) -> Bool {
        bool() ?? value
    }

    func int(default value: Int, in range: ClosedRange<Int>) -> Int {
        guard let text = scalarText else { return value }
        guard let number = Int(text) else {
            report("expected a whole number, got \"\(text)\"")
            return value
        }
        guard range.contains(number) else {
            report("must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
            return value
        }
        return number
    }

    func double(default value: Double, atLeast minimum: Double) -> Double {
        guard let text = scalarText else { return value }
        guard let number = Double(text), number.isFinite else {
            report("expected a number, got \"\(text)\"")
            return value
        }
        guard number >= minimum else {
            report("must be at least \(minimum), got \(text)")
            return value
        }
        return number
    }

    func duration(default value: Duration, atLeast minimum: Duration = .zero) -> Duration {
        guard let text = scalarText else { return value }
        do {
            let parsed = try DurationText.parse(text)
            guard parsed >= minimum else {
                report("must be at least \(DurationText.format(minimum)), got \(text)")
                return value
            }
            return parsed
        } catch {
            report("\(error)")
            return value
        }
    }

    func oneOf<Value: RawRepresentable & CaseIterable>(_ type: Value.Type) -> Value? where Value.RawValue == String {
        guard let text = scalarText else { return nil }
        if let value = Value(rawValue: text) { return value }
        report("expected one of \(Value.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
        return nil
    }

    /// A list of strings; a single string is accepted as a list of one.
    func stringList() -> [String] {
        guard isPresent else { return [] }
        if case .scalar = node { return string().map { [$0] } ?? [] }
        return items().compactMap { $0.nonEmptyString() }
    }
}

/// The known name within two edits of `name` (the closest), for "did you mean" suggestions; the
/// configuration loader and the API share it.
package func closestName(to name: String, among known: some Collection<String>) -> String? {
    guard let best = known.sorted().min(by: { editDistance($0, name) < editDistance($1, name) }) else { return nil }
    return editDistance(best, name) <= 2 ? best : nil
}

/// Levenshtein distance, for "did you mean" suggestions on short field names.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
