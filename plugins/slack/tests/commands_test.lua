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
  assert_eq(run("/k8s-wake", "staging 1h").response.response_type, "in_channel")
  assert_eq(run("/k8s-sleep", "dev").response.response_type, "in_channel")
  assert_eq(run("/k8s-wake", "nowhere").response.response_type, "ephemeral")
  assert_eq(run("/k8s-override", "staging sideways").response.response_type, "ephemeral")
end)

test("a command with no known clusters list accepts any cluster name", function()
  local result = slack.handle({ command = "/k8s-sleep", text = "anything" })
  assert_eq(result.actions[1], { type = "sleep", cluster = "anything", namespaces = {} })
end)

test("an unknown slash command gets the help", function()
  assert_eq(run("/k8s-restart", "staging").actions, { { type = "help" } })
end)

test("a bad duration after for is refused", function()
  local result = run("/k8s-override", "staging awake for ever")
  assert_eq(#result.actions, 0)
  assert_match(result.response.text, "needs a duration")
end)
