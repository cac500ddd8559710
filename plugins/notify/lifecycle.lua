-- Slack messages for the normal life of a namespace: asleep, awake, and the warning before a
-- scheduled sleep with its keep-awake buttons. Events and their fields: docs/plugins.md,
-- "Notification events". Other events return nil (another notify/*.lua may format them).

local function when(epoch, event)
  return sandman.time.format(epoch, "%a %d %b %H:%M %Z", event.timezone)
end

-- The namespace, or the namespaces of an event about several (a pre-sleep warning).
local function names(event)
  if event.namespaces and #event.namespaces > 0 then return table.concat(event.namespaces, ", ") end
  return event.namespace
end

local function target(event)
  local list = names(event)
  if list then return string.format("*%s*/%s", event.cluster, list) end
  return string.format("*%s*", event.cluster)
end

local function plain_target(event)
  local list = names(event)
  if list then return event.cluster .. "/" .. list end
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
  -- The hub reads the button value as <cluster> or <cluster>/<namespace>[,<namespace>...].
  local value = event.button_value or plain_target(event)
  local several = event.namespaces and #event.namespaces > 1
  local verb = several and "go" or "goes"
  return {
    text = string.format("%s %s to sleep in %d min", plain_target(event), verb, minutes),
    blocks = {
      section(string.format(":hourglass_flowing_sand: %s %s to sleep in %d min (%s)", target(event), verb, minutes, when(event.sleep_at, event))),
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

-- The result of an operation someone started from Slack, posted to the command's response_url.
local function command_result(event)
  local operation = event.operation or {}
  local where = event.cluster
  if event.namespaces and #event.namespaces > 0 then where = where .. "/" .. table.concat(event.namespaces, ", ") end
  local icons = { succeeded = operation.action == "wake" and ":sunny:" or ":zzz:", partial = ":warning:", failed = ":x:" }
  local head = string.format("%s <@%s>: %s of *%s* %s", icons[operation.state] or ":grey_question:", event.user,
    operation.action, where, operation.state)
  local lines = { string.format("%d workloads done", operation.done or 0) }
  for i, failure in ipairs(operation.failures or {}) do
    if i > 5 then lines[#lines + 1] = string.format("… and %d more failures", #operation.failures - 5) break end
    lines[#lines + 1] = string.format("• %s: %s", failure.object, failure.error)
  end
  for i, skipped in ipairs(operation.skipped or {}) do
    if i > 5 then lines[#lines + 1] = string.format("… and %d more skipped", #operation.skipped - 5) break end
    lines[#lines + 1] = string.format("• skipped %s: %s", skipped.object, skipped.reason)
  end
  if operation.error then lines[#lines + 1] = "error: " .. operation.error end
  return { text = head, blocks = { section(head), section(table.concat(lines, "\n")), context(event) } }
end

local FORMATTERS = {
  command_result = command_result,
  sleep_done = function(event) return done(event, ":zzz:", "asleep", "scaled down or suspended") end,
  wake_done = function(event) return done(event, ":sunrise:", "awake", "restored") end,
  pre_sleep_warning = pre_sleep_warning,
}

function format(event)
  local formatter = FORMATTERS[event.type]
  if formatter == nil then return nil end
  return formatter(event)
end
