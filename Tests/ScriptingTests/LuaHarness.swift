import Foundation
import JSON
import Logging
@testable import Scripting

/// Runs Lua source as a plugin of a given kind, in a real state, with real limits.
final class LuaHarness {
    let watchdog = Watchdog()
    let logs = LogRecorder()

    deinit { watchdog.shutdown() }

    func source(
        _ text: String, kind: PluginKind = .policy, file: String = "policy/test.lua",
        timeout: Duration = .seconds(2), memory: Int = 32 << 20, instructions: Int = 10_000_000,
        now: Date = Date(timeIntervalSince1970: 1_767_225_600)
    ) -> PluginSource {
        PluginSource(
            file: file, kind: kind, text: text,
            limits: .init(callTimeout: timeout, loadTimeout: timeout, memoryBytes: memory, instructions: instructions),
            logger: logs.logger, clock: { now }
        )
    }

    /// Loads `text` (which must define the kind's hook) into a fresh state.
    func load(_ text: String, kind: PluginKind = .policy, timeout: Duration = .seconds(2), memory: Int = 32 << 20, instructions: Int = 10_000_000) throws(PluginError) -> PluginInstance {
        try PluginInstance(source(text, kind: kind, timeout: timeout, memory: memory, instructions: instructions), watchdog: watchdog)
    }

    /// Evaluates `body` as the body of `decide(ctx)` and returns what it returns.
    func evaluate(_ body: String, input: JSONValue = .null, timeout: Duration = .seconds(2), memory: Int = 32 << 20, instructions: Int = 10_000_000) throws(PluginError) -> JSONValue? {
        let instance = try load("function decide(ctx)\n\(body)\nend", timeout: timeout, memory: memory, instructions: instructions)
        return try instance.invoke(input, watchdog: watchdog)
    }
}

/// A log handler that keeps every entry in memory, for assertions on logs.
final class LogRecorder: @unchecked Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lock = NSLock()
    private var stored: [Entry] = []

    var entries: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(recorder: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ entry: Entry) {
        lock.lock()
        stored.append(entry)
        lock.unlock()
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var flattened: [String: String] = [:]
            for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
                flattened[key] = "\(value)"
            }
            recorder.append(Entry(level: event.level, message: "\(event.message)", metadata: flattened))
        }
    }
}
