import CLua
import CLuaSandbox
import Foundation
import JSON

/// One Lua 5.4 state holding Sandman's sandbox: the only Swift type that touches the C API.
///
/// A state belongs to one thread at a time. The one thing another thread may use is its
/// ``Interrupt``, and only between the watchdog's `begin` and `end` of a call, which this type
/// brackets itself. Memory is capped by the allocator while plugin code runs; host code (pushing
/// arguments, reading results, host functions) is never capped, so the host never meets a Lua
/// error outside a protected call and no Lua error ever unwinds through Swift frames. What host
/// code converts is bounded instead (see ``ConversionBudget``) and counted against the cap.
final class LuaState {
    /// A value kept alive in the registry of this state.
    struct Reference: Hashable, Sendable {
        fileprivate let slot: Int32
    }

    /// A Swift function callable from Lua. Arguments and results cross as JSON values (with the
    /// sentinels of ``LuaState`` for null and the empty array); a thrown error becomes a Lua error
    /// at the caller's line.
    typealias HostFunction = ([JSONValue]) throws(HostFunctionError) -> [JSONValue]

    /// Memory and instruction limits of a state.
    struct Limits: Sendable {
        var memoryBytes: Int
        /// Instructions a call may run once the count hook is armed; 0 means no budget.
        var instructions: Int
    }

    /// What bounds one protected call: the watchdog, the deadline, and who to tell when it passes.
    struct Supervision: Sendable {
        var watchdog: Watchdog
        var timeout: Duration
        /// How long past the deadline the call may still be running before it counts as stuck.
        var grace: Duration = PluginHost.Configuration.defaultDeadlineGrace
        /// Told at the deadline, with how long the call had run.
        var onExpire: (@Sendable (Duration) -> Void)? = nil
        /// Told once when the call is still running `grace` after its deadline.
        var onStuck: (@Sendable (Duration) -> Void)? = nil
    }

    /// The handle through which the watchdog thread stops a running call: it arms the count hook
    /// (`lua_sethook`, which Lua documents as safe to call asynchronously) and flags the deadline,
    /// which the bounded library functions check too.
    final class Interrupt: @unchecked Sendable, ConversionBudget.Deadline {
        /// Instructions between two runs of the count hook once the budget is armed.
        static let hookPeriod: Int32 = 1000

        fileprivate let state: OpaquePointer
        fileprivate let limits: UnsafeMutablePointer<sandman_limits>
        /// Whether arming the instruction budget has any purpose for this state.
        let countsInstructions: Bool

        fileprivate init(state: OpaquePointer, limits: UnsafeMutablePointer<sandman_limits>, countsInstructions: Bool) {
            self.state = state
            self.limits = limits
            self.countsInstructions = countsInstructions
        }

        func armInstructionBudget() {
            sandman_lua_arm_budget(state, limits, Self.hookPeriod)
        }

        func expire() {
            sandman_lua_expire(state, limits)
        }

        /// Whether the watchdog flagged the current call's deadline.
        var hasPassed: Bool {
            sandman_lua_limits_expired(limits) != 0
        }
    }

