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

        /// The same error one level further out: `component` is prepended to the path. The path is
        /// built while the error travels outwards, so successful conversions pay nothing for it.
        func inside(_ component: PathComponent) -> ConversionError {
            var copy = self
            copy.path.insert(component, at: 0)
            return copy
        }

        /// The path written the way Lua code reaches it: `result.actions[2].type`.
        func field(root: String) -> String {
            var text = root
            for component in path {
                switch component {
                case .index(let position):
                    text += "[\(position)]"
                case .key(let key) where Self.isIdentifier(key):
                    text += "." + key
                case .key(let key):
                    text += "[\"" + key.replacingOccurrences(of: "\"", with: "\\\"") + "\"]"
                }
            }
            return text
        }

        var description: String {
            path.isEmpty ? reason : "\(field(root: "value")): \(reason)"
        }

        private static func isIdentifier(_ key: String) -> Bool {
            guard let first = key.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
                return false
            }
            return key.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        }
    }
}
