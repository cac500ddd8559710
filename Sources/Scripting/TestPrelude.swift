/// The tiny test API of `*_test.lua` files, run in the test file's environment before the file.
/// The host functions `__invoke(path, hook, input)` and `__set_now(epoch)` are set by the runner.
enum TestPrelude {
    static let source = #"""
    local invoke, set_now_host = __invoke, __set_now
    __invoke, __set_now = nil, nil
    local tests = {}

    function test(name, body)
      if type(name) ~= "string" or type(body) ~= "function" then
        error("usage: test(\"name\", function() ... end)", 2)
      end
      tests[#tests + 1] = { name = name, body = body }
    end

    function plugin(path)
      return setmetatable({}, {
        __index = function(_, hook)
          return function(input) return invoke(path, hook, input) end
        end,
      })
    end

    function set_now(epoch) set_now_host(epoch) end

    local function show(value)
      if type(value) == "string" then return string.format("%q", value) end
      if type(value) == "table" then
        local ok, text = pcall(sandman.json.encode, value)
        if ok then return text end
      end
      return tostring(value)
    end

    local function difference(actual, expected, path)
      if rawequal(actual, expected) then return nil end
      if type(actual) == "table" and type(expected) == "table" then
        for key, value in pairs(expected) do
          local found = difference(actual[key], value, path .. "[" .. show(key) .. "]")
          if found then return found end
        end
        for key in pairs(actual) do
          if expected[key] == nil then return path .. "[" .. show(key) .. "]: unexpected " .. show(actual[key]) end
        end
        return nil
      end
      if actual == expected then return nil end
      return path .. ": expected " .. show(expected) .. ", got " .. show(actual)
    end

    function assert_eq(actual, expected, message)
      local found = difference(actual, expected, "value")
      if found then error((message and message .. ": " or "") .. found, 2) end
    end

    function assert_true(value, message)
      if not value then error(message or ("expected a true value, got " .. show(value)), 2) end
    end

    function assert_nil(value, message)
      if value ~= nil then error(message or ("expected nil, got " .. show(value)), 2) end
    end

    function assert_match(text, pattern, message)
      if type(text) ~= "string" or not string.find(text, pattern) then
        error(message or ("expected " .. show(text) .. " to match " .. show(pattern)), 2)
      end
    end

    function assert_error(body, expected, message)
      local ok, problem = pcall(body)
      if ok then error(message or "expected an error, got none", 2) end
      if expected and not string.find(tostring(problem), expected, 1, true) then
        error(message or ("expected an error containing " .. show(expected) .. ", got " .. show(tostring(problem))), 2)
      end
      return problem
    end

    function __test_names()
      local names = sandman.json.array()
      for index, entry in ipairs(tests) do names[index] = entry.name end
      return names
    end

    function __run_test(index) tests[index].body() end
    """#
}
