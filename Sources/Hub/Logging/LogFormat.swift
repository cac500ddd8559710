import Logging

/// How the process writes its log.
public enum LogFormat: String, Sendable, CaseIterable {
    /// Human-readable lines on standard error.
    case text
    /// One JSON object per line on standard error.
    case json

    /// Installs the process-wide log handler. Call once, from the executable only.
    public func bootstrap(level: Logger.Level) {
        switch self {
        case .text:
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case .json:
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
