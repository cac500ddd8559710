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
        match(Array(name)) { symbol, character in symbol == "?" || symbol == character }
    }

    /// True when every name `other` matches, this pattern matches too: `other`'s text matched
    /// as if it were a name, where this pattern's `*` takes any run of `other`'s symbols (its
    /// wildcards included) and its `?` any one symbol but `*`. Never true wrongly; it may miss
    /// an equivalent spelling (`?*` against `*?`).
    public func covers(_ other: NamePattern) -> Bool {
        match(other.characters) { symbol, character in
            symbol != "*" && (symbol == character || symbol == "?" && character != "*")
        }
    }

    /// Matches `text` with this pattern's `*` (any run, by backtracking), every other symbol
    /// taking one character when `takes` says so.
    private func match(_ text: [Character], takes: (Character, Character) -> Bool) -> Bool {
        var p = 0, n = 0
        var starAt: Int?, resumeAt = 0
        while n < text.count {
            if p < characters.count, characters[p] != "*", takes(characters[p], text[n]) {
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
