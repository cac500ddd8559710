import JSON
import Testing
@testable import Scripting

/// Values crossing between Swift and Lua, both ways.
@Suite struct BridgingTests {
    /// JSON handed to Lua and returned unchanged: what comes back, and what Lua saw (type and
    /// math.type of the value).
    static let roundTrips: [(JSONValue, JSONValue?, String)] = [
        (.null, nil, "nil"),
        (true, true, "boolean"),
        (false, false, "boolean"),
        (0, 0, "integer"),
        (-42, -42, "integer"),
        (.int(Int64.max), .int(Int64.max), "integer"),
        (.int(Int64.min), .int(Int64.min), "integer"),
        (1.5, 1.5, "float"),
        (3.0, 3.0, "float"),
        (-0.25, -0.25, "float"),
        ("", "", "string"),
        ("héllo ☀️ wörld", "héllo ☀️ wörld", "string"),
        ("a\u{0}b", "a\u{0}b", "string"),
        ([], [], "table"),
        (.emptyObject, .emptyObject, "table"),
        ([1, 2, 3], [1, 2, 3], "table"),
        ([1, "two", 3.5, true], [1, "two", 3.5, true], "table"),
        ([1, .null, 3], [1, .null, 3], "table"),
        ([.null], [.null], "table"),
        (["a": 1, "b": ["c": [true, ["d": "e"]]]], ["a": 1, "b": ["c": [true, ["d": "e"]]]], "table"),
        // Null object members are absent in Lua (so `if ctx.override then` works).
        (["kept": 1, "dropped": .null], ["kept": 1], "table"),
        (["list": [], "map": .emptyObject], ["list": [], "map": .emptyObject], "table"),
        (["weird key with spaces": 1, "": 2], ["weird key with spaces": 1, "": 2], "table"),
    ]

    @Test("JSON to Lua and back", arguments: roundTrips)
    func roundTrip(input: JSONValue, expected: JSONValue?, luaType: String) throws {
        let harness = LuaHarness()
        let instance = try harness.load("""
            function decide(value)
              local kind = type(value)
              if kind == "number" then kind = math.type(value) end
              return {kind = kind, value = value}
            end
            """)
        let result = try #require(try instance.invoke(input, watchdog: harness.watchdog))
        #expect(result["kind"] == .string(luaType))
        #expect(result["value"] == expected)
    }

    enum Expected: Sendable {
        case value(JSONValue?)
        case error(String)
    }

    /// Lua values returned by a hook: the JSON they become, or the error with its field path.
    static let results: [(String, Expected)] = [
        ("return nil", .value(nil)),
        ("return", .value(nil)),
        ("return 1, 2", .value(1)),
        ("return 2^53", .value(.double(9_007_199_254_740_992))),
        ("return 7 // 2", .value(3)),
        ("return 7 / 2", .value(3.5)),
        ("return 10 / 2", .value(5.0)),
        ("return {}", .value(.emptyObject)),
        ("return sandman.json.empty_array", .value([])),
        ("return sandman.json.array()", .value([])),
        ("return sandman.json.array({1, 2})", .value([1, 2])),
        ("return {list = sandman.json.empty_array, map = {}}", .value(["list": [], "map": .emptyObject])),
        ("return {1, sandman.json.null, 3}", .value([1, .null, 3])),
        ("return {a = sandman.json.null}", .value(["a": .null])),
        ("return sandman.json.null", .value(nil)),
        ("return {a = {b = {c = {1, 2, {d = 'e'}}}}}", .value(["a": ["b": ["c": [1, 2, ["d": "e"]]]]])),
        ("local shared = {1} return {x = shared, y = shared}", .value(["x": [1], "y": [1]])),
        ("return setmetatable({}, {__index = function() return 1 end})", .value(.emptyObject)),
        ("return print", .error("result: a function cannot be converted")),
        ("return {actions = {{type = 'wake', run = print}}}", .error("result.actions[1].run: a function cannot be converted")),
        ("local t = {} t.self = t return t", .error("result.self: a table that contains itself")),
        ("local t = {} t[1] = {t} return t", .error("result[1][1]: a table that contains itself")),
        ("return {1, 2, x = 3}", .error("result: a table mixing array items and named fields")),
        ("return {1, nil, 3}", .error("result: an array with a hole")),
        ("return {[2] = 'b'}", .error("result: an array with a hole")),
        ("return {[0] = 'zero'}", .error("result: an array with a hole")),
        ("return {[1.5] = 'x'}", .error("result: a number key cannot be converted")),
        ("return {[true] = 'x'}", .error("result: a boolean key cannot be converted")),
        ("return {[{}] = 'x'}", .error("result: a table key cannot be converted")),
        ("return 0/0", .error("is not a number JSON can hold")),
        ("return {ratio = math.huge}", .error("result.ratio: inf is not a number JSON can hold")),
        ("return '\\xff\\xfe'", .error("result: a string that is not valid UTF-8")),
        ("return {['a key'] = print}", .error("result[\"a key\"]: a function")),
        ("local t = sandman.json.array({1}) t.x = 1 return t", .error("result: a table mixing array items and named fields")),
        ("local t = sandman.json.array() t.x = 1 return t", .error("result: an array (sandman.json.array) with named fields")),
        ("local t = {} local c = t for i = 1, 200 do c.next = {} c = c.next end return t", .error("nested deeper than 100 levels")),
    ]

