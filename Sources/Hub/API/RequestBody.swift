import Config
import Foundation
import JSON
import Scheduling

/// A JSON object body read field by field, as the configuration loader reads its files: a field
/// of the wrong type is refused naming it, and `finish()` refuses every field nobody read (a typo
/// such as `durtion` is a 400 with "did you mean", never a silent default).
struct RequestBody {
    private let members: [String: JSONValue]
    private var read: Set<String> = []

    init(_ members: [String: JSONValue]) {
        self.members = members
    }

    /// Whether the field is present and not null; it counts as read.
    private mutating func has(_ key: String) -> Bool {
        read.insert(key)
        return members[key].map { $0 != .null } ?? false
    }

    mutating func string(_ key: String) throws(HubError) -> String? {
        guard has(key), let value = members[key] else { return nil }
        guard let text = value.string else { throw .badRequest("\(key) must be a string", field: key) }
        return text
    }

    mutating func strings(_ key: String) throws(HubError) -> [String] {
        guard has(key), let value = members[key] else { return [] }
        guard let items = value.array, items.allSatisfy({ $0.string != nil }) else { throw .badRequest("\(key) must be a list of strings", field: key) }
        return items.compactMap(\.string)
    }

    mutating func bool(_ key: String) throws(HubError) -> Bool? {
        guard has(key), let value = members[key] else { return nil }
        guard let flag = value.bool else { throw .badRequest("\(key) must be true or false", field: key) }
        return flag
    }

    /// A positive duration such as "2h".
    mutating func duration(_ key: String) throws(HubError) -> Duration? {
        guard let text = try string(key) else { return nil }
        let duration: Duration
        do { duration = try DurationText.parse(text) } catch { throw .badRequest("\(key): \(error)", field: key) }
        guard duration > .zero else { throw .badRequest("\(key) must be positive", field: key) }
        return duration
    }

    /// An RFC 3339 time.
    mutating func time(_ key: String) throws(HubError) -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = try? Date(text, strategy: .iso8601) else { throw .badRequest("\(key) must be an RFC 3339 time such as 2027-01-04T22:00:00Z", field: key) }
        return date
    }

    /// Refuses the fields nobody read, the first one named (with the closest known name).
    func finish() throws(HubError) {
        guard let unknown = members.keys.filter({ !read.contains($0) }).sorted().first else { return }
        let hint = closestName(to: unknown, among: read).map { "; did you mean \"\($0)\"?" } ?? "; known fields: \(read.sorted().joined(separator: ", "))"
        throw .badRequest("unknown field \"\(unknown)\"\(hint)", field: unknown)
    }
}
