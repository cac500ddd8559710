import Yams

/// The text edit of `SleepInfoManifest`: where the parser's marks (1-based line and column, in
/// Unicode scalars) and a scan of the text say a value starts and ends, the annotation is set,
/// inserted or removed. Returns nil where the layout is not one it handles; the caller checks
/// every result by parsing it.
enum ManifestTextEdit {
    static func apply(key: String, value: String?, to segment: Segment, document root: Node) -> String? {
        var text = ScalarText(segment.text)
        guard let metadata = entry(root.mapping, "metadata"), let metadataMap = metadata.value.mapping else { return nil }
        let newline = segment.text.contains("\r\n") ? "\r\n" : "\n"
        // Yams reports every mapping's style wrongly (it reads the end event's): a flow mapping
        // is told by the `{` at its start.
        let flowMetadata = text.opensFlow(metadata.value)
        guard let annotations = entry(metadataMap, "annotations") else {
            guard let value else { return segment.text }
            let annotation = "\(key): \(quote(value))"
            let edited = flowMetadata
                ? text.appendToFlowMapping(metadata.value, entry: "annotations: {\(annotation)}")
                : text.insertIntoBlockMapping(metadataMap, lines: ["annotations:", "  " + annotation], newline: newline)
            return edited ? text.string : nil
        }
        guard let annotationsMap = annotations.value.mapping else { return nil }
        let flowAnnotations = text.opensFlow(annotations.value)
        if let current = entry(annotationsMap, key) {
            let edited = if let value {
                text.replaceScalar(current.value, with: quote(value), flow: flowAnnotations, keyColumn: current.key.mark?.column ?? 1)
            } else if flowAnnotations {
                text.removeFromFlowMapping(annotationsMap, key: key)
            } else if annotationsMap.count == 1, !flowMetadata {
                // The only annotation: `annotations:` goes with it.
                text.removeBlockLines(from: annotations.key, through: current.value)
            } else {
                text.removeBlockLines(from: current.key, through: current.value)
            }
            return edited ? text.string : nil
        }
        guard let value else { return segment.text }
        let annotation = "\(key): \(quote(value))"
        let edited = flowAnnotations
            ? text.prependToFlowMapping(annotations.value, entry: annotation, empty: annotationsMap.count == 0)
            : text.insertIntoBlockMapping(annotationsMap, lines: [annotation], newline: newline)
        return edited ? text.string : nil
    }

    /// The key and value of `name` in a mapping.
    static func entry(_ mapping: Node.Mapping?, _ name: String) -> (key: Node, value: Node)? {
        guard let mapping else { return nil }
        for (key, value) in mapping where key.scalar?.string == name { return (key, value) }
        return nil
    }

    /// A YAML single-quoted scalar (double-quoted when it holds a line break).
    static func quote(_ value: String) -> String {
        if value.contains(where: \.isNewline) {
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            return "\"\(escaped)\""
        }
        return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

/// A text as Unicode scalars with the offsets of its lines, edited in place.
struct ScalarText {
    private(set) var scalars: [Unicode.Scalar]
    private var lineStarts: [Int] = []

    init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        indexLines()
    }

    var string: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    private mutating func indexLines() {
        lineStarts = [0]
        for (index, scalar) in scalars.enumerated() where scalar == "\n" { lineStarts.append(index + 1) }
    }

    /// The offset of a parser mark.
    func offset(_ mark: Mark?) -> Int? {
        guard let mark, mark.line >= 1, mark.line <= lineStarts.count else { return nil }
        let offset = lineStarts[mark.line - 1] + mark.column - 1
        return offset <= scalars.count ? offset : nil
    }

    /// Whether a collection node is written in flow style (`{...}` or `[...]`).
    func opensFlow(_ node: Node) -> Bool {
        guard let start = offset(node.mark), start < scalars.count else { return false }
        return scalars[start] == "{" || scalars[start] == "["
    }

    private func lineStart(of offset: Int) -> Int {
        lineStarts.last { $0 <= offset } ?? 0
    }

    /// The offset just past the line holding `offset` (after its line break).
    private func lineEnd(of offset: Int) -> Int {
        var index = offset
        while index < scalars.count, scalars[index] != "\n" { index += 1 }
        return min(index + 1, scalars.count)
    }

    private func isBlank(_ range: Range<Int>) -> Bool {
        range.allSatisfy { scalars[$0] == " " || scalars[$0] == "\t" }
    }

    private mutating func replace(_ range: Range<Int>, with text: String) {
        scalars.replaceSubrange(range, with: Array(text.unicodeScalars))
        indexLines()
    }

    // MARK: Block mappings

    /// Inserts `lines` before the first key of a block mapping, at its indentation.
    mutating func insertIntoBlockMapping(_ mapping: Node.Mapping, lines: [String], newline: String) -> Bool {
        guard let first = mapping.first?.key, let keyOffset = offset(first.mark) else { return false }
        let start = lineStart(of: keyOffset)
        guard isBlank(start..<keyOffset) else { return false }
        let indent = String(repeating: " ", count: keyOffset - start)
        replace(start..<start, with: lines.map { indent + $0 + newline }.joined())
        return true
    }

    /// Removes the lines from `key`'s through those of `value` (a scalar), when nothing else shares them.
    mutating func removeBlockLines(from key: Node, through value: Node) -> Bool {
        guard let keyOffset = offset(key.mark), let valueEnd = scalarEnd(value, flow: false, keyColumn: key.mark?.column ?? 1) else { return false }
        let start = lineStart(of: keyOffset)
        let end = lineEnd(of: max(valueEnd - 1, keyOffset))
        guard isBlank(start..<keyOffset), restIsBlankOrComment(from: valueEnd) else { return false }
        replace(start..<end, with: "")
        return true
    }

    private func restIsBlankOrComment(from offset: Int) -> Bool {
        var index = offset
        while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 }
        return index >= scalars.count || scalars[index] == "\n" || scalars[index] == "\r" || scalars[index] == "#"
    }

