import Foundation
import JSON

/// A parsed `labelSelector` query: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`.
struct LabelSelector: Sendable, Equatable {
    enum Requirement: Sendable, Equatable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)

        func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .in(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }

    var requirements: [Requirement]

    static let everything = LabelSelector(requirements: [])

    init(requirements: [Requirement]) {
        self.requirements = requirements
    }

    init(parsing text: String) throws(APIError) {
        var requirements: [Requirement] = []
        for term in Self.splitTerms(text) {
            let trimmed = term.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            requirements.append(try Self.parseTerm(trimmed, in: text))
        }
        self.requirements = requirements
    }

    func matches(_ object: JSONValue) -> Bool {
        let labels = (object[path: ["metadata", "labels"]]?.object ?? [:]).compactMapValues(\.string)
        return requirements.allSatisfy { $0.matches(labels) }
    }

    /// Splits on commas that are not inside `( )`.
    private static func splitTerms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1; current.append(character)
            case ")": depth -= 1; current.append(character)
            case "," where depth == 0: terms.append(current); current = ""
            default: current.append(character)
            }
        }
        terms.append(current)
        return terms
    }

    private static func parseTerm(_ term: String, in selector: String) throws(APIError) -> Requirement {
        let invalid = APIError.badRequest("unable to parse requirement: \"\(term)\" in label selector \"\(selector)\"")
        if term.hasPrefix("!") {
            let key = String(term.dropFirst()).trimmingCharacters(in: .whitespaces)
            guard isValidKey(key) else { throw invalid }
            return .doesNotExist(key)
        }
        for (op, make) in [("!=", Requirement.notEquals), ("==", Requirement.equals), ("=", Requirement.equals)] {
            if let range = term.range(of: op) {
                let key = term[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let value = term[range.upperBound...].trimmingCharacters(in: .whitespaces)
                guard isValidKey(key), isValidValue(value) else { throw invalid }
                return make(key, value)
            }
        }
        let words = term.split(separator: " ", maxSplits: 1).map(String.init)
        if words.count == 2 {
            let rest = words[1].trimmingCharacters(in: .whitespaces)
            for (op, isIn) in [("notin", false), ("in", true)] where rest.hasPrefix(op) {
                let list = rest.dropFirst(op.count).trimmingCharacters(in: .whitespaces)
                guard list.hasPrefix("("), list.hasSuffix(")"), isValidKey(words[0]) else { throw invalid }
                let values = Set(list.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                guard !values.isEmpty, values.allSatisfy(isValidValue) else { throw invalid }
                return isIn ? .in(words[0], values) : .notIn(words[0], values)
            }
            throw invalid
        }
        guard isValidKey(term) else { throw invalid }
        return .exists(term)
    }

    private static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.count <= 317 && key.allSatisfy { $0.isLetter || $0.isNumber || "-_./".contains($0) }
    }

    private static func isValidValue(_ value: String) -> Bool {
        value.count <= 63 && value.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
    }
}

/// A parsed `fieldSelector` query on the fields a kind supports (`metadata.name`, `metadata.namespace`, ...).
struct FieldSelector: Sendable {
    struct Requirement: Sendable {
        var path: [String]
        var value: String
        var negated: Bool
    }

    var requirements: [Requirement]

    static let everything = FieldSelector(requirements: [])

    init(requirements: [Requirement]) {
        self.requirements = requirements
    }

    /// Fields every kind supports, plus the per-kind ones kube-apiserver indexes.
    static func supportedFields(for kind: String) -> Set<String> {
        var fields: Set<String> = ["metadata.name", "metadata.namespace"]
        switch kind {
        case "Pod": fields.formUnion(["spec.nodeName", "status.phase", "spec.restartPolicy", "spec.serviceAccountName"])
        case "Event": fields.formUnion(["involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid", "reason", "type", "source"])
        case "Secret": fields.insert("type")
        case "Namespace": fields.insert("status.phase")
        default: break
        }
        return fields
    }

    init(parsing text: String, kind: String) throws(APIError) {
        var requirements: [Requirement] = []
        let supported = Self.supportedFields(for: kind)
        for term in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !term.isEmpty {
            var parsed: Requirement?
            for (op, negated) in [("!=", true), ("==", false), ("=", false)] {
                guard let range = term.range(of: op) else { continue }
                let field = term[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                guard supported.contains(field) else {
                    throw APIError.badRequest("\"\(field)\" is not a known field selector: only \"\(supported.sorted().joined(separator: "\", \""))\"")
                }
                parsed = Requirement(path: field.split(separator: ".").map(String.init), value: term[range.upperBound...].trimmingCharacters(in: .whitespaces), negated: negated)
                break
            }
            guard let parsed else { throw APIError.badRequest("invalid field selector: \"\(term)\"") }
            requirements.append(parsed)
        }
        self.requirements = requirements
    }

    func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            let actual = object[path: requirement.path]?.string ?? ""
            return (actual == requirement.value) != requirement.negated
        }
    }
}
