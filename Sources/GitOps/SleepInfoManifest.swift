import Foundation
import JSON
import Yams

/// Reads and edits one annotation of the SleepInfos of a namespace in a manifest file (one or
/// several YAML documents), keeping the rest of the text byte for byte where it can: the edit is
/// made in the text (a line inserted, a value replaced, an entry of a flow mapping added) and
/// checked by parsing the result. When the layout defeats that (block scalars, odd nesting),
/// the edited document alone is written anew, and `preservedLayout` says so.
public enum SleepInfoManifest {
    public struct Edit: Sendable, Equatable {
        public var text: String
        /// The SleepInfos edited (their `metadata.name`).
        public var sleepInfos: [String]
        /// Whether the text edit held; false when a document had to be written anew.
        public var preservedLayout: Bool
        /// Whether the text changed at all.
        public var changed: Bool
    }

    public struct ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The SleepInfos of `namespace` in the file (those without a namespace count, the file's
    /// place implying it), each with the current value of `key`.
    public static func annotations(_ key: String, in text: String, namespace: String) throws(ManifestError) -> [(name: String, value: String?)] {
        var found: [(name: String, value: String?)] = []
        for segment in Segment.split(text) {
            guard let document = try segment.document(), isSleepInfo(document.value, namespace: namespace) else { continue }
            found.append((document.value[path: ["metadata", "name"]]?.string ?? "", document.value[path: ["metadata", "annotations", key]]?.string))
        }
        return found
    }

    /// The file with `key` set to `value` (removed when nil) on every SleepInfo of `namespace`.
    public static func setting(_ key: String, to value: String?, in text: String, namespace: String) throws(ManifestError) -> Edit {
        var output = ""
        var names: [String] = []
        var preserved = true
        for segment in Segment.split(text) {
            guard let document = try segment.document(), isSleepInfo(document.value, namespace: namespace) else {
                output += segment.text
                continue
            }
            names.append(document.value[path: ["metadata", "name"]]?.string ?? "")
            let expected = normalized(setting(key, value, in: document.value))
            if let edited = ManifestTextEdit.apply(key: key, value: value, to: segment, document: document.node),
               let check = try? Segment(text: edited).document(), normalized(check.value) == expected {
                output += edited
            } else {
                preserved = false
                output += try segment.rendered(expected)
            }
        }
        if names.isEmpty {
            throw ManifestError(description: "no SleepInfo of namespace \(namespace) in the file")
        }
        return Edit(text: output, sleepInfos: names, preservedLayout: preserved, changed: output != text)
    }

    static func isSleepInfo(_ value: JSONValue, namespace: String) -> Bool {
        guard value["kind"] == "SleepInfo", value["apiVersion"]?.string?.hasPrefix("kube-green.com/") == true else { return false }
        return value[path: ["metadata", "namespace"]]?.string.map { $0 == namespace } ?? true
    }

    static func setting(_ key: String, _ value: String?, in document: JSONValue) -> JSONValue {
        var document = document
        var annotations = document[path: ["metadata", "annotations"]]?.object ?? [:]
        annotations[key] = value.map(JSONValue.string)
        document[path: ["metadata", "annotations"]] = .object(annotations)
        return document
    }

    /// Empty annotations are the same as none.
    static func normalized(_ document: JSONValue) -> JSONValue {
        var document = document
        if let annotations = document[path: ["metadata", "annotations"]], annotations == .null || annotations.object?.isEmpty == true {
            document[path: ["metadata"]] = .object((document["metadata"]?.object ?? [:]).filter { $0.key != "annotations" })
        }
        return document
    }
}

/// One document of a file with its separator line (`---`) if it has one; the file is the
/// concatenation of its segments.
struct Segment {
    var text: String

    /// Cuts a file before each `---` line (document markers are at the start of a line, and no
    /// scalar may hold one there).
    static func split(_ text: String) -> [Segment] {
        var segments: [Segment] = []
        var current = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            let end = rest.unicodeScalars.firstIndex(of: "\n").map { rest.unicodeScalars.index(after: $0) } ?? rest.endIndex
            let line = rest[..<end]
            let content = line.trimmingCharacters(in: .newlines)
            if content == "---" || content.hasPrefix("--- ") || content.hasPrefix("---\t"), !current.isEmpty {
                segments.append(Segment(text: current))
                current = ""
            }
            current += line
            rest = rest[end...]
        }
        if !current.isEmpty { segments.append(Segment(text: current)) }
        return segments
    }

    struct Document {
        var node: Node
        var value: JSONValue
    }

    /// The segment's document, nil when it has none (comments only, or empty).
    func document() throws(SleepInfoManifest.ManifestError) -> Document? {
        do {
            guard let node = try Yams.compose(yaml: text) else { return nil }
            return Document(node: node, value: try JSONValue(node: node))
        } catch let error as YAMLConversionError {
            throw .init(description: "not a manifest: \(error)")
        } catch {
            throw .init(description: "not valid YAML: \(error)")
        }
    }

    /// `value` written anew as this segment's document, after the segment's `---` line if any.
    func rendered(_ value: JSONValue) throws(SleepInfoManifest.ManifestError) -> String {
        let marker = text.hasPrefix("---") ? String(text.prefix { $0 != "\n" }) + "\n" : ""
        do {
            var yaml = try value.yamlText(width: -1)
            if text.hasSuffix("\n") == false, yaml.hasSuffix("\n") { yaml.removeLast() }
            return marker + yaml
        } catch {
            throw .init(description: "cannot write the manifest: \(error)")
        }
    }
}