    // MARK: Scalars

    mutating func replaceScalar(_ value: Node, with text: String, flow: Bool, keyColumn: Int) -> Bool {
        guard let start = offset(value.mark), let end = scalarEnd(value, flow: flow, keyColumn: keyColumn), start <= end else { return false }
        replace(start..<end, with: text)
        return true
    }

    /// Where a scalar value ends: past its closing quote, or (plain) before a comment, a flow
    /// indicator or the line's end. Nil for block scalars and plain scalars over several lines.
    func scalarEnd(_ value: Node, flow: Bool, keyColumn: Int) -> Int? {
        guard let scalar = value.scalar, let start = offset(value.mark) else { return nil }
        switch scalar.style {
        case .singleQuoted:
            var index = start + 1
            while index < scalars.count {
                if scalars[index] == "'" {
                    if index + 1 < scalars.count, scalars[index + 1] == "'" { index += 2; continue }
                    return index + 1
                }
                index += 1
            }
            return nil
        case .doubleQuoted:
            var index = start + 1
            while index < scalars.count {
                if scalars[index] == "\\" { index += 2; continue }
                if scalars[index] == "\"" { return index + 1 }
                index += 1
            }
            return nil
        case .plain, .any:
            var index = start
            while index < scalars.count, scalars[index] != "\n", scalars[index] != "\r" {
                if scalars[index] == "#", index > start, scalars[index - 1] == " " || scalars[index - 1] == "\t" { break }
                if flow, [",", "}", "]"].contains(scalars[index]) { break }
                index += 1
            }
            while index > start, scalars[index - 1] == " " || scalars[index - 1] == "\t" { index -= 1 }
            if !flow, continuesOnNextLine(after: index, keyColumn: keyColumn) { return nil }
            return index
        default:
            return nil
        }
    }

    /// Whether the next non-blank line is indented past the key (a plain scalar over several lines).
    private func continuesOnNextLine(after offset: Int, keyColumn: Int) -> Bool {
        var line = lineEnd(of: offset)
        while line < scalars.count {
            var index = line
            while index < scalars.count, scalars[index] == " " { index += 1 }
            if index >= scalars.count { return false }
            if scalars[index] == "\n" || scalars[index] == "\r" || scalars[index] == "#" {
                line = lineEnd(of: index)
                continue
            }
            return index - line >= keyColumn
        }
        return false
    }

    // MARK: Flow mappings

    /// Adds `entry` first in a flow mapping (`{entry, ...}`).
    mutating func prependToFlowMapping(_ mapping: Node, entry: String, empty: Bool) -> Bool {
        guard let open = offset(mapping.mark), open < scalars.count, scalars[open] == "{" else { return false }
        replace(open + 1..<open + 1, with: empty ? entry : entry + ", ")
        return true
    }

    /// Adds `entry` last in a flow mapping (`{..., entry}`).
    mutating func appendToFlowMapping(_ mapping: Node, entry: String) -> Bool {
        guard let open = offset(mapping.mark), let close = matchingClose(from: open) else { return false }
        var last = close
        while last > open + 1, [" ", "\t", "\n", "\r"].contains(scalars[last - 1]) { last -= 1 }
        let empty = last == open + 1
        let separator = empty || scalars[last - 1] == "," ? (empty ? "" : " ") : ", "
        replace(last..<last, with: separator + entry)
        return true
    }

    /// Removes `key` and its value from a flow mapping, with one comma.
    mutating func removeFromFlowMapping(_ mapping: Node.Mapping, key: String) -> Bool {
        let pairs = Array(mapping)
        guard let index = pairs.firstIndex(where: { $0.key.scalar?.string == key }), let start = offset(pairs[index].key.mark),
              let end = scalarEnd(pairs[index].value, flow: true, keyColumn: 1)
        else { return false }
        if index + 1 < pairs.count {
            guard let next = offset(pairs[index + 1].key.mark) else { return false }
            replace(start..<next, with: "")
        } else if index > 0 {
            var comma = start
            while comma > 0, scalars[comma - 1] != "," { comma -= 1 }
            guard comma > 0 else { return false }
            replace(comma - 1..<end, with: "")
        } else {
            replace(start..<end, with: "")
        }
        return true
    }

    /// The offset of the `}` or `]` closing the collection opened at `open`.
    private func matchingClose(from open: Int) -> Int? {
        guard open < scalars.count, scalars[open] == "{" || scalars[open] == "[" else { return nil }
        var depth = 0
        var index = open
        while index < scalars.count {
            switch scalars[index] {
            case "{", "[":
                depth += 1
            case "}", "]":
                depth -= 1
                if depth == 0 { return index }
            case "'":
                index += 1
                while index < scalars.count, !(scalars[index] == "'" && (index + 1 >= scalars.count || scalars[index + 1] != "'")) {
                    index += scalars[index] == "'" ? 2 : 1
                }
            case "\"":
                index += 1
                while index < scalars.count, scalars[index] != "\"" { index += scalars[index] == "\\" ? 2 : 1 }
            case "#" where index > 0 && [" ", "\t", "\n"].contains(scalars[index - 1]):
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
            default:
                break
            }
            index += 1
        }
        return nil
    }
}