    @Test("Lua to JSON", arguments: results)
    func result(body: String, expected: Expected) throws {
        let harness = LuaHarness()
        switch expected {
        case .value(let value):
            #expect(try harness.evaluate(body) == value, "\(body)")
        case .error(let text):
            do {
                let value = try harness.evaluate(body)
                Issue.record("\(body): expected \(text), got \(String(describing: value))")
            } catch {
                guard case .invalidResult = error.reason else {
                    Issue.record("\(body): \(error)")
                    return
                }
                #expect(error.description.contains(text), "\(body): \(error.description)")
                #expect(error.file == "policy/test.lua")
            }
        }
    }

    static let jsonFunctions: [(String, JSONValue)] = [
        ("return sandman.json.encode({b = {1, 2.5, 'x'}, a = true, e = sandman.json.empty_array, o = {}})", #"{"a":true,"b":[1,2.5,"x"],"e":[],"o":{}}"#),
        ("return sandman.json.encode(nil)", "null"),
        ("return sandman.json.encode({sandman.json.null})", "[null]"),
        ("return sandman.json.decode('{\"a\": [1, null, 2.5, {\"b\": null}], \"c\": \"d\"}')", ["a": [1, .null, 2.5, .emptyObject], "c": "d"]),
        ("return sandman.json.decode('[]')", []),
        ("return sandman.json.decode('null') == nil", true),
        ("local value, problem = sandman.json.decode('{oops') return {value == nil, problem}", [true, "invalid JSON at byte 1: expected a member name"]),
        ("return select('#', sandman.json.decode('[1]'))", 1),
        ("local t = sandman.json.decode('[[]]') return sandman.json.encode(t)", "[[]]"),
        ("return tostring(sandman.json.null) .. ' ' .. tostring(sandman.json.empty_array)", "sandman.json.null sandman.json.empty_array"),
        ("return getmetatable(sandman.json.decode('[]'))", "sandman.json.array"),
        ("local ok, problem = pcall(sandman.json.encode, {f = print}) return problem", "bad argument #1 to 'encode' (value.f: a function cannot be converted)"),
    ]

    @Test("sandman.json", arguments: jsonFunctions)
    func json(body: String, expected: JSONValue) throws {
        let harness = LuaHarness()
        #expect(try harness.evaluate(body) == expected, "\(body)")
    }

    @Test func argumentsNestedTooDeeplyAreRefused() throws {
        var value: JSONValue = 1
        for _ in 0..<150 { value = ["next": value] }
        let harness = LuaHarness()
        #expect {
            try harness.evaluate("return 1", input: value)
        } throws: { error in
            "\(error)".contains("nested deeper than 100 levels")
        }
    }
}
