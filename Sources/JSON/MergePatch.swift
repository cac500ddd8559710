/// RFC 7386 JSON Merge Patch: objects merge member by member, `null` removes a member, anything
/// else (arrays included) replaces.
public enum MergePatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result = target.object ?? [:]
        for (key, value) in patchMembers {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }

    /// The smallest merge patch that turns `original` into `target`: `apply(diff(a, b), to: a) == b`
    /// for objects without null members.
    public static func diff(from original: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let before) = original, case .object(let after) = target else { return target }
        var patch: [String: JSONValue] = [:]
        for (key, value) in after where before[key] != value {
            if let old = before[key], old.object != nil, value.object != nil {
                patch[key] = diff(from: old, to: value)
            } else {
                patch[key] = value
            }
        }
        for key in before.keys where after[key] == nil {
            patch[key] = .null
        }
        return .object(patch)
    }
}
