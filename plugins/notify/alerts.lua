-- Slack messages for what needs a person: a failed sleep or wake, a cluster the hub cannot
-- reach (and its recovery), a plugin that does not load or fails. Events and their fields:
-- docs/plugins.md, "Notification events". Other events return nil.

local MAX_FAILURES_SHOWN = 5

local function section(text)
  return { type = "section", text = { type = "mrkdwn", text = text } }
end

local function when(epoch, event)
  return sandman.time.format(epoch, "%a %d %b %H:%M %Z", event.timezone)
end

local function code(text)
  text = tostring(text or "unknown error")
  if #text > 1500 then text = text:sub(1, 1500) .. "..." end
  return "```" .. (text:gsub("```", "'''")) .. "```"
end

local function footer(parts)
  return { type = "context", elements = { { type = "mrkdwn", text = table.concat(parts, " · ") } } }
end

local function target(event)
  if event.namespace then return event.cluster .. "/" .. event.namespace end
  return event.cluster
end

local function operation_failed(event)
  local operation = event.operation or {}
  local action = operation.action or "operation"
  local lines = {}
  for index, failure in ipairs(operation.failures or {}) do
    if index > MAX_FAILURES_SHOWN then
      lines[#lines + 1] = string.format("... and %d more", #operation.failures - MAX_FAILURES_SHOWN)
      break
    end
    lines[#lines + 1] = failure.object .. ": " .. failure.error
  end
  if #lines == 0 then lines[1] = operation.error or "no details" end
  local parts = {}
  if operation.id then parts[#parts + 1] = "operation `" .. operation.id .. "`" end
  if operation.done then parts[#parts + 1] = string.format("%d done, %d failed", operation.done, operation.failed or 0) end
  if event.at then parts[#parts + 1] = when(event.at, event) end
  local blocks = { section(string.format(":x: %s of *%s* failed", action, target(event))), section(code(table.concat(lines, "\n"))) }
  if #parts > 0 then blocks[#blocks + 1] = footer(parts) end
  return { text = string.format("%s of %s failed: %s", action, target(event), lines[1]), blocks = blocks }
end

local function cluster_unreachable(event)
  local since = event.at and (" since " .. when(event.at, event)) or ""
  return {
    text = string.format("%s is unreachable%s", event.cluster, since),
    blocks = {
      section(string.format(":rotating_light: *%s* is unreachable%s; nothing sleeps or wakes there until it answers", event.cluster, since)),
      section(code(event.error)),
      footer({ "Sandman keeps probing it" }),
    },
  }
end

local function cluster_recovered(event)
  return {
    text = string.format("%s is reachable again", event.cluster),
    blocks = { section(string.format(":white_check_mark: *%s* is reachable again; its schedules resume", event.cluster)) },
  }
end

local STATE_TEXT = {
  stale = "does not load; the previous version keeps serving",
  failed = "does not load; nothing serves it, so its calls fall back to the defaults",
  loaded = "failed on its last call; that call fell back to the default",
}

local function plugin_broken(event)
  local state = STATE_TEXT[event.state] or "has a problem"
  return {
    text = string.format("Plugin %s %s: %s", event.plugin, state, tostring(event.error)),
    blocks = {
      section(string.format(":jigsaw: Plugin `%s` %s", event.plugin, state)),
      section(code(event.error)),
      footer({ "Check it with `sandman plugins lint` and `sandman plugins test`" }),
    },
  }
end

local FORMATTERS = {
  operation_failed = operation_failed,
  cluster_unreachable = cluster_unreachable,
  cluster_recovered = cluster_recovered,
  plugin_broken = plugin_broken,
}

function format(event)
  local formatter = FORMATTERS[event.type]
  if formatter == nil then return nil end
  return formatter(event)
end
