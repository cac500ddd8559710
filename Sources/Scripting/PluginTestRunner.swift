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
    private let logger: Logger

    /// A runner for the plugins in `directory`, with the limits of `configuration` (its directory
    /// is ignored). `logger` receives what plugins log. By default a call may take a second:
    /// test cases check what a plugin answers, and a busy CI machine must not fail them on
    /// time (`sandman-bench lua` measures speed).
    public init(directory: String, configuration: PluginHost.Configuration? = nil, logger: Logger) {
        self.directory = directory
        self.configuration = configuration ?? PluginHost.Configuration(directory: directory, callTimeout: .seconds(1))
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
        let directory = directory, configuration = configuration, logger = logger
        return await thread.perform {
            let watchdog = Watchdog()
            defer { watchdog.shutdown() }
            return body(TestSession(directory: directory, configuration: configuration, logger: logger, watchdog: watchdog))
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

/// One run of the runner, on its own thread.
private final class TestSession {
    let directory: String
    let configuration: PluginHost.Configuration
    let logger: Logger
    let watchdog: Watchdog
    /// What `sandman.time.now()` returns to the plugins under test.
    let now = TestClock()
    var report = PluginTestReport()

    init(directory: String, configuration: PluginHost.Configuration, logger: Logger, watchdog: Watchdog) {
        self.directory = directory
        self.configuration = configuration
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

    private var clock: @Sendable () -> Date {
        let now = self.now
        return { now.date }
    }

    private var limits: PluginSource.Limits { configuration.limits }

    // MARK: - Plugins under test

    /// Runs `path`'s hook on `input` in a fresh state and returns the checked, normalized result.
    private func invoke(_ path: String, hook: String? = nil, input: JSONValue) throws(PluginError) -> JSONValue {
        if let hook, let kind = PluginKind(path: path), hook != kind.hook {
            throw PluginError(.missingHook(hook), file: path, message: "a \(kind.rawValue) plugin exports \(kind.hook), not \(hook)")
        }
        let plugin = try SynchronousPlugin(file: path, directory: directory, limits: limits, clock: clock, logger: logger, watchdog: watchdog)
        return try plugin.call(input)
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
                report.cases.append(.init(file: file, name: name, failure: testCase.check(invoke: { input throws(PluginError) in try invoke(plugin, input: input) })))
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
    struct YAMLCase {
        var input: JSONValue
        var now: Date?
        var output: JSONValue?
        var error: String?

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
            error = members["error"]?.string
            if (output == nil) == (error == nil) {
                throw CaseFailure("give either 'output' (null for no result) or 'error' (text the error must contain)")
            }
        }

        /// Nil when the case passes, else why not.
        func check(invoke: (JSONValue) throws(PluginError) -> JSONValue) -> String? {
            do {
                let actual = try invoke(input)
                if let error { return "expected an error containing \"\(error)\", got \(actual.serialized())" }
                return PluginOutput.mismatch(expected: output ?? .null, actual: actual)
            } catch {
                guard let expected = self.error else { return "unexpected error: \(error.description)" }
                return error.description.contains(expected) ? nil : "expected an error containing \"\(expected)\", got: \(error.description)"
            }
        }
    }

    // MARK: - Lua test files

    private func runLuaFile(_ file: String, execute: Bool) {
        let testTimeout = Duration.seconds(10)
        do throws(PluginError) {
            let text = try PluginDirectory(root: directory).read(file)
            let library = HostLibrary(plugin: file, logger: logger, clock: clock)
            let state = try LuaState(limits: .init(memoryBytes: limits.memoryBytes, instructions: 0), hostFunctions: library.functions)
            let environment = try state.newEnvironment()
            try state.setFunction("__invoke", in: environment) { [self] arguments throws(HostFunctionError) in
                guard arguments.count >= 2, let path = arguments[0].string, let hook = arguments[1].string else {
                    throw HostFunctionError("usage: plugin(\"policy/default.lua\").decide(ctx)")
                }
                do throws(PluginError) {
                    return [try invoke(path, hook: hook, input: arguments.count > 2 ? arguments[2] : .null)]
                } catch {
                    throw HostFunctionError(error.description)
                }
            }
            try state.setFunction("__set_now", in: environment) { [now] arguments throws(HostFunctionError) in
                guard let seconds = arguments.first?.double else { throw HostFunctionError("set_now expects epoch seconds") }
                now.date = Date(timeIntervalSince1970: seconds)
                return []
            }
            let supervision = LuaState.Supervision(watchdog: watchdog, timeout: testTimeout, onExpire: nil)
            _ = try state.run(TestPrelude.source, file: "(test prelude)", in: environment, supervision: supervision)
            _ = try state.run(text, file: file, in: environment, supervision: supervision)
            guard let names = try state.function(named: "__test_names", in: environment),
                  let runTest = try state.function(named: "__run_test", in: environment),
                  case .array(let list)? = try state.call(names, arguments: [], file: file, supervision: supervision)
            else {
                report.problems.append("\(file): the test API is missing")
                return
            }
            if list.isEmpty { report.problems.append("\(file): defines no test (use test(\"name\", function() ... end))") }
            guard execute else { return }
            for (position, name) in list.enumerated() {
                now.date = Date()
                do throws(PluginError) {
                    _ = try state.call(runTest, arguments: [.int(Int64(position + 1))], file: file, supervision: supervision)
                    report.cases.append(.init(file: file, name: name.string ?? "test \(position + 1)", failure: nil))
                } catch {
                    report.cases.append(.init(file: file, name: name.string ?? "test \(position + 1)", failure: error.description))
                }
            }
        } catch {
            report.problems.append(error.description)
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