    /// How JSON null is seen in Lua (`sandman.json.null`) and how `[]` is written there
    /// (`sandman.json.empty_array`): two light userdata values.
    static var nullMarker: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 0x5A4D_0001)! }
    static var emptyArrayMarker: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: 0x5A4D_0002)! }

    let interrupt: Interrupt
    private let state: OpaquePointer
    private let limits: UnsafeMutablePointer<sandman_limits>
    private var functions: [HostFunction] = []
    private var functionNames: [String] = []
    private var environmentFactory = Reference(slot: 0)
    private var arrayMetatable = Reference(slot: 0)

    /// Creates a state with the sandbox base, `hostFunctions` reachable by the sandbox bootstrap
    /// as `host.<name>` (see ``Sandbox``), and the given limits.
    init(limits: Limits, hostFunctions: [String: HostFunction]) throws(PluginError) {
        let pointer = UnsafeMutablePointer<sandman_limits>.allocate(capacity: 1)
        pointer.initialize(to: sandman_limits(
            used: 0, limit: limits.memoryBytes, host_depth: 1, instructions: 0,
            instruction_limit: Int64(limits.instructions), hook_period: 0, exhausted: 0, expired: 0
        ))
        guard let state = sandman_lua_newstate(pointer) else {
            pointer.deallocate()
            throw PluginError(.memoryLimit(limits.memoryBytes), file: "", message: "cannot create a Lua state")
        }
        self.state = state
        self.limits = pointer
        self.interrupt = Interrupt(state: state, limits: pointer, countsInstructions: limits.instructions > 0)
        sandman_lua_getextraspace(state)!.storeBytes(of: Unmanaged.passUnretained(self).toOpaque(), as: UnsafeMutableRawPointer.self)
        try bootstrap(hostFunctions)
    }

    deinit {
        lua_close(state)
        limits.deallocate()
    }

    /// Bytes currently allocated by the state.
    var memoryUsed: Int { limits.pointee.used }

    // MARK: - Environments and chunks

    /// A fresh plugin environment (`_ENV`) over the read-only sandbox base.
    func newEnvironment() throws(PluginError) -> Reference {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        try ensureStack(2)
        lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(environmentFactory.slot))
        guard sandman_lua_pcall(state, 0, 1, 0) == LUA_OK, lua_type(state, -1) == LUA_TTABLE else {
            throw PluginError(.runtime, file: "", message: "the sandbox could not create an environment")
        }
        return Reference(slot: luaL_ref(state, sandman_lua_registryindex()))
    }

    /// Sets `environment[name]` to a host function.
    func setFunction(_ name: String, in environment: Reference, _ function: @escaping HostFunction) throws(PluginError) {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        try ensureStack(4)
        lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(environment.slot))
        push(string: name)
        pushHostFunction(function, name: name)
        lua_rawset(state, -3)
    }

    /// Compiles `source` as a text chunk named after `file`, runs it with `environment` as its
    /// `_ENV` under `supervision` (compiling included), and returns its first result when that
    /// is a table.
    func run(_ source: String, file: String, in environment: Reference, supervision: Supervision) throws(PluginError) -> Reference? {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        try ensureStack(4)
        return try supervised(supervision, file: file, activity: "the file's top level") { () throws(PluginError) -> Reference? in
            limits.pointee.host_depth = 0
            var text = source
            let status = text.withUTF8 { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    sandman_luaL_loadtext(state, chars.baseAddress, chars.count, "@" + file)
                }
            }
            limits.pointee.host_depth = 1
            guard status == LUA_OK else {
                if status == LUA_ERRMEM {
                    throw PluginError(.memoryLimit(limits.pointee.limit), file: file, message: "not enough memory to compile the file")
                }
                let message = string(at: -1) ?? "cannot compile"
                throw PluginError(.compile, file: file, line: PluginError.line(in: message, file: file), message: PluginError.strippingPosition(message, file: file))
            }
            lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(environment.slot))
            _ = lua_setupvalue(state, -2, 1)
            try protectedCall(arguments: 0, file: file)
            guard lua_type(state, -1) == LUA_TTABLE else { return nil }
            return Reference(slot: luaL_ref(state, sandman_lua_registryindex()))
        }
    }

    /// The function stored under `name` in `table`, read without metamethods; nil when absent or
    /// not a function.
    func function(named name: String, in table: Reference) throws(PluginError) -> Reference? {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        try ensureStack(3)
        lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(table.slot))
        push(string: name)
        lua_rawget(state, -2)
        guard lua_type(state, -1) == LUA_TFUNCTION else { return nil }
        return Reference(slot: luaL_ref(state, sandman_lua_registryindex()))
    }

    /// Whether `name` is set (to anything) in `table`, read without metamethods.
    func hasField(_ name: String, in table: Reference) throws(PluginError) -> Bool {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        try ensureStack(3)
        lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(table.slot))
        push(string: name)
        lua_rawget(state, -2)
        return lua_type(state, -1) != LUA_TNIL
    }

    /// Calls `function` with `arguments` under `supervision` and returns its first result as JSON
    /// (nil when the function returned nil or nothing). Converting the arguments and the result
    /// is part of the call: within its deadline and what the memory cap leaves. `file` names the
    /// plugin in errors.
    func call(_ function: Reference, arguments: [JSONValue], file: String, supervision: Supervision) throws(PluginError) -> JSONValue? {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        try ensureStack(Int32(arguments.count) + 4)
        return try supervised(supervision, file: file, activity: "the call") { () throws(PluginError) -> JSONValue? in
            lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(function.slot))
            var budget = newBudget()
            for (position, argument) in arguments.enumerated() {
                do throws(ConversionError) {
                    try pushArgument(argument, budget: &budget)
                } catch {
                    throw PluginError(.runtime, file: file, message: "argument #\(position + 1) cannot be passed to Lua: \(error.description)")
                }
            }
            try protectedCall(arguments: Int32(arguments.count), file: file)
            guard lua_type(state, -1) != LUA_TNIL else { return nil }
            do throws(ConversionError) {
                var conversion = ToJSON(budget: newBudget())
                let result = try value(at: lua_gettop(state), depth: 0, conversion: &conversion)
                if case .null = result { return nil }
                return result
            } catch {
                throw PluginError(.invalidResult(field: error.field(root: "result")), file: file, message: error.reason(root: "result"))
            }
        }
    }

    // MARK: - Protected calls

    /// Runs `body`, which makes one protected call and converts what crosses, with the watchdog
    /// watching. Past the deadline, whatever `body` ended with becomes a timeout error with the
    /// time it really took.
    private func supervised<Value>(
        _ supervision: Supervision, file: String, activity: String, _ body: () throws(PluginError) -> Value
    ) throws(PluginError) -> Value {
        let ticket = supervision.watchdog.begin(interrupt, supervision: supervision)
        let outcome: Result<Value, PluginError>
        do {
            outcome = .success(try body())
        } catch {
            outcome = .failure(error)
        }
        let elapsed = supervision.watchdog.end(ticket)
        let expired = sandman_lua_limits_expired(limits) != 0
        sandman_lua_reset_limits(state, limits)
        limits.pointee.host_depth = 1
        if expired {
            let failure: PluginError? = if case .failure(let error) = outcome { error } else { nil }
            throw PluginError(
                .timeout(supervision.timeout), file: file, line: failure?.line,
                message: "\(activity) ran for \(elapsed.sandmanText), past its deadline of \(supervision.timeout.sandmanText)",
                traceback: failure?.traceback
            )
        }
        return try outcome.get()
    }

    /// Calls the function below `arguments` values on the stack, leaving one result. Errors are
    /// classified here: the instruction budget when the hook spent it, memory only when Lua
    /// reports that an allocation was refused, otherwise a runtime error with its line.
    private func protectedCall(arguments: Int32, file: String) throws(PluginError) {
        limits.pointee.host_depth = 0
        let status = sandman_lua_pcall_traceback(state, arguments, 1)
        limits.pointee.host_depth = 1
        guard status != LUA_OK else { return }
        if status == LUA_ERRMEM {
            throw PluginError(.memoryLimit(limits.pointee.limit), file: file, message: "memory limit of \(limits.pointee.limit) bytes reached")
        }
        let text = string(at: -1) ?? "(error object is not a string)"
        let (message, traceback) = PluginError.splitTraceback(text)
        let line = PluginError.line(in: message, file: file) ?? traceback.flatMap { PluginError.line(in: $0, file: file) }
        if limits.pointee.exhausted != 0 {
            throw PluginError(.instructionLimit(Int(limits.pointee.instruction_limit)), file: file, line: line,
                              message: "instruction budget of \(limits.pointee.instruction_limit) exceeded", traceback: traceback)
        }
        throw PluginError(.runtime, file: file, line: line, message: PluginError.strippingPosition(message, file: file), traceback: traceback)
    }

    // MARK: - Bootstrap

    private func bootstrap(_ hostFunctions: [String: HostFunction]) throws(PluginError) {
        guard sandman_lua_open_sandbox_libraries(state) == LUA_OK else {
            throw PluginError(.runtime, file: "", message: "cannot open the Lua standard libraries")
        }
        lua_settop(state, 0)
        var source = Sandbox.bootstrapSource
        let status = source.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                sandman_luaL_loadtext(state, chars.baseAddress, chars.count, "=sandbox")
            }
        }
        guard status == LUA_OK else {
            throw PluginError(.compile, file: "sandbox", message: string(at: -1) ?? "cannot compile the sandbox")
        }
        lua_createtable(state, 0, Int32(hostFunctions.count + 2))
        for (name, function) in hostFunctions.sorted(by: { $0.key < $1.key }) {
            pushHostFunction(function, name: name)
            lua_setfield(state, -2, name)
        }
        lua_pushlightuserdata(state, Self.nullMarker)
        lua_setfield(state, -2, "null")
        lua_pushlightuserdata(state, Self.emptyArrayMarker)
        lua_setfield(state, -2, "empty_array")
        guard sandman_lua_pcall_traceback(state, 1, 3) == LUA_OK else {
            throw PluginError(.runtime, file: "sandbox", message: string(at: -1) ?? "the sandbox bootstrap failed")
        }
        // Stack: environment factory, array metatable, sentinel metatable.
        lua_pushlightuserdata(state, Self.nullMarker)
        lua_pushvalue(state, -2)
        _ = lua_setmetatable(state, -2)
        sandman_lua_pop(state, 2)
        arrayMetatable = Reference(slot: luaL_ref(state, sandman_lua_registryindex()))
        environmentFactory = Reference(slot: luaL_ref(state, sandman_lua_registryindex()))
    }

    // MARK: - Host functions

    private func pushHostFunction(_ function: @escaping HostFunction, name: String) {
        functions.append(function)
        functionNames.append(name)
        lua_pushinteger(state, lua_Integer(functions.count - 1))
        sandman_lua_push_host_function(state, LuaState.dispatch, 1)
    }

    private static let dispatch: @convention(c) (OpaquePointer?) -> Int32 = { state in
        guard let state, let slot = sandman_lua_getextraspace(state)?.load(as: UnsafeMutableRawPointer.self) else { return 0 }
        let owner = Unmanaged<LuaState>.fromOpaque(slot).takeUnretainedValue()
        return owner.dispatchHostFunction(Int(sandman_lua_tointeger(state, sandman_lua_upvalueindex(2))))
    }

    /// Runs host function `index` on the arguments on the stack; pushes its results and returns
    /// their count, or pushes a message and returns -1 for the C trampoline to raise. Arguments
    /// and results are converted within the call's deadline and what the memory cap leaves.
    private func dispatchHostFunction(_ index: Int) -> Int32 {
        let name = functionNames[index]
        let count = lua_gettop(state)
        var arguments: [JSONValue] = []
        arguments.reserveCapacity(Int(count))
        var conversion = ToJSON(budget: newBudget())
        for position in stride(from: Int32(1), through: count, by: 1) {
            do {
                arguments.append(lua_type(state, position) == LUA_TNIL ? .null : try value(at: position, depth: 0, conversion: &conversion))
            } catch {
                return raise("bad argument #\(position) to '\(name)' (\(error.field(root: "value")): \(error.reason(root: "value")))")
            }
        }
        let results: [JSONValue]
        do {
            results = try functions[index](arguments)
        } catch {
            return raise(error.message)
        }
        guard lua_checkstack(state, Int32(results.count) + 2) != 0 else { return raise("too many results") }
        var budget = newBudget()
        for result in results {
            do {
                try pushArgument(result, budget: &budget)
            } catch {
                return raise("'\(name)' produced a value Lua cannot hold: \(error.description)")
            }
        }
        return Int32(results.count)
    }

    private func raise(_ message: String) -> Int32 {
        push(string: message)
        return -1
    }

    /// A budget for one conversion: what the memory cap leaves, and this state's deadline.
    private func newBudget() -> ConversionBudget {
        let cap = limits.pointee.limit
        let left = cap == 0 ? Int.max : max(0, cap - limits.pointee.used)
        return ConversionBudget(byteLimit: left, deadline: interrupt)
    }

    // MARK: - JSON to Lua

    /// Pushes `value` (nil for null), spending its cost before each part is allocated: what is
    /// allocated stays within `budget`.
    private func pushArgument(_ value: JSONValue, budget: inout ConversionBudget) throws(ConversionError) {
        if value == .null {
            lua_pushnil(state)
        } else {
            try push(value, depth: 0, budget: &budget)
        }
    }

    private func push(_ value: JSONValue, depth: Int, budget: inout ConversionBudget) throws(ConversionError) {
        try ConversionBudget.checkDepth(depth)
        guard lua_checkstack(state, 4) != 0 else { throw ConversionError(reason: "the Lua stack cannot grow") }
        switch value {
        case .null:
            try budget.spendScalar()
            lua_pushlightuserdata(state, Self.nullMarker)
        case .bool(let flag):
            try budget.spendScalar()
            lua_pushboolean(state, flag ? 1 : 0)
        case .int(let number):
            try budget.spendScalar()
            lua_pushinteger(state, lua_Integer(number))
        case .double(let number):
            try budget.spendScalar()
            lua_pushnumber(state, number)
        case .string(let text):
            try budget.spendString(length: text.utf8.count)
            push(string: text)
        case .array(let elements):
            try budget.spendTable()
            lua_createtable(state, Int32(clamping: elements.count), 0)
            for (position, element) in elements.enumerated() {
                do {
                    try push(element, depth: depth + 1, budget: &budget)
                } catch {
                    throw error.inside(.index(position + 1))
                }
                lua_rawseti(state, -2, lua_Integer(position + 1))
            }
            lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(arrayMetatable.slot))
            _ = lua_setmetatable(state, -2)
        case .object(let members):
            try budget.spendTable()
            lua_createtable(state, 0, Int32(clamping: members.count))
            for (key, member) in members where member != .null {
                do {
                    try budget.spendMember(keyLength: key.utf8.count)
                    push(string: key)
                    try push(member, depth: depth + 1, budget: &budget)
                } catch {
                    throw error.inside(.key(key))
                }
                lua_rawset(state, -3)
            }
        }
    }

    private func push(string text: String) {
        var text = text
        text.withUTF8 { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                _ = lua_pushlstring(state, chars.baseAddress, chars.count)
            }
        }
    }

    // MARK: - Lua to JSON

    /// One conversion from Lua: its budget, and the tables already converted that hold tables,
    /// so that such a table met again is converted once. (Tables of plain values are converted
    /// again when met again, which the budget counts anyway: results like `{action = ...}` then
    /// cost no bookkeeping.)
    private struct ToJSON {
        struct Converted {
            var value: JSONValue
            var elements: Int
            var bytes: Int
        }

        var budget: ConversionBudget
        var converted: [UnsafeRawPointer: Converted] = [:]
    }

    /// A table being converted, and the one holding it: the chain of tables from the value down
    /// to where the conversion is, kept on the stack, for finding cycles.
    private struct Ancestor {
        var identity: UnsafeRawPointer
        var depth: Int
        var parent: UnsafePointer<Ancestor>?
    }

    /// The Lua value at absolute stack `index` as JSON. Functions, userdata, threads, cycles,
    /// non-finite numbers, invalid UTF-8, tables mixing keys and values past the budget are
    /// refused with their path.
    private func value(
        at index: Int32, depth: Int, conversion: inout ToJSON, ancestors: UnsafePointer<Ancestor>? = nil
    ) throws(ConversionError) -> JSONValue {
        switch lua_type(state, index) {
        case LUA_TNIL:
            try conversion.budget.spendScalar()
            return .null
        case LUA_TBOOLEAN:
            try conversion.budget.spendScalar()
            return .bool(lua_toboolean(state, index) != 0)
        case LUA_TNUMBER:
            try conversion.budget.spendScalar()
            if lua_isinteger(state, index) != 0 {
                return .int(Int64(lua_tointegerx(state, index, nil)))
            }
            let number = lua_tonumberx(state, index, nil)
            guard number.isFinite else { throw ConversionError(reason: "\(number) is not a number JSON can hold") }
            return .double(number)
        case LUA_TSTRING:
            let text = try string(at: index, budget: &conversion.budget)
            return .string(text)
        case LUA_TLIGHTUSERDATA:
            try conversion.budget.spendScalar()
            switch lua_touserdata(state, index) {
            case Self.nullMarker: return .null
            case Self.emptyArrayMarker: return .array([])
            default: throw ConversionError(reason: "a userdata value cannot be converted")
            }
        case LUA_TTABLE:
            return try table(at: index, depth: depth, conversion: &conversion, ancestors: ancestors)
        case LUA_TFUNCTION:
            throw ConversionError(reason: "a function cannot be converted")
        case LUA_TTHREAD:
            throw ConversionError(reason: "a coroutine cannot be converted")
        default:
            throw ConversionError(reason: "a userdata value cannot be converted")
        }
    }

    /// The string at `index`, its cost spent first, or why it cannot be converted.
    private func string(at index: Int32, budget: inout ConversionBudget) throws(ConversionError) -> String {
        var length = 0
        let pointer = lua_tolstring(state, index, &length)!
        try budget.spendString(length: length)
        guard let text = Self.text(pointer, length: length) else { throw ConversionError(reason: "a string that is not valid UTF-8") }
        return text
    }

    private func table(
        at index: Int32, depth: Int, conversion: inout ToJSON, ancestors: UnsafePointer<Ancestor>?
    ) throws(ConversionError) -> JSONValue {
        let identity = lua_topointer(state, index)!
        if let converted = conversion.converted[identity] {
            try conversion.budget.spend(elements: converted.elements, bytes: converted.bytes)
            return converted.value
        }
        var ancestor = ancestors
        while let current = ancestor {
            if current.pointee.identity == identity {
                throw ConversionError(reason: "a table that contains itself cannot be converted", cycleStart: current.pointee.depth)
            }
            ancestor = current.pointee.parent
        }
        try ConversionBudget.checkDepth(depth)
        guard lua_checkstack(state, 4) != 0 else { throw ConversionError(reason: "the Lua stack cannot grow") }
        let spentBefore = (elements: conversion.budget.elements, bytes: conversion.budget.bytes)
        try conversion.budget.spendTable()
        let (value, holdsTables) = try withUnsafePointer(to: Ancestor(identity: identity, depth: depth, parent: ancestors)) {
            (me) throws(ConversionError) in try members(ofTableAt: index, depth: depth, conversion: &conversion, ancestors: me)
        }
        if holdsTables {
            conversion.converted[identity] = ToJSON.Converted(
                value: value, elements: conversion.budget.elements - spentBefore.elements, bytes: conversion.budget.bytes - spentBefore.bytes
            )
        }
        return value
    }

    /// The table at `index` as an array or object, and whether it holds tables.
    private func members(
        ofTableAt index: Int32, depth: Int, conversion: inout ToJSON, ancestors: UnsafePointer<Ancestor>
    ) throws(ConversionError) -> (JSONValue, holdsTables: Bool) {
        let markedArray = isMarkedArray(at: index)
        var members: [String: JSONValue] = [:]
        var itemKeys: [Int64] = []
        var itemValues: [JSONValue] = []
        var holdsTables = false
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        lua_pushnil(state)
        while lua_next(state, index) != 0 {
            let valueIndex = lua_gettop(state)
            if lua_type(state, valueIndex) == LUA_TTABLE { holdsTables = true }
            switch lua_type(state, -2) {
            case LUA_TSTRING:
                var keyLength = 0
                let keyPointer = lua_tolstring(state, valueIndex - 1, &keyLength)!
                try conversion.budget.spendMember(keyLength: keyLength)
                guard let key = Self.text(keyPointer, length: keyLength) else { throw ConversionError(reason: "a key that is not valid UTF-8") }
                do {
                    members[key] = try value(at: valueIndex, depth: depth + 1, conversion: &conversion, ancestors: ancestors)
                } catch {
                    throw error.inside(.key(key))
                }
            case LUA_TNUMBER where lua_isinteger(state, -2) != 0:
                let key = Int64(lua_tointegerx(state, -2, nil))
                do {
                    itemValues.append(try value(at: valueIndex, depth: depth + 1, conversion: &conversion, ancestors: ancestors))
                    itemKeys.append(key)
                } catch {
                    throw error.inside(.index(Int(truncatingIfNeeded: key)))
                }
            default:
                let typeName = String(cString: lua_typename(state, lua_type(state, -2)))
                throw ConversionError(reason: "a \(typeName) key cannot be converted (keys are strings, or 1...n for arrays)")
            }
            sandman_lua_pop(state, 1)
        }
        if !itemKeys.isEmpty && !members.isEmpty {
            throw ConversionError(reason: "a table mixing array items and named fields cannot be converted")
        }
        if !members.isEmpty {
            guard !markedArray else { throw ConversionError(reason: "an array (sandman.json.array) with named fields cannot be converted") }
            return (.object(members), holdsTables)
        }
        if itemKeys.isEmpty {
            return (markedArray ? .array([]) : .object([:]), holdsTables)
        }
        // lua_next visits the array part in order, so the items are usually in place already.
        let count = Int64(itemKeys.count)
        if itemKeys.enumerated().allSatisfy({ $0.element == Int64($0.offset + 1) }) {
            return (.array(itemValues), holdsTables)
        }
        var elements = [JSONValue](repeating: .null, count: itemKeys.count)
        for (position, key) in itemKeys.enumerated() {
            guard key >= 1, key <= count else {
                throw ConversionError(reason: "an array with a hole or a key outside 1...\(count) (\(key)) cannot be converted; use sandman.json.null for missing items")
            }
            elements[Int(key - 1)] = itemValues[position]
        }
        return (.array(elements), holdsTables)
    }

    private func isMarkedArray(at index: Int32) -> Bool {
        guard lua_getmetatable(state, index) != 0 else { return false }
        lua_rawgeti(state, sandman_lua_registryindex(), lua_Integer(arrayMetatable.slot))
        let marked = lua_rawequal(state, -1, -2) != 0
        sandman_lua_pop(state, 2)
        return marked
    }

    /// The string at `index` (which must hold a string), or nil when it is not valid UTF-8.
    private func string(at index: Int32) -> String? {
        guard lua_type(state, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let pointer = lua_tolstring(state, index, &length) else { return nil }
        return Self.text(pointer, length: length)
    }

    /// `length` bytes at `pointer` as text, or nil when they are not valid UTF-8.
    private static func text(_ pointer: UnsafePointer<CChar>, length: Int) -> String? {
        pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
            let buffer = UnsafeBufferPointer(start: bytes, count: length)
            // Most strings are ASCII, which needs no validation beyond this scan.
            if buffer.allSatisfy({ $0 < 0x80 }) { return String(decoding: buffer, as: UTF8.self) }
            return String(validating: buffer, as: UTF8.self)
        }
    }

    private func ensureStack(_ slots: Int32) throws(PluginError) {
        guard lua_checkstack(state, slots) != 0 else {
            throw PluginError(.runtime, file: "", message: "the Lua stack cannot grow")
        }
    }
}

@available(*, unavailable)
extension LuaState: Sendable {}

/// Why a host function refused to run; raised in Lua at the caller's line.
struct HostFunctionError: Error, Sendable {
    var message: String

    init(_ message: String) {
        self.message = message
    }
}
