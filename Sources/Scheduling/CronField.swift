/// One field of a cron expression (`*`, `5`, `1-5`, `*/15`, `8-18/2`, and comma lists of those),
/// expanded to the set of values it matches within its range.
public struct CronField: Sendable, Hashable, CustomStringConvertible {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "\"\(text)\": \(reason)" }
    }

    /// The matched values, ascending.
    public let values: [Int]
    public let text: String
    /// True for a bare `*`: every value of the range.
    public let isWildcard: Bool

    public init(parsing text: String, range: ClosedRange<Int>) throws(ParseError) {
        let trimmed = text.filter { $0 != " " }
        guard !trimmed.isEmpty else { throw ParseError(text: text, reason: "empty") }
        var matched = Set<Int>()
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            matched.formUnion(try Self.expand(part, in: range, original: text))
        }
        self.values = matched.sorted()
        self.text = text
        self.isWildcard = trimmed == "*"
    }

    public func contains(_ value: Int) -> Bool {
        values.contains(value)
    }

    public var description: String { text }

    private static func expand(_ part: Substring, in range: ClosedRange<Int>, original: String) throws(ParseError) -> Set<Int> {
        guard !part.isEmpty else { throw ParseError(text: original, reason: "empty item in list") }
        let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count <= 2 else { throw ParseError(text: original, reason: "more than one \"/\" in \"\(part)\"") }
        var step = 1
        if pieces.count == 2 {
            guard let parsed = Int(pieces[1]), parsed > 0 else {
                throw ParseError(text: original, reason: "step \"\(pieces[1])\" must be a positive number")
            }
            step = parsed
        }
        let base = pieces[0]
        let bounds: ClosedRange<Int>
        if base == "*" {
            bounds = range
        } else if let dash = base.firstIndex(of: "-") {
            let low = try number(base[..<dash], in: range, original: original)
            let high = try number(base[base.index(after: dash)...], in: range, original: original)
            guard low <= high else { throw ParseError(text: original, reason: "range \(low)-\(high) runs backwards") }
            bounds = low...high
        } else {
            let single = try number(base, in: range, original: original)
            // "5/15" means from 5 to the end of the range in steps of 15, as in Vixie cron.
            bounds = pieces.count == 2 ? single...range.upperBound : single...single
        }
        return Set(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
    }

    private static func number(_ text: Substring, in range: ClosedRange<Int>, original: String) throws(ParseError) -> Int {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text) else {
            throw ParseError(text: original, reason: "\"\(text)\" is not a number")
        }
        guard range.contains(value) else {
            throw ParseError(text: original, reason: "\(value) is outside \(range.lowerBound)-\(range.upperBound)")
        }
        return value
    }
}
