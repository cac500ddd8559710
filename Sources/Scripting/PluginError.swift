import Scheduling

/// Why a plugin could not be loaded or did not give a usable answer, with where it happened.
public struct PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, to switch on.
    public enum Reason: Sendable, Equatable {
        /// The file could not be read (missing, too large, not UTF-8).
        case unreadable
        /// The file does not compile (or is a binary chunk, which is refused).
        case compile
        /// A Lua error was raised while running the file or a hook.
        case runtime
        /// The file does not define the hook its kind requires (`decide`, `handle`, `format`).
        case missingHook(String)
        /// The value a hook returned has the wrong shape or cannot be converted; `field` is its
        /// path, such as `result.actions[2].type`.
        case invalidResult(field: String)
        /// The call ran past its wall-clock deadline; the host stopped waiting and replaced the state.
        case timeout(Duration)
        /// The call spent its instruction budget.
        case instructionLimit(Int)
        /// The state reached its memory cap (bytes); the state is replaced.
        case memoryLimit(Int)
        /// There is no such plugin loaded, or it is suspended while earlier calls are still running
        /// past their deadline, or the host has too many such threads to start another.
        case unavailable
        /// A load or call of this version kept running past its deadline where it could not be
        /// interrupted: the version serves nothing until the file changes.
        case disabled
    }

    public var reason: Reason
    /// The plugin file, relative to the plugin directory (`policy/default.lua`).
    public var file: String
    /// The line in `file`, when known.
    public var line: Int?
    public var message: String
    /// The Lua traceback at the error, when there is one.
    public var traceback: String?

    public init(_ reason: Reason, file: String, line: Int? = nil, message: String, traceback: String? = nil) {
        self.reason = reason
        self.file = file
        self.line = line
        self.message = message
        self.traceback = traceback
    }

    /// `file:line: message`, with the offending field for a wrong result.
    public var description: String {
        var text = file.isEmpty ? "" : file
        if let line { text += ":\(line)" }
        if !text.isEmpty { text += ": " }
        if case .invalidResult(let field) = reason { text += field + ": " }
        return text + message
    }

    /// A short word for the reason, for logs and tables: `compile`, `timeout`, ...
    public var reasonName: String {
        switch reason {
        case .unreadable: "unreadable"
        case .compile: "compile"
        case .runtime: "runtime"
        case .missingHook: "missing-hook"
        case .invalidResult: "invalid-result"
        case .timeout: "timeout"
        case .instructionLimit: "instruction-limit"
        case .memoryLimit: "memory-limit"
        case .unavailable: "unavailable"
        case .disabled: "disabled"
        }
    }

    /// Whether the state that raised this error must be replaced by a fresh one.
    var replacesState: Bool {
        switch reason {
        case .timeout, .memoryLimit: true
        default: false
        }
    }

    // MARK: - Reading Lua's messages

    /// Splits `message\nstack traceback:\n...` into the message and the traceback.
    static func splitTraceback(_ text: String) -> (message: String, traceback: String?) {
        guard let range = text.range(of: "\nstack traceback:\n") else { return (text, nil) }
        return (String(text[..<range.lowerBound]), "stack traceback:\n" + text[range.upperBound...])
    }

    /// The first line number Lua wrote after `file:` in `text` (Lua positions read `file:12:`).
    static func line(in text: String, file: String) -> Int? {
        let marker = file + ":"
        var rest = Substring(text)
        while let range = rest.range(of: marker) {
            let digits = rest[range.upperBound...].prefix(while: { $0.isASCII && $0.isNumber })
            if !digits.isEmpty, rest[range.upperBound...].dropFirst(digits.count).first == ":", let line = Int(digits) {
                return line
            }
            rest = rest[range.upperBound...]
        }
        return nil
    }

    /// `message` without a leading `file:line: ` that Lua added, since ``description`` adds it back.
    static func strippingPosition(_ message: String, file: String) -> String {
        let marker = file + ":"
        guard message.hasPrefix(marker) else { return message }
        let rest = message.dropFirst(marker.count)
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, rest.dropFirst(digits.count).hasPrefix(": ") else { return message }
        return String(rest.dropFirst(digits.count + 2))
    }
}

extension Duration {
    /// `50ms`, `2s`: the duration as configuration files write it.
    var sandmanText: String { DurationText.format(self) }
}
