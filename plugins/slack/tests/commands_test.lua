local slack = plugin("slack/commands.lua")
local clusters = { "production", "staging", "dev" }

local function run(command, text)
  return slack.handle({ command = command, text = text, user_id = "U1", user_name = "alice", clusters = clusters })
end

test("the help text documents every command", function()
  local result = run("/k8s-wake", "help")
  for _, command in ipairs({ "/k8s-wake", "/k8s-sleep", "/k8s-status", "/k8s-override" }) do
    assert_true(result.response.text:find(command, 1, true), "help mentions " .. command)
  end
end)

test("every accepted command is shared in the channel, every refusal is private", function()
  assert_eq(run("/k8s-wake", "staging all 1h").response.response_type, "in_channel")
  assert_eq(run("/k8s-sleep", "dev web").response.response_type, "in_channel")
  assert_eq(run("/k8s-wake", "nowhere").response.response_type, "ephemeral")
  assert_eq(run("/k8s-override", "staging sideways").response.response_type, "ephemeral")
end)

test("a command with no known clusters list accepts any cluster name", function()
  local result = slack.handle({ command = "/k8s-sleep", text = "anything all" })
  assert_eq(result.actions[1], { type = "sleep", cluster = "anything", namespaces = {}, all = true })
end)

test("an unknown slash command gets the help", function()
  assert_eq(run("/k8s-restart", "staging").actions, { { type = "help" } })
end)

test("a bad duration after for is refused", function()
  local result = run("/k8s-override", "staging web awake for ever")
  assert_eq(#result.actions, 0)
  assert_match(result.response.text, "is not a duration")
end)

test("a namespace may not be called like a keyword: all, for, until, clear, because", function()
  for _, word in ipairs({ "all", "for", "until", "clear", "because" }) do
    local result = run("/k8s-sleep", "dev " .. word .. " web")
    assert_eq(#result.actions, 0, word)
  end
end)

test("the help text's examples are accepted", function()
  local help = run("/k8s-wake", "help").response.text
  local count = 0
  for example in help:gmatch("e%.g%. ([^\n]+)") do
    for command, text in example:gmatch("`(/k8s%-%a+) ([^`]*)`") do
      local result = run(command, text)
      assert_true(#result.actions > 0, command .. " " .. text .. ": " .. result.response.text)
      count = count + 1
    end
  end
  assert_true(count >= 4, "examples found: " .. count)
end)
