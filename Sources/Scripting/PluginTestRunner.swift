import Foundation
import JSON
import Logging
import Synchronization

/// Runs the test cases that live beside the plugins, the way Argo CD tests its Lua health checks:
/// YAML cases (`<kind>/tests/*.yaml`: input, expected output or expected error) and Lua test
/// files (`*_test.lua`) using a tiny assertion API. Plugins run in the same sandbox, with the
/// same limits and result checks as in the hub. The format is in docs/plugins.md ("Testing").
public struct PluginTestRunner: Sendable {
    public let directory: String
    private let configuration: PluginHost.Configuration
    private let luaTestTimeout: Duration
    private let logger: Logger

    /// A runner for the plugins in `directory`, with the limits of `configuration` (its directory
    /// is ignored). `logger` receives what plugins log. By default a call may take a second:
    /// test cases check what a plugin answers, and a busy CI machine must not fail them on
    /// time (`sandman-bench lua` measures speed). Each Lua test, and a Lua test file's top
    /// level, may run for `luaTestTimeout`.
    public init(
        directory: String, configuration: PluginHost.Configuration? = nil, luaTestTimeout: Duration = .seconds(10), logger: Logger
    ) {
        self.directory = directory
        self.configuration = configuration ?? PluginHost.Configuration(directory: directory, callTimeout: .seconds(1))
        self.luaTestTimeout = luaTestTimeout
        self.logger = logger
    }

    /// Runs every case of every test file.
    public func run() async -> PluginTestReport {
        await perform { session in session.run(execute: true) }
    }

    /// Reads every test file and loads every Lua test file without running a case: the problems
    /// found, as `lint` reports them.
    public func check() async -> [String] {
        await perform { session in session.run(execute: false).problems }
    }

    private func perform<Result: Sendable>(_ body: @escaping @Sendable (TestSession) -> Result) async -> Result {
        let thread = SerialThread(name: "sandman-plugin-tests")
        defer { thread.shutdown() }
        let directory = directory, configuration = configuration, luaTestTimeout = luaTestTimeout, logger = logger
        return await thread.perform {
            let watchdog = Watchdog()
            defer { watchdog.shutdown() }
            return body(TestSession(
                directory: directory, configuration: configuration, luaTestTimeout: luaTestTimeout, logger: logger, watchdog: watchdog
            ))
        }
    }

    /// The test files under `directory`, relative to it and sorted: `<kind>/tests/*.yaml`,
    /// `<kind>/tests/*_test.lua` and `<kind>/*_test.lua`.
    static func testFiles(in directory: String) -> [String] {
        var files: [String] = []
        for kind in PluginKind.directories {
            for folder in [kind, kind + "/tests"] {
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + folder) else { continue }
                for name in names where !name.hasPrefix(".") {
                    let isYAML = folder.hasSuffix("/tests") && (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
                    if isYAML || name.hasSuffix("_test.lua") { files.append(folder + "/" + name) }
                }
            }
        }
        return files.sorted()
    }
}

/// One run of the runner, on its own thread. Each case runs on a thread of its own, which the
/// session stops waiting for at the case's deadline (plus a grace): a case stuck where nothing
/// can interrupt it fails with how long it ran, and the session goes on with the next case.
private final class TestSession {
    let directory: String
    let configuration: PluginHost.Configuration
    let luaTestTimeout: Duration
    let logger: Logger
    let watchdog: Watchdog
    /// What `sandman.time.now()` returns to the plugins under test.
    let now = TestClock()
    var report = PluginTestReport()

    init(directory: String, configuration: PluginHost.Configuration, luaTestTimeout: Duration, logger: Logger, watchdog: Watchdog) {
        self.directory = directory
        self.configuration = configuration
        self.luaTestTimeout = luaTestTimeout
        self.logger = logger
        self.watchdog = watchdog
    }

    func run(execute: Bool) -> PluginTestReport {
        for file in PluginTestRunner.testFiles(in: directory) {
            if file.hasSuffix(".lua") {
                runLuaFile(file, execute: execute)
            } else {
                runYAMLFile(file, execute: execute)
            }
        }
        return report
    }

    private var limits: PluginSource.Limits { configuration.limits }

