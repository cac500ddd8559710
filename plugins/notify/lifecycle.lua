-- Slack messages for the normal life of a namespace: asleep, awake, and the warning before a
-- scheduled sleep with its keep-awake buttons. Events and their fields: docs/plugins.md,
-- "Notification events". Other events return nil (another notify/*.lua may format them).

local function when(epoch, event)
  return sandman.time.format(epoch, "%a %d %b %H:%M %Z", event.timezone)
end

local function target(event)
  if event.namespace then return string.format("*%s*/%s", event.cluster, event.namespace) end
  return string.format("*%s*", event.cluster)
end

local function plain_target(event)
  if event.namespace then return event.cluster .. "/" .. event.namespace end
  return event.cluster
end

local function section(text)
  return { type = "section", text = { type = "mrkdwn", text = text } }
end

local function context(event)
  local parts = {}
  if event.team then parts[#parts + 1] = "team *" .. event.team .. "*" end
  if event.tier then parts[#parts + 1] = event.tier end
  local operation = event.operation or {}
  local actor = event.actor or operation.actor
  if actor then parts[#parts + 1] = "by " .. actor end
  if event.at then parts[#parts + 1] = when(event.at, event) end
  return { type = "context", elements = { { type = "mrkdwn", text = table.concat(parts, " · ") } } }
end

local function details(event, verb)
  local operation = event.operation or {}
  local lines = {}
  if operation.done then
    local line = string.format("%d workloads %s", operation.done, verb)
    if operation.seconds then line = line .. string.format(" in %.1f s", operation.seconds) end
    lines[#lines + 1] = line
  end
  local reason = event.reason or operation.reason
  if reason then lines[#lines + 1] = reason end
  if operation.modified and #operation.modified > 0 then
    lines[#lines + 1] = ":information_source: left as they are, because someone changed them during sleep: "
      .. table.concat(operation.modified, ", ")
  end
  return lines
end

local function done(event, emoji, state, verb)
  local blocks = { section(string.format("%s %s is %s", emoji, target(event), state)) }
  local lines = details(event, verb)
  if #lines > 0 then blocks[#blocks + 1] = section(table.concat(lines, "\n")) end
  blocks[#blocks + 1] = context(event)
  return { text = string.format("%s is %s", plain_target(event), state), blocks = blocks }
end

local function pre_sleep_warning(event)
  local minutes = event.minutes or math.max(0, (event.sleep_at - (event.at or sandman.time.now())) // 60)
  -- The hub reads the button value as <cluster> or <cluster>/<namespace>.
  local value = event.button_value or plain_target(event)
  return {
    text = string.format("%s goes to sleep in %d min", plain_target(event), minutes),
    blocks = {
      section(string.format(":hourglass_flowing_sand: %s goes to sleep in %d min (%s)", target(event), minutes, when(event.sleep_at, event))),
      {
        type = "actions",
        block_id = "sandman_pre_sleep",
        elements = {
          {
            type = "button", action_id = "keep_awake_1h", style = "primary", value = value,
            text = { type = "plain_text", text = "Keep awake 1h" },
          },
          {
            type = "button", action_id = "keep_awake_tomorrow", value = value,
            text = { type = "plain_text", text = "Keep awake until tomorrow" },
          },
        },
      },
      context(event),
    },
  }
end

local FORMATTERS = {
  sleep_done = function(event) return done(event, ":zzz:", "asleep", "scaled down or suspended") end,
  wake_done = function(event) return done(event, ":sunrise:", "awake", "restored") end,
  pre_sleep_warning = pre_sleep_warning,
}

function format(event)
  local formatter = FORMATTERS[event.type]
  if formatter == nil then return nil end
  return formatter(event)
end
