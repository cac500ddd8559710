import JSON
import Testing
@testable import Scripting

/// Each sandbox rule, proven by attempting what it forbids.
@Suite struct SandboxTests {
    enum Expectation: Sendable {
        /// The attempt runs and returns this value.
        case returns(JSONValue)
        /// The attempt raises an error whose message contains this text.
        case fails(String)
    }

    static let attempts: [(String, String, Expectation)] = [
        ("io.open", "return io.open('/etc/passwd')", .fails("attempt to index a nil value (global 'io')")),
        ("os.execute", "return os.execute('id')", .fails("attempt to call a nil value (field 'execute')")),
        ("os.getenv", "return os.getenv('HOME')", .fails("attempt to call a nil value (field 'getenv')")),
        ("os.remove", "return os.remove('/tmp/x')", .fails("attempt to call a nil value (field 'remove')")),
        ("os.exit", "os.exit(1)", .fails("attempt to call a nil value (field 'exit')")),
        ("load", "return load('return 1')", .fails("attempt to call a nil value (global 'load')")),
        ("loadfile", "return loadfile('/etc/passwd')", .fails("attempt to call a nil value (global 'loadfile')")),
        ("dofile", "return dofile('/etc/passwd')", .fails("attempt to call a nil value (global 'dofile')")),
        ("require", "return require('os')", .fails("attempt to call a nil value (global 'require')")),
        ("collectgarbage", "collectgarbage('stop')", .fails("attempt to call a nil value (global 'collectgarbage')")),
        ("string.dump", "return string.dump(decide)", .fails("attempt to call a nil value (field 'dump')")),
        ("string.dump through a method", "return ('').dump(decide)", .fails("attempt to call a nil value (field 'dump')")),
        ("debug", "return debug.getregistry()", .fails("attempt to index a nil value (global 'debug')")),
        ("package", "return package.loaded", .fails("attempt to index a nil value (global 'package')")),
        ("coroutine", "return coroutine.create(print)", .fails("attempt to index a nil value (global 'coroutine')")),
        ("warn", "warn('x')", .fails("attempt to call a nil value (global 'warn')")),
        ("assigning into a base library", "string.upper = nil", .fails("attempt to modify read-only table 'string' (field 'upper')")),
        ("adding to a base library", "math.pi = 3", .fails("attempt to modify read-only table 'math' (field 'pi')")),
        ("rawset on a base library", "rawset(table, 'insert', print)", .fails("attempt to modify read-only table 'table' with rawset (field 'insert')")),
        ("rawset on the sandman library", "rawset(sandman.json, 'encode', print)", .fails("attempt to modify read-only table 'sandman.json' with rawset (field 'encode')")),
        ("the table pairs hands out is the read-only proxy", "local _, real = pairs(string) real.upper = nil", .fails("attempt to modify read-only table 'string' (field 'upper')")),
        ("the iterator pairs hands out reads, never writes", "local iterate, real = pairs(math) local _, v = iterate(real, nil) return type(v) ~= 'nil' and rawequal(real, math)", .returns(true)),
        ("next sees nothing of a library", "return next(string) == nil and next(sandman) == nil", .returns(true)),
        ("rawget sees nothing of a library", "return rawget(string, 'find') == nil and rawget(os, 'time') == nil", .returns(true)),
        ("rawlen of a library", "return rawlen(table)", .returns(0)),
        ("string methods are the bounded ones", "return ('x'):rep(3) == string.rep('x', 3)", .returns(true)),
        ("assigning through pairs into a nested library", "for k, v in pairs(sandman) do if k == 'time' then v.now = print end end", .fails("attempt to modify read-only table 'sandman.time' (field 'now')")),
        ("assigning into the sandman library", "sandman.time.now = function() return 0 end", .fails("read-only table 'sandman.time'")),
        ("reaching the base through _ENV's metatable", "return getmetatable(_ENV)", .returns(false)),
        ("reaching the base through a library's metatable", "return getmetatable(string)", .returns(false)),
        ("replacing _ENV's metatable", "setmetatable(_ENV, nil)", .fails("cannot change a protected metatable")),
        ("the string metatable", "return getmetatable('')", .returns(false)),
        ("tampering with getmetatable('').__index", "getmetatable('').__index = {}", .fails("attempt to index a boolean value")),
        ("tampering with the string metatable via rawset", "rawset(getmetatable(''), '__index', {})", .fails("bad argument #1 to 'rawset' (table expected, got boolean)")),
        ("a __gc finalizer", "setmetatable({}, {__gc = function() while true do end end})", .fails("__gc metamethods are not available")),
        ("the removed libraries are gone from _G too", "return _G.io == nil and _G.os.execute == nil and _G.load == nil", .returns(true)),
        ("string methods still work", "return ('sandman'):upper()", .returns("SANDMAN")),
        ("pairs over a read-only library", "local n = 0 for _ in pairs(math) do n = n + 1 end return n > 20", .returns(true)),
        ("plugin globals are the plugin's own", "counter = 1 return _G.counter", .returns(1)),
    ]

    @Test("sandbox rule", arguments: attempts)
    func attempt(name: String, body: String, expectation: Expectation) throws {
        let harness = LuaHarness()
        switch expectation {
        case .returns(let expected):
            #expect(try harness.evaluate(body) == expected, "\(name)")
        case .fails(let text):
            do {
                let value = try harness.evaluate(body)
                Issue.record("\(name): expected an error containing \"\(text)\", got \(String(describing: value))")
            } catch {
                #expect(error.reason == .runtime, "\(name)")
                #expect(error.description.contains(text), "\(name): \(error.description)")
            }
        }
    }

    @Test func globalsSetByOnePluginDoNotReachAnotherEnvironmentOverTheSameBase() throws {
        let harness = LuaHarness()
        let instance = try harness.load("""
            print = nil
            string = "mine"
            sandman = nil
            leaked = true
            function decide(ctx) return {action = "keep", reason = type(string)} end
            """)
        // The plugin sees its own assignments...
        #expect(try instance.invoke(.null, watchdog: harness.watchdog) == ["action": "keep", "reason": "string"])
        // ...and a second environment over the same state's base sees none of them.
        let other = try instance.state.newEnvironment()
        let supervision = LuaState.Supervision(watchdog: harness.watchdog, timeout: .seconds(30))
        _ = try instance.state.run(
            "function probe() return {leaked = leaked ~= nil, print = type(print), string = type(string), sandman = type(sandman)} end",
            file: "probe.lua", in: other, supervision: supervision
        )
        let probe = try #require(try instance.state.function(named: "probe", in: other))
        #expect(try instance.state.call(probe, arguments: [], file: "probe.lua", supervision: supervision)
            == ["leaked": false, "print": "function", "string": "table", "sandman": "table"])
    }

    @Test func aBinaryChunkIsRefused() throws {
        let harness = LuaHarness()
        #expect {
            try harness.load("\u{1B}Lua\u{54}\u{00}")
        } throws: { error in
            (error as? PluginError)?.reason == .compile && "\(error)".contains("binary chunk")
        }
    }
}