    /// What the plugins under test need, for the threads that run the cases.
    private var plugins: PluginsUnderTest {
        let now = self.now
        return PluginsUnderTest(directory: directory, limits: limits, clock: { now.date }, logger: logger, watchdog: watchdog)
    }

    /// Runs one part of a case (loading, calling, a Lua test) on a thread of its own, for at most
    /// its deadline plus the grace.
    private func bounded<Value>(_ deadline: Duration, _ body: @escaping @Sendable () -> Value) -> AbandonableThread.Outcome<Value> {
        AbandonableThread.run(name: "sandman-plugin-test", within: deadline + limits.grace, body)
    }

    /// The failure of a case whose `part` was abandoned.
    private func abandonment(_ part: String, after elapsed: Duration, deadline: Duration) -> String {
        "did not finish: \(part) was still running after \(elapsed.sandmanText), past its deadline of \(deadline.sandmanText); "
            + "its thread was abandoned and the next case goes on"
    }

    /// Loads `plugin` and calls it on `input`, each within its deadline: the case's failure, nil
    /// when it passed.
    private func run(_ testCase: YAMLCase, plugin: String) -> String? {
        let plugins = self.plugins
        let loading = bounded(limits.loadTimeout) {
            Result { () throws(PluginError) in AbandonableThread.Handoff(try plugins.load(plugin)) }
        }
        switch loading {
        case .abandoned(let elapsed):
            return abandonment("loading the plugin", after: elapsed, deadline: limits.loadTimeout)
        case .finished(.failure(let error)):
            return testCase.check(.failure(error))
        case .finished(.success(let loaded)):
            let input = testCase.input
            switch bounded(limits.callTimeout, { Result { () throws(PluginError) in try loaded.value.call(input) } }) {
            case .abandoned(let elapsed):
                return abandonment("the call", after: elapsed, deadline: limits.callTimeout)
            case .finished(let result):
                return testCase.check(result)
            }
        }
    }

    // MARK: - YAML cases

    private func runYAMLFile(_ file: String, execute: Bool) {
        let document: JSONValue
        do {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            document = try JSONValue(yaml: text)
        } catch {
            report.problems.append("\(file): cannot read the cases: \(error)")
            return
        }
        guard case .object(let members) = document, case .array(let cases)? = members["cases"] else {
            report.problems.append("\(file): expected a mapping with a list of cases under 'cases'")
            return
        }
        let plugin = members["plugin"]?.string ?? Self.defaultPlugin(for: file)
        guard PluginKind(path: plugin) != nil, FileManager.default.fileExists(atPath: directory + "/" + plugin) else {
            report.problems.append("\(file): plugin \(plugin) does not exist (set 'plugin: <kind>/<file>.lua')")
            return
        }
        let fileNow: Date?
        do {
            fileNow = try members["now"].map(Self.date)
        } catch {
            report.problems.append("\(file): now: \(error.description)")
            return
        }
        for (position, entry) in cases.enumerated() {
            let name = entry["name"]?.string ?? "case \(position + 1)"
            do throws(CaseFailure) {
                let testCase = try YAMLCase(entry, file: file, directory: directory)
                guard execute else { continue }
                let now = testCase.now ?? fileNow ?? testCase.input["now"].flatMap { $0.int }.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date()
                self.now.date = now
                report.cases.append(.init(file: file, name: name, failure: run(testCase, plugin: plugin)))
            } catch {
                report.cases.append(.init(file: file, name: name, failure: error.message))
            }
        }
    }

