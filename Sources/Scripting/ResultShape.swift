import JSON
import Scheduling

/// Checks the shape of a value a hook returned and reports the first problem with the plugin
/// file and the path of the offending field (`result.actions[2].cluster`).
struct ResultShape {
    let file: String

    func failure(_ field: String, _ message: String) -> PluginError {
        PluginError(.invalidResult(field: field), file: file, message: message)
    }

    /// The members of an object, refusing members not in `allowed`. A Lua `{}` is an empty object.
    func object(_ value: JSONValue, at field: String, allowed: [String]) throws(PluginError) -> [String: JSONValue] {
        guard case .object(let members) = value else {
            throw failure(field, "expected a table with named fields, got \(Self.describe(value))")
        }
        if members.keys.contains(where: { !allowed.contains($0) }) {
            for key in members.keys.sorted() where !allowed.contains(key) {
                throw failure(field + "." + key, "unknown field (expected \(Self.list(allowed)))")
            }
        }
        return members
    }

    /// The items of an array; an empty Lua table (`{}`) counts as an empty array.
    func array(_ value: JSONValue, at field: String) throws(PluginError) -> [JSONValue] {
        switch value {
        case .array(let items): return items
        case .object(let members) where members.isEmpty: return []
        default: throw failure(field, "expected a list, got \(Self.describe(value))")
        }
    }

    func string(_ members: [String: JSONValue], _ key: String, at field: String, required: Bool = false) throws(PluginError) -> String? {
        guard let value = members[key] else {
            if required { throw failure(field + "." + key, "missing (a string is required)") }
            return nil
        }
        guard case .string(let text) = value else {
            throw failure(field + "." + key, "expected a string, got \(Self.describe(value))")
        }
        if required, text.isEmpty { throw failure(field + "." + key, "must not be empty") }
        return text
    }

    func strings(_ members: [String: JSONValue], _ key: String, at field: String) throws(PluginError) -> [String] {
        guard let value = members[key] else { return [] }
        var texts: [String] = []
        for (position, item) in try array(value, at: field + "." + key).enumerated() {
            guard case .string(let text) = item, !text.isEmpty else {
                throw failure("\(field).\(key)[\(position + 1)]", "expected a non-empty string, got \(Self.describe(item))")
            }
            texts.append(text)
        }
        return texts
    }

    func choice<Choice: RawRepresentable & CaseIterable>(
        _ members: [String: JSONValue], _ key: String, at field: String, as type: Choice.Type, what: String = "value"
    ) throws(PluginError) -> Choice? where Choice.RawValue == String {
        guard let text = try string(members, key, at: field) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            throw failure(field + "." + key, "unknown \(what) \"\(text)\" (expected \(Self.list(Choice.allCases.map(\.rawValue))))")
        }
        return choice
    }

    func duration(_ members: [String: JSONValue], _ key: String, at field: String) throws(PluginError) -> Duration? {
        guard let text = try string(members, key, at: field) else { return nil }
        do {
            return try DurationText.parse(text)
        } catch {
            throw failure(field + "." + key, "\(error)")
        }
    }

    func bool(_ members: [String: JSONValue], _ key: String, at field: String) throws(PluginError) -> Bool? {
        guard let value = members[key] else { return nil }
        guard case .bool(let flag) = value else { throw failure(field + "." + key, "expected true or false, got \(Self.describe(value))") }
        return flag
    }

    func integer(_ members: [String: JSONValue], _ key: String, at field: String) throws(PluginError) -> Int64? {
        guard let value = members[key] else { return nil }
        guard let number = value.int else { throw failure(field + "." + key, "expected an integer, got \(Self.describe(value))") }
        return number
    }

    /// A Slack message: `text` (required), optional `blocks` (tables with a `type`), and the
    /// extra members `extra` allows.
    func slackMessage(_ value: JSONValue, at field: String, extra: [String]) throws(PluginError) -> JSONValue {
        let members = try object(value, at: field, allowed: ["text", "blocks"] + extra)
        _ = try string(members, "text", at: field, required: true)
        if let blocks = members["blocks"] {
            let items = try array(blocks, at: field + ".blocks")
            for (position, block) in items.enumerated() {
                let blockField = "\(field).blocks[\(position + 1)]"
                guard case .object(let blockMembers) = block else {
                    throw failure(blockField, "expected a Block Kit block (a table with a type), got \(Self.describe(block))")
                }
                _ = try string(blockMembers, "type", at: blockField, required: true)
            }
            var normalized = members
            normalized["blocks"] = .array(items)
            return .object(normalized)
        }
        return .object(members)
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "nil"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string(let text): "the string \"\(text.count > 40 ? String(text.prefix(40)) + "..." : text)\""
        case .array: "a list"
        case .object: "a table with named fields"
        }
    }

    static func list(_ names: [String]) -> String {
        switch names.count {
        case 0: return "nothing"
        case 1: return names[0]
        default: return names.dropLast().joined(separator: ", ") + " or " + names.last!
        }
    }
}
