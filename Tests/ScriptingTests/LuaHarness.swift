import Foundation
import JSON
import Logging
import Synchronization
@testable import Scripting

/// Runs Lua source as a plugin of a given kind, in a real state, with real limits. Deadlines and
/// the grace default to what no busy machine reaches: a test about one of them sets it.
final class LuaHarness {
    let watchdog = Watchdog()
    let abandonedStates = AbandonedStates()
    let logs = LogRecorder()

    deinit { watchdog.shutdown() }

    func source(
        _ text: String, kind: PluginKind = .policy, file: String = "policy/test.lua",
        timeout: Duration = .seconds(30), loadTimeout: Duration = .seconds(30), memory: Int = 32 << 20,
        instructions: Int = 10_000_000, grace: Duration = .seconds(60),
        clock: @escaping @Sendable () -> Date = { Date(timeIntervalSince1970: 1_767_225_600) }
    ) -> PluginSource {
        PluginSource(
            file: file, kind: kind, text: text,
            limits: .init(callTimeout: timeout, loadTimeout: loadTimeout, memoryBytes: memory, instructions: instructions, grace: grace),
            logger: logs.logger, clock: clock
        )
    }

    /// An executor for `source`, counting its abandoned threads in ``abandonedStates``.
    func executor(_ source: PluginSource) -> PluginExecutor {
        PluginExecutor(source: source, watchdog: watchdog, abandonedStates: abandonedStates)
    }

    /// The hostile plugin shared with the CLI and hub tests (Tests/Fixtures/hostile-plugins).
    static let hostilePlugin = try! String(contentsOf: fixtures.appendingPathComponent("hostile-plugins/policy/attacks.lua"), encoding: .utf8)

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// Loads `text` (which must define the kind's hook) into a fresh state, its calls bounded by
    /// `timeout`.
    func load(
        _ text: String, kind: PluginKind = .policy, timeout: Duration = .seconds(30), loadTimeout: Duration = .seconds(30),
        memory: Int = 32 << 20, instructions: Int = 10_000_000
    ) throws(PluginError) -> PluginInstance {
        let source = source(text, kind: kind, timeout: timeout, loadTimeout: loadTimeout, memory: memory, instructions: instructions)
        return try PluginInstance(source, watchdog: watchdog)
    }

    /// Evaluates `body` as the body of `decide(ctx)` and returns what it returns.
    func evaluate(_ body: String, input: JSONValue = .null, timeout: Duration = .seconds(30), memory: Int = 32 << 20, instructions: Int = 10_000_000) throws(PluginError) -> JSONValue? {
        let instance = try load("function decide(ctx)\n\(body)\nend", timeout: timeout, memory: memory, instructions: instructions)
        return try instance.invoke(input, watchdog: watchdog)
    }
}

/// Keeps whoever passes it waiting while it is closed, until `open()`: a host call that nothing
/// can interrupt, standing for any code path that would not check the deadline.
final class Gate: Sendable {
    private let closed: Mutex<Bool>
    private let waiting = Atomic<Int>(0)

    init(closed: Bool = true) {
        self.closed = Mutex(closed)
    }

    /// Returns once the gate is open.
    func pass() {
        waiting.add(1, ordering: .relaxed)
        while closed.withLock({ $0 }) { Thread.sleep(forTimeInterval: 0.005) }
        waiting.subtract(1, ordering: .relaxed)
    }

    /// Callers waiting at the gate now.
    var blocked: Int { waiting.load(ordering: .relaxed) }

    func close() {
        closed.withLock { $0 = true }
    }

    func open() {
        closed.withLock { $0 = false }
    }
}

/// A clock that keeps whoever asks the time waiting at a ``Gate`` while it is held (from the
/// start, or after `hold()`), until `release()`. `holds` picks which callers wait (by default
/// all; see ``firstCallers(_:)``).
final class HeldClock: Sendable {
    private let gate: Gate
    private let holds: @Sendable () -> Bool
    private let now = Mutex(Date(timeIntervalSince1970: 1_767_225_600))

    init(held: Bool = true, holds: @escaping @Sendable () -> Bool = { true }) {
        self.gate = Gate(closed: held)
        self.holds = holds
    }

    /// Holds only the first `count` callers; later ones get the time at once.
    static func firstCallers(_ count: Int) -> @Sendable () -> Bool {
        let calls = Atomic<Int>(0)
        return { calls.add(1, ordering: .relaxed).newValue <= count }
    }

    var clock: @Sendable () -> Date {
        { [self] in
            if holds() { gate.pass() }
            return now.withLock { $0 }
        }
    }

    /// Callers waiting for the time now.
    var blocked: Int { gate.blocked }

    func hold() {
        gate.close()
    }

    func release() {
        gate.open()
    }

    func set(_ date: Date) {
        now.withLock { $0 = date }
    }
}

/// A log handler that keeps every entry in memory, for assertions on logs. Given a gate, whoever
/// logs the message `held` waits at it first.
final class LogRecorder: @unchecked Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let lock = NSLock()
    private var stored: [Entry] = []
    private let gate: Gate?
    private let held: String

    init(gate: Gate? = nil, holding held: String = "hold") {
        self.gate = gate
        self.held = held
    }

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
        if let gate, entry.message == held { gate.pass() }
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