    /// `policy/tests/default.yaml` and `policy/tests/default_test.yaml` test `policy/default.lua`.
    static func defaultPlugin(for file: String) -> String {
        let components = file.split(separator: "/")
        var base = String(components.last ?? "")
        for suffix in [".yaml", ".yml"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
        if base.hasSuffix("_test") { base.removeLast("_test".count) }
        return "\(components.first ?? "")/\(base).lua"
    }

    /// A time given as epoch seconds or RFC 3339 text.
    static func date(_ value: JSONValue) throws(CaseFailure) -> Date {
        if let seconds = value.double, value.string == nil { return Date(timeIntervalSince1970: seconds) }
        if let text = value.string {
            let formatter = ISO8601DateFormatter()
            if let date = formatter.date(from: text) { return date }
        }
        throw CaseFailure("expected epoch seconds or an RFC 3339 time such as 2026-03-02T19:30:00Z, got \(value.serialized())")
    }

    struct CaseFailure: Error, CustomStringConvertible {
        var message: String
        init(_ message: String) { self.message = message }
        var description: String { message }
    }

    /// One case of a YAML file.
    struct YAMLCase: Sendable {
        var input: JSONValue
        var now: Date?
        var output: JSONValue?
        /// Texts of which the error must contain one.
        var error: [String]?

        init(_ entry: JSONValue, file: String, directory: String) throws(CaseFailure) {
            guard case .object(let members) = entry else { throw CaseFailure("a case must be a mapping") }
            let known = ["name", "input", "inputPath", "now", "output", "error"]
            for key in members.keys.sorted() where !known.contains(key) {
                throw CaseFailure("unknown field '\(key)' (expected \(known.joined(separator: ", ")))")
            }
            if let path = members["inputPath"]?.string {
                let folder = (file as NSString).deletingLastPathComponent
                do {
                    input = try JSONValue(yaml: String(contentsOfFile: directory + "/" + folder + "/" + path, encoding: .utf8))
                } catch {
                    throw CaseFailure("inputPath \(path): \(error)")
                }
            } else {
                input = members["input"] ?? .null
            }
            now = try members["now"].map(TestSession.date)
            output = members["output"]
            switch members["error"] {
            case nil:
                error = nil
            case .string(let text)?:
                error = [text]
            case .array(let texts)? where !texts.isEmpty && texts.allSatisfy({ $0.string != nil }):
                error = texts.compactMap(\.string)
            default:
                throw CaseFailure("error: expected a text the error must contain, or a list of texts it must contain one of")
            }
            if (output == nil) == (error == nil) {
                throw CaseFailure("give either 'output' (null for no result) or 'error' (text the error must contain)")
            }
        }

        /// Nil when `result` passes the case, else why not.
        func check(_ result: Result<JSONValue, PluginError>) -> String? {
            switch result {
            case .success(let actual):
                if let error { return "expected an error containing \(Self.describe(error)), got \(actual.serialized())" }
                return PluginOutput.mismatch(expected: output ?? .null, actual: actual)
            case .failure(let error):
                guard let expected = self.error else { return "unexpected error: \(error.description)" }
                if expected.contains(where: error.description.contains) { return nil }
                return "expected an error containing \(Self.describe(expected)), got: \(error.description)"
            }
        }

        /// `"a"`, or `"a" or "b"`.
        private static func describe(_ texts: [String]) -> String {
            texts.map { "\"\($0)\"" }.joined(separator: " or ")
        }
    }

    // MARK: - Lua test files

    private func runLuaFile(_ file: String, execute: Bool) {
        let timeout = luaTestTimeout
        let plugins = self.plugins
        let now = self.now
        var loadFailure: String?
        let load: () -> LuaTestFile? = { [self] in
            let outcome = bounded(timeout) {
                Result { () throws(PluginError) in try LuaTestFile(file, plugins: plugins, now: now, timeout: timeout) }
            }
            switch outcome {
            case .finished(.success(let suite)):
                return suite
            case .finished(.failure(let error)):
                loadFailure = error.description
            case .abandoned(let elapsed):
                loadFailure = "\(file): " + abandonment("its top level", after: elapsed, deadline: timeout)
            }
            return nil
        }
        guard let suite = load() else {
            report.problems.append(loadFailure ?? "\(file): cannot load")
            return
        }
        if suite.names.isEmpty { report.problems.append("\(file): defines no test (use test(\"name\", function() ... end))") }
        guard execute else { return }
        var current: LuaTestFile? = suite
        for (position, name) in suite.names.enumerated() {
            // After an abandoned test, whose thread keeps the file's state, a fresh one.
            if current == nil { current = load() }
            guard let state = current else {
                report.cases.append(.init(file: file, name: name, failure: loadFailure ?? "the test file could not be loaded again"))
                continue
            }
            now.date = Date()
            switch bounded(timeout, { state.run(test: position + 1) }) {
            case .finished(let failure):
                report.cases.append(.init(file: file, name: name, failure: failure))
            case .abandoned(let elapsed):
                report.cases.append(.init(file: file, name: name, failure: abandonment("the test", after: elapsed, deadline: timeout)))
                current = nil
            }
        }
    }
}

/// What the plugins under test are run with; `invoke` loads a plugin in a fresh state and runs
/// its hook, as the hub would.
private struct PluginsUnderTest: Sendable {
    var directory: String
    var limits: PluginSource.Limits
    var clock: @Sendable () -> Date
    var logger: Logger
    var watchdog: Watchdog

