import Foundation

/// Durations as people write them: `90s`, `10m`, `2h30m`, `1d`, `50ms`. Units are `ms`, `s`, `m`,
/// `h` and `d` (24 hours); several parts add up, and each unit may appear once, largest first.
public enum DurationText {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "invalid duration \"\(text)\": \(reason) (examples: 90s, 10m, 2h30m, 1d)" }
    }

    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    public static func parse(_ text: String) throws -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { throw ParseError(text: text, reason: "empty") }
        if trimmed == "0" { return .zero }
        var total: Int64 = 0
        var rest = Substring(trimmed)
        var lastRank = -1
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isASCIIDigitCharacter)
            guard !digits.isEmpty, let amount = Int64(digits) else {
                throw ParseError(text: text, reason: "expected a number at \"\(rest)\"")
            }
            rest = rest.dropFirst(digits.count)
            let suffix = rest.prefix(while: { $0.isLetter })
            guard let rank = units.firstIndex(where: { $0.suffix == suffix }) else {
                throw ParseError(text: text, reason: suffix.isEmpty ? "missing unit after \(digits)" : "unknown unit \"\(suffix)\"")
            }
            guard rank > lastRank else { throw ParseError(text: text, reason: "units must go from largest to smallest, once each") }
            lastRank = rank
            let (product, overflow) = amount.multipliedReportingOverflow(by: units[rank].milliseconds)
            guard !overflow, total <= Int64.max - product else { throw ParseError(text: text, reason: "too long") }
            total += product
            rest = rest.dropFirst(suffix.count)
        }
        return .milliseconds(total)
    }

    /// The shortest text that `parse` reads back, in whole seconds or above when there are no
    /// milliseconds: `3h12m`, `1d2h`, `45s`, `250ms`, `0s`.
    public static func format(_ duration: Duration) -> String {
        var remaining = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        guard remaining > 0 else { return remaining == 0 ? "0s" : "-" + format(.milliseconds(-remaining)) }
        var text = ""
        for unit in units where remaining >= unit.milliseconds {
            text += "\(remaining / unit.milliseconds)\(unit.suffix)"
            remaining %= unit.milliseconds
        }
        return text
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
