-- A hostile plugin: each attack is one way to hang, bloat or poison the hub, chosen by name
-- (ctx.attack for decide, cmd.text for handle, event.attack for format, so the same file can be
-- installed as any kind of plugin). `sandman plugins test` runs them through tests/attacks.yaml;
-- the Scripting tests and a running hub (Tests/HubTests/HostilePluginHubTests.swift) run them too.
local attacks = {}

-- What the host converts: results, host-function arguments, JSON.

local function doubling_chain(levels)
  local t = { leaf = true }
  for _ = 1, levels do t = { t, t } end
  return t
end

function attacks.shared_tables()   -- 40 tables, 2^40 paths
  return doubling_chain(40)
end

function attacks.shared_encode()
  return { action = "keep", reason = sandman.json.encode(doubling_chain(40)) }
end

function attacks.shared_log()
  sandman.log.info("state", { chain = doubling_chain(40) })
end

function attacks.cycle_result()
  local t = { action = "keep", nested = {} }
  t.nested.back = t.nested
  return t
end

function attacks.deep_result()
  local t = {}
  for _ = 1, 200 do t = { t } end
  return t
end

function attacks.result_past_memory_left()   -- 22 MiB in Lua, whose copy does not fit in what is left
  local text = string.rep("x", 11 * 1024 * 1024)
  return { action = "keep", reason = text .. "y", also = text }
end

function attacks.decode_bomb()   -- 1 byte of JSON text per value, 90 bytes of Lua each
  local filler = string.rep("x", 14 * 1024 * 1024)
  return sandman.json.decode("[" .. string.rep("[],", 250000) .. "[]]"), filler
end

-- C library functions that ran for seconds or forever on small input.

function attacks.table_move()
  table.move({}, 1, 1 << 62, 2)
end

function attacks.table_insert_len()
  table.insert(setmetatable({}, { __len = function() return 1 << 62 end }), 1, "x")
end

function attacks.table_remove_len()
  table.remove(setmetatable({}, { __len = function() return 1 << 62 end }), 1)
end

function attacks.table_concat_range()
  return table.concat(setmetatable({}, { __index = function() return "" end }), "", 1, 1 << 62)
end

function attacks.pattern_backtracking()
  return string.rep("a", 300):find(".-.-.-b")
end

function attacks.gsub_empty_matches()
  return ("x"):rep(100000):gsub("", ("%0"):rep(100000))
end

function attacks.plain_find_loop()
  local haystack, needle = ("x"):rep(8 * 1024 * 1024), ("x"):rep(4096) .. "y"
  while true do haystack:find(needle, 1, true) end
end

function attacks.sort_long_strings()
  local shared, list = ("s"):rep(8 * 1024 * 1024), {}
  for i = 1, 3000 do list[i] = shared end
  table.sort(list)
end

function attacks.format_quote_loop()
  local text = ("\0"):rep(4 * 1024 * 1024)
  while true do string.format("%q", text) end
end

function attacks.number_coercion_loop()
  local digits = ("1"):rep(8 * 1024 * 1024)
  while true do local _ = digits + 0 end
end

function attacks.empty_rep()   -- Lua's own string.rep loops 2^62 times here; the sandbox's returns at once
  return { action = "keep", reason = "empty:" .. string.rep("", 1 << 62) }
end

function attacks.date_format()
  return os.date(("%c"):rep(100000))
end

function attacks.pack_format()
  return string.packsize((" "):rep(1000000))
end

-- Error handling: the host's own code paths.

function attacks.error_tostring_loop()
  error(setmetatable({}, { __tostring = function() while true do end end }))
end

function attacks.error_huge_message()
  error(string.rep("x", 8 * 1024 * 1024))
end

function attacks.memory_then_error()
  pcall(string.rep, "x", 1 << 30)
  error("boom")
end

function attacks.close_handler_loop()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  error("leaving")
end

function attacks.pcall_swallows_checkpoint()
  while true do pcall(string.find, string.rep("a", 300), ".-.-.-b") end
end

function attacks.log_flood()
  local line = string.rep("x", 1024 * 1024)
  while true do print(line) end
end

-- The read-only base.

function attacks.readonly_pairs()
  local _, real = pairs(string)
  real.find = function() return 1 end
end

function attacks.readonly_rawset()
  rawset(math, "pi", 3)
end

function attacks.readonly_next()
  return { action = "keep", reason = "next:" .. tostring(next(string)) }
end

local function attack(name)
  local run = attacks[name]
  if run == nil then return { action = "keep", reason = "no attack " .. tostring(name) } end
  return run() or { action = "keep", reason = name .. " returned" }
end

function decide(ctx) return attack(ctx.attack) end
function handle(cmd) return attack(cmd.text) end
function format(event) return attack(event.attack) end