    /// `path` loaded in a fresh state.
    func load(_ path: String) throws(PluginError) -> SynchronousPlugin {
        try SynchronousPlugin(file: path, directory: directory, limits: limits, clock: clock, logger: logger, watchdog: watchdog)
    }

    /// `path`'s `hook` run on `input` in a fresh state.
    func invoke(_ path: String, hook: String, input: JSONValue) throws(PluginError) -> JSONValue {
        if let kind = PluginKind(path: path), hook != kind.hook {
            throw PluginError(.missingHook(hook), file: path, message: "a \(kind.rawValue) plugin exports \(kind.hook), not \(hook)")
        }
        return try load(path).call(input)
    }
}

/// A Lua test file loaded in a state of its own, with the test API, its tests registered. Used
/// by one thread at a time: the session hands it from one case's thread to the next.
private final class LuaTestFile: @unchecked Sendable {
    let file: String
    let names: [String]
    private let state: LuaState
    private let runTest: LuaState.Reference
    private let supervision: LuaState.Supervision

    /// Loads `file`; each test, and its top level, may run for `timeout`.
    init(_ file: String, plugins: PluginsUnderTest, now: TestClock, timeout: Duration) throws(PluginError) {
        self.file = file
        let text = try PluginDirectory(root: plugins.directory).read(file)
        let library = HostLibrary(plugin: file, logger: plugins.logger, clock: plugins.clock)
        state = try LuaState(limits: .init(memoryBytes: plugins.limits.memoryBytes, instructions: 0), hostFunctions: library.functions)
        let environment = try state.newEnvironment()
        try state.setFunction("__invoke", in: environment) { arguments throws(HostFunctionError) in
            guard arguments.count >= 2, let path = arguments[0].string, let hook = arguments[1].string else {
                throw HostFunctionError("usage: plugin(\"policy/default.lua\").decide(ctx)")
            }
            do throws(PluginError) {
                return [try plugins.invoke(path, hook: hook, input: arguments.count > 2 ? arguments[2] : .null)]
            } catch {
                throw HostFunctionError(error.description)
            }
        }
        try state.setFunction("__set_now", in: environment) { arguments throws(HostFunctionError) in
            guard let seconds = arguments.first?.double else { throw HostFunctionError("set_now expects epoch seconds") }
            now.date = Date(timeIntervalSince1970: seconds)
            return []
        }
        supervision = LuaState.Supervision(watchdog: plugins.watchdog, timeout: timeout)
        _ = try state.run(TestPrelude.source, file: "(test prelude)", in: environment, supervision: supervision)
        _ = try state.run(text, file: file, in: environment, supervision: supervision)
        guard let listNames = try state.function(named: "__test_names", in: environment),
              let runTest = try state.function(named: "__run_test", in: environment),
              case .array(let list)? = try state.call(listNames, arguments: [], file: file, supervision: supervision)
        else {
            throw PluginError(.runtime, file: file, message: "the test API is missing")
        }
        self.runTest = runTest
        names = list.enumerated().map { $1.string ?? "test \($0 + 1)" }
    }

    /// Runs test `index` (from 1); nil when it passed, else why it failed.
    func run(test index: Int) -> String? {
        do throws(PluginError) {
            _ = try state.call(runTest, arguments: [.int(Int64(index))], file: file, supervision: supervision)
            return nil
        } catch {
            return error.description
        }
    }
}

/// The settable clock plugins under test read through `sandman.time.now()`.
private final class TestClock: Sendable {
    private let value = Mutex(Date())

    var date: Date {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
