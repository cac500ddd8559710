import Foundation
import Synchronization

/// Regular expressions compiled once: `String.range(of:options: .regularExpression)` compiles its
/// pattern on every call, which was a tenth of the simulator's time answering patches.
enum Patterns {
    private static let compiled = Mutex<[String: NSRegularExpression]>([:])

    private static func expression(_ pattern: String) -> NSRegularExpression? {
        if let cached = compiled.withLock({ $0[pattern] }) { return cached }
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        compiled.withLock { $0[pattern] = expression }
        return expression
    }

    /// Whether `pattern` matches somewhere in `text` (anchor it for a whole match); an invalid
    /// pattern matches nothing.
    static func matches(_ text: String, _ pattern: String) -> Bool {
        guard let expression = expression(pattern) else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// `text` with every match of `pattern` replaced by `replacement`.
    static func replacing(_ pattern: String, in text: String, with replacement: String) -> String {
        guard let expression = expression(pattern) else { return text }
        return expression.stringByReplacingMatches(
            in: text, range: NSRange(text.startIndex..., in: text), withTemplate: NSRegularExpression.escapedTemplate(for: replacement)
        )
    }
}
