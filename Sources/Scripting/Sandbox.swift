/// The sandbox every plugin runs in, written in Lua and run once per state before any plugin
/// code, with the full standard libraries that were opened (base, string, table, math, utf8, os).
///
/// It receives the host primitives (`host.log`, `host.encode`, ...), builds the read-only base
/// of whitelisted functions and libraries, hides the string metatable, empties the real global
/// table, and returns the environment factory, the array marker metatable and the metatable of
/// the JSON sentinels. Rules and their reasons are in docs/plugins.md ("Sandbox").
enum Sandbox {
    static let bootstrapSource = #"""
    local host = ...
    local assert, error, getmetatable, ipairs, next, pairs, pcall, rawequal, rawget, rawlen, rawset,
          select, setmetatable, tonumber, tostring, type =
          assert, error, getmetatable, ipairs, next, pairs, pcall, rawequal, rawget, rawlen, rawset,
          select, setmetatable, tonumber, tostring, type
    local string, table, math, utf8, os, globals, version = string, table, math, utf8, os, _G, _VERSION
    local concat = table.concat
    local log, null, empty_array = host.log, host.null, host.empty_array

    -- string.dump would hand out bytecode; remove it from the real table so that method syntax
    -- ("").dump cannot reach it either.
    string.dump = nil

    -- Tables of the base are proxies: reads go to the real table, which nothing hands out (pairs
    -- iterates it through a closure over the proxy; next, rawget and rawlen see the empty proxy),
    -- writes fail, and the guarded rawset below refuses them too.
    local protected = setmetatable({}, { __mode = "k" })
    local function readonly(name, contents)
      local function iterate(_, key) return next(contents, key) end
      local proxy = setmetatable({}, {
        __index = contents,
        __newindex = function(_, key)
          error("attempt to modify read-only table '" .. name .. "' (field '" .. tostring(key) .. "')", 2)
        end,
        __pairs = function(self) return iterate, self, nil end,
        __len = function() return #contents end,
        __metatable = false,
      })
      protected[proxy] = name
      return proxy
    end

    local array_mt = { __metatable = "sandman.json.array" }
    local sentinel_mt = {
      __tostring = function(value)
        if rawequal(value, null) then return "sandman.json.null" end
        return "sandman.json.empty_array"
      end,
      __metatable = false,
    }

    local function logger(level)
      return function(message, fields)
        if fields ~= nil and type(fields) ~= "table" then
          error("bad argument #2 to '" .. level .. "' (table expected, got " .. type(fields) .. ")", 2)
        end
        log(level, tostring(message), fields)
      end
    end

    local function array(value)
      if value == nil then value = {} end
      if type(value) ~= "table" then
        error("bad argument #1 to 'array' (table expected, got " .. type(value) .. ")", 2)
      end
      local current = getmetatable(value)
      if current == "sandman.json.array" then return value end
      if current ~= nil then error("bad argument #1 to 'array' (the table already has a metatable)", 2) end
      return setmetatable(value, array_mt)
    end

    local base = {
      assert = assert, error = error, getmetatable = getmetatable, ipairs = ipairs, next = next,
      pairs = pairs, pcall = pcall, rawequal = rawequal, rawget = rawget, rawlen = rawlen,
      select = select, tonumber = tonumber, tostring = tostring, type = type,
      _VERSION = version,
    }

    function base.rawset(target, key, value)
      local name = protected[target]
      if name then
        error("attempt to modify read-only table '" .. name .. "' with rawset (field '" .. tostring(key) .. "')", 2)
      end
      return rawset(target, key, value)
    end

    -- No finalizers: a __gc metamethod would run outside any call, where no limit applies.
    function base.setmetatable(target, metatable)
      if type(metatable) == "table" and rawget(metatable, "__gc") ~= nil then
        error("__gc metamethods are not available to plugins", 2)
      end
      return setmetatable(target, metatable)
    end

    -- Lua runs an xpcall message handler before unwinding, and with hooks off when the error came
    -- from the limit hook, so a looping handler could never be stopped. Here the handler runs
    -- after pcall has unwound, like any other code.
    local unpack = table.unpack
    function base.xpcall(f, handler, ...)
      if type(handler) ~= "function" then
        error("bad argument #2 to 'xpcall' (function expected, got " .. type(handler) .. ")", 2)
      end
      local results = table.pack(pcall(f, ...))
      if results[1] then return unpack(results, 1, results.n) end
      return false, handler(results[2])
    end

    function base.print(...)
      local parts = {}
      for index = 1, select("#", ...) do parts[index] = tostring((select(index, ...))) end
      log("info", concat(parts, "\t"), nil)
    end

    base.string = readonly("string", string)
    base.table = readonly("table", table)
    base.math = readonly("math", math)
    base.utf8 = readonly("utf8", utf8)
    base.os = readonly("os", { time = os.time, date = os.date, clock = os.clock, difftime = os.difftime })
    base.sandman = readonly("sandman", {
      log = readonly("sandman.log", {
        debug = logger("debug"), info = logger("info"), warn = logger("warn"), error = logger("error"),
      }),
      json = readonly("sandman.json", {
        encode = host.encode, decode = host.decode, null = null, empty_array = empty_array, array = array,
      }),
      time = readonly("sandman.time", {
        now = host.now, parse_duration = host.parse_duration, format = host.format,
        local_parts = host.local_parts,
      }),
    })

    getmetatable("").__metatable = false

    local environment_mt = { __index = base, __metatable = false }
    local function new_environment()
      local environment = setmetatable({}, environment_mt)
      rawset(environment, "_G", environment)
      return environment
    end

    for key in pairs(globals) do rawset(globals, key, nil) end
    return new_environment, array_mt, sentinel_mt
    """#
}
