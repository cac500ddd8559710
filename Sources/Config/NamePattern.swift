/// A shell-style name pattern: `*` matches any run of characters, `?` one character, everything
/// else itself. Used for namespace include/exclude lists and team namespaces.
public struct NamePattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    private let characters: [Character]

    public init(_ text: String) {
        self.text = text
        self.characters = Array(text)
    }

    public var description: String { text }

    public func matches(_ name: String) -> Bool {
        let name = Array(name)
        var p = 0, n = 0
        var starAt: Int?, resumeAt = 0
        while n < name.count {
            if p < characters.count, characters[p] == "?" || characters[p] == name[n] {
                p += 1; n += 1
            } else if p < characters.count, characters[p] == "*" {
                starAt = p; resumeAt = n; p += 1
            } else if let star = starAt {
                p = star + 1; resumeAt += 1; n = resumeAt
            } else {
                return false
            }
        }
        while p < characters.count, characters[p] == "*" { p += 1 }
        return p == characters.count
    }
}

extension Array where Element == NamePattern {
    public func matchesAny(_ name: String) -> Bool {
        contains { $0.matches(name) }
    }
}
