import Foundation

/// A request's query string read as kube-apiserver (Go's `url.ParseQuery`) reads it: `&`-separated
/// pairs, `+` as a space, percent escapes decoded. kubectl, client-go and pykube send set-based
/// selectors as `labelSelector=app+in+%28api%2Cworker%29`.
struct QueryParameters: Sendable {
    private var values: [String: [String]] = [:]

    init(_ query: String?) {
        for pair in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = Self.decode(parts[0])
            values[key, default: []].append(parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    /// The first value of a parameter; nil when absent or empty.
    subscript(name: String) -> String? {
        values[name]?.first.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// True for `1`/`true`, as kube-apiserver reads boolean parameters.
    func flag(_ name: String) -> Bool {
        ["1", "true", "True"].contains(self[name] ?? "")
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
