/// One field of a cron expression (`*`, `?`, `5`, `1-5`, `*/15`, `8-18/2`, names such as `Mon-Fri`,
/// and comma lists of those), expanded to the set of values it matches within its range.
///
/// The grammar is that of robfig/cron v3 (parser.go `getField` and `getRange`), which kube-green
/// parses SleepInfo schedules with: empty list items are ignored, names are matched without
/// regard to case, `N/step` runs from N to the end of the range, and `*` or `?` before a `-`
/// means the whole range.
public struct CronField: Sendable, Hashable, CustomStringConvertible {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "\"\(text)\": \(reason)" }
    }

    /// robfig/cron's day-of-week names (spec.go `dow`).
    public static let weekdayNames = ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]

    /// The matched values, ascending.
    public let values: [Int]
    public let text: String
    /// True for a bare `*` (or `?`): every value of the range.
    public let isWildcard: Bool

    /// - Parameter names: names that stand for values (lowercase), such as ``weekdayNames``.
    public init(parsing text: String, range: ClosedRange<Int>, names: [String: Int] = [:]) throws(ParseError) {
        // Leading and trailing spaces vanish when kube-green joins the fields into one spec; inner
        // ones split it into too many fields.
        let words = text.split(whereSeparator: \.isWhitespace)
        guard words.count <= 1 else { throw ParseError(text: text, reason: "spaces are not allowed inside a field") }
        let trimmed = words.first.map(String.init) ?? ""
        let items = trimmed.split(separator: ",")
        guard !items.isEmpty else { throw ParseError(text: text, reason: "empty") }
        var matched = Set<Int>()
        for item in items {
            matched.formUnion(try Self.expand(item, in: range, names: names, original: text))
        }
        self.values = matched.sorted()
        self.text = text
        self.isWildcard = trimmed == "*" || trimmed == "?"
    }

    public func contains(_ value: Int) -> Bool {
        values.contains(value)
    }

    public var description: String { text }

    private static func expand(_ item: Substring, in range: ClosedRange<Int>, names: [String: Int], original: String) throws(ParseError) -> Set<Int> {
        let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count <= 2 else { throw ParseError(text: original, reason: "more than one \"/\" in \"\(item)\"") }
        let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
        var low: Int
        var high: Int
        if bounds[0] == "*" || bounds[0] == "?" {
            (low, high) = (range.lowerBound, range.upperBound)
        } else {
            guard bounds.count <= 2 else { throw ParseError(text: original, reason: "more than one \"-\" in \"\(item)\"") }
            low = try value(bounds[0], names: names, original: original)
            high = bounds.count == 2 ? try value(bounds[1], names: names, original: original) : low
        }
        var step = 1
        if pieces.count == 2 {
            guard let parsed = Int(pieces[1]), parsed > 0 else {
                throw ParseError(text: original, reason: "step \"\(pieces[1])\" must be a positive number")
            }
            step = parsed
            // "5/15" means from 5 to the end of the range in steps of 15.
            if bounds.count == 1 { high = range.upperBound }
        }
        guard range.contains(low), range.contains(high) else {
            let outside = range.contains(low) ? high : low
            throw ParseError(text: original, reason: "\(outside) is outside \(range.lowerBound)-\(range.upperBound)")
        }
        guard low <= high else { throw ParseError(text: original, reason: "range \(low)-\(high) runs backwards") }
        return Set(stride(from: low, through: high, by: step))
    }

    private static func value(_ text: Substring, names: [String: Int], original: String) throws(ParseError) -> Int {
        if let named = names[text.lowercased()] { return named }
        guard let value = Int(text), value >= 0 else {
            let expected = names.isEmpty ? "a number" : "a number or a name (\(names.sorted { $0.value < $1.value }.map(\.key).joined(separator: ", ")))"
            throw ParseError(text: original, reason: "\"\(text)\" is not \(expected)")
        }
        return value
    }
}
