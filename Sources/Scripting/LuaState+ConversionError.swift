extension LuaState {
    /// A value that cannot cross between Lua and JSON, with where it sits inside the value.
    struct ConversionError: Error, Sendable, CustomStringConvertible {
        enum PathComponent: Sendable, Equatable {
            case key(String)
            case index(Int)
        }

        var reason: String
        /// From the outermost value inwards.
        var path: [PathComponent] = []
        /// For a cycle: how many components of ``path`` lead to the table that contains itself.
        var cycleStart: Int?

        init(reason: String, cycleStart: Int? = nil) {
            self.reason = reason
            self.cycleStart = cycleStart
        }

        /// The same error one level further out: `component` is prepended to the path. The path is
        /// built while the error travels outwards, so successful conversions pay nothing for it.
        func inside(_ component: PathComponent) -> ConversionError {
            var copy = self
            copy.path.insert(component, at: 0)
            return copy
        }

        /// The path written the way Lua code reaches it: `result.actions[2].type`.
        func field(root: String) -> String {
            Self.field(root: root, path[...])
        }

        /// ``reason``, naming for a cycle where it starts: `... (a cycle back to result.a)`.
        func reason(root: String) -> String {
            guard let cycleStart else { return reason }
            return reason + " (a cycle back to \(Self.field(root: root, path.prefix(cycleStart))))"
        }

        var description: String {
            path.isEmpty ? reason(root: "value") : "\(field(root: "value")): \(reason(root: "value"))"
        }

        private static func field(root: String, _ path: ArraySlice<PathComponent>) -> String {
            var text = root
            for component in path {
                switch component {
                case .index(let position):
                    text += "[\(position)]"
                case .key(let key) where isIdentifier(key):
                    text += "." + key
                case .key(let key):
                    text += "[\"" + key.replacingOccurrences(of: "\"", with: "\\\"") + "\"]"
                }
            }
            return text
        }

        private static func isIdentifier(_ key: String) -> Bool {
            guard let first = key.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
                return false
            }
            return key.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        }
    }
}
