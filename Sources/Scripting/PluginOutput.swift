import JSON

/// A hook's result checked against its kind's contract and written the way test cases compare
/// it: a decision as `{action, reason}` (and `downtimeReplicas`, as text, when given) or null, a
/// Slack result with its lists as lists, a notification message or null.
enum PluginOutput {
    static func normalized(_ value: JSONValue?, kind: PluginKind, file: String) throws(PluginError) -> JSONValue {
        switch kind {
        case .policy, .team:
            guard let decision = try PolicyDecision.validate(value, file: file) else { return .null }
            var output: JSONValue = ["action": .string(decision.action.rawValue), "reason": .string(decision.reason)]
            if let replicas = decision.downtimeReplicas { output["downtimeReplicas"] = .string(replicas.description) }
            return output
        case .slackCommands:
            return try SlackCommandOutcome.validate(value, file: file).normalized
        case .notify:
            return try NotificationOutcome.validate(value, file: file) ?? .null
        }
    }

    /// Nil when `actual` matches `expected`, else where and how it differs. Objects match when
    /// every member of `expected` matches (other members are ignored; an expected null means
    /// absent or null); lists match item by item and must have the same length; numbers compare
    /// by value (`1` equals `1.0`); an empty list and an empty table are the same.
    static func mismatch(expected: JSONValue, actual: JSONValue, path: String = "output") -> String? {
        switch (expected, actual) {
        case (.object(let wanted), .object(let got)):
            for key in wanted.keys.sorted() {
                let wantedValue = wanted[key]!
                guard let gotValue = got[key] else {
                    if wantedValue == .null { continue }
                    return "\(path).\(key): missing, expected \(wantedValue.serialized())"
                }
                if let difference = mismatch(expected: wantedValue, actual: gotValue, path: "\(path).\(key)") { return difference }
            }
            return nil
        case (.array(let wanted), .array(let got)):
            guard wanted.count == got.count else {
                return "\(path): expected \(wanted.count) items, got \(got.count): \(actual.serialized())"
            }
            for (position, (wantedItem, gotItem)) in zip(wanted, got).enumerated() {
                if let difference = mismatch(expected: wantedItem, actual: gotItem, path: "\(path)[\(position + 1)]") { return difference }
            }
            return nil
        case (.array(let wanted), .object(let got)) where wanted.isEmpty && got.isEmpty:
            return nil
        case (.object(let wanted), .array(let got)) where wanted.isEmpty && got.isEmpty:
            return nil
        default:
            if let wantedNumber = expected.double, let gotNumber = actual.double, expected.string == nil, actual.string == nil {
                return wantedNumber == gotNumber ? nil : "\(path): expected \(expected.serialized()), got \(actual.serialized())"
            }
            return expected == actual ? nil : "\(path): expected \(expected.serialized()), got \(actual.serialized())"
        }
    }
}
