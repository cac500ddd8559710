-- Sandman's Slack commands: /k8s-wake, /k8s-sleep, /k8s-status, /k8s-override, and the same
-- words written to the bot (`@sandman wake staging payments 2h`, or in a direct message).
--
-- handle(cmd) turns a command into actions for the hub and a reply. The hub checks who may do
-- what (and replaces the reply when it refuses); this file only parses and explains.
-- Reference: docs/plugins.md, "Slack commands".

-- The longest duration a command may ask for, when the hub does not say (cmd.max_duration).
local DEFAULT_MAX_SECONDS = 7 * 24 * 3600

local HELP = table.concat({
  "*Sandman* puts idle Kubernetes namespaces to sleep and wakes them on demand.",
  "",
  "`/k8s-wake <cluster> <namespace ...|all> [duration]` wake now, for a while (default: until the next scheduled sleep)",
  "  e.g. `/k8s-wake staging payments 2h`, `/k8s-wake staging payments-api search 90m`, `/k8s-wake dev all 1h`",
  "`/k8s-sleep <cluster> <namespace ...|all>` put to sleep now, until the next scheduled wake",
  "  e.g. `/k8s-sleep dev search-dev`",
  "`/k8s-status [cluster]` what is asleep and what is awake",
  "`/k8s-override <cluster> <namespace ...|all> awake|asleep|skip [[for] <duration> | until <HH:MM>] [because <reason>]`",
  "  an exception to the schedule, e.g. `/k8s-override staging all awake until 22:00 because customer demo`",
  "`/k8s-override <cluster> <namespace ...|all> clear` remove the overrides",
  "",
  "`all` means every namespace Sandman manages in the cluster; it must be said.",
  "The same words work written to me: `@sandman wake staging payments 2h`, or in a direct message.",
}, "\n")

local USAGE = {
  ["/k8s-wake"] = "`/k8s-wake <cluster> <namespace ...|all> [duration]`",
  ["/k8s-sleep"] = "`/k8s-sleep <cluster> <namespace ...|all>`",
  ["/k8s-status"] = "`/k8s-status [cluster]`",
  ["/k8s-override"] = "`/k8s-override <cluster> <namespace ...|all> awake|asleep|skip [[for] <duration> | until <HH:MM>] [because <reason>]`",
}

local OVERRIDE_KINDS = { awake = "wake", wake = "wake", asleep = "sleep", sleep = "sleep", skip = "skip" }
local KEYWORDS = { ["for"] = true, ["until"] = true, clear = true, because = true, all = true }

local function words(text)
  local list = {}
  for word in (text or ""):gmatch("%S+") do list[#list + 1] = word end
  return list
end

local function reply(text, visibility)
  return {
    response_type = visibility or "ephemeral",
    text = text,
    blocks = { { type = "section", text = { type = "mrkdwn", text = text } } },
  }
end

local function refuse(cmd, problem)
  local usage = USAGE[cmd.command]
  return {
    actions = {},
    response = reply(":warning: " .. problem .. (usage and ("\nUsage: " .. usage) or "") .. "\nTry `" .. (cmd.command or "/k8s-wake") .. " help`."),
  }
end

local function known_cluster(cmd, name)
  if cmd.clusters == nil or #cmd.clusters == 0 then return true end
  for _, cluster in ipairs(cmd.clusters) do
    if cluster == name then return true end
  end
  return false
end

local function cluster_list(cmd)
  if cmd.clusters == nil or #cmd.clusters == 0 then return "none configured" end
  return table.concat(cmd.clusters, ", ")
end

local function is_namespace(word)
  return #word <= 63 and word:match("^[a-z0-9][-a-z0-9]*$") ~= nil and word:sub(-1) ~= "-"
end

local function scope(namespaces, all)
  if all then return "all namespaces" end
  return table.concat(namespaces, ", ")
end

local function by(cmd)
  if cmd.user_id then return "<@" .. cmd.user_id .. ">" end
  return cmd.user_name or "someone"
end

local function max_seconds(cmd)
  return cmd.max_duration or DEFAULT_MAX_SECONDS
end

-- `seconds` as people write it: 7d, 36h, 90m.
local function span(seconds)
  if seconds % 86400 == 0 then return (seconds // 86400) .. "d" end
  if seconds % 3600 == 0 then return (seconds // 3600) .. "h" end
  return (seconds // 60) .. "m"
end

-- A duration no longer than the hub allows: its seconds, or nil and a problem.
local function duration_seconds(cmd, text)
  local seconds = sandman.time.parse_duration(text)
  if seconds == nil then return nil, "`" .. text .. "` is not a duration (like 2h or 90m)." end
  if seconds > max_seconds(cmd) then
    return nil, "`" .. text .. "` is too long: at most " .. span(max_seconds(cmd)) .. "."
  end
  return seconds
end

-- Reads `<cluster> <namespace ...|all>` from the front of `list`; returns cluster, namespaces,
-- all, rest, or nil and a problem.
local function target(cmd, list)
  local cluster = list[1]
  if cluster == nil then return nil, "Which cluster? Known clusters: " .. cluster_list(cmd) .. "." end
  if not known_cluster(cmd, cluster) then
    return nil, "Unknown cluster `" .. cluster .. "`. Known clusters: " .. cluster_list(cmd) .. "."
  end
  local namespaces, index = sandman.json.array(), 2
  local all = list[2] == "all"
  if all then index = 3 end
  while not all and list[index] ~= nil and is_namespace(list[index]) and sandman.time.parse_duration(list[index]) == nil
      and OVERRIDE_KINDS[list[index]] == nil and not KEYWORDS[list[index]] do
    namespaces[#namespaces + 1] = list[index]
    index = index + 1
  end
  if not all and #namespaces == 0 then
    return nil, "Name the namespaces of `" .. cluster .. "`, or say `all` for every namespace Sandman manages there."
  end
  local rest = {}
  for position = index, #list do rest[#rest + 1] = list[position] end
  return cluster, namespaces, all, rest
end

-- The epoch of the next HH:MM in `zone` after `now`.
local function next_clock(now, clock, zone)
  local hour, minute = clock:match("^(%d%d?):(%d%d)$")
  hour, minute = tonumber(hour), tonumber(minute)
  if hour == nil or hour > 23 or minute > 59 then return nil end
  local parts = sandman.time.local_parts(now, zone)
  local delta = (hour * 60 + minute) - (parts.hour * 60 + parts.min)
  if delta <= 0 then delta = delta + 24 * 60 end
  return now - parts.sec + delta * 60
end

local function wake(cmd, list)
  local cluster, namespaces, all, rest = target(cmd, list)
  if cluster == nil then return refuse(cmd, namespaces) end
  if rest[1] == "for" then table.remove(rest, 1) end
  local duration = rest[1]
  if #rest > 1 then return refuse(cmd, "I did not understand `" .. table.concat(rest, " ") .. "`.") end
  local action = { type = "wake", cluster = cluster, namespaces = namespaces }
  if all then action.all = true end
  local how_long = "until the next scheduled sleep"
  if duration ~= nil then
    local seconds, problem = duration_seconds(cmd, duration)
    if seconds == nil then return refuse(cmd, problem) end
    action.duration = duration
    how_long = "for " .. duration
  end
  return {
    actions = { action },
    response = reply(":sunrise: " .. by(cmd) .. " is waking *" .. cluster .. "* (" .. scope(namespaces, all) .. ") " .. how_long .. ".", "in_channel"),
  }
end

local function sleep(cmd, list)
  local cluster, namespaces, all, rest = target(cmd, list)
  if cluster == nil then return refuse(cmd, namespaces) end
  if #rest > 0 then return refuse(cmd, "I did not understand `" .. table.concat(rest, " ") .. "`.") end
  local action = { type = "sleep", cluster = cluster, namespaces = namespaces }
  if all then action.all = true end
  return {
    actions = { action },
    response = reply(":zzz: " .. by(cmd) .. " is putting *" .. cluster .. "* (" .. scope(namespaces, all) .. ") to sleep until the next scheduled wake.", "in_channel"),
  }
end

local function status(cmd, list)
  if #list > 1 then return refuse(cmd, "`/k8s-status` takes at most one cluster.") end
  local cluster = list[1]
  if cluster ~= nil and not known_cluster(cmd, cluster) then
    return refuse(cmd, "Unknown cluster `" .. cluster .. "`. Known clusters: " .. cluster_list(cmd) .. ".")
  end
  return {
    actions = { { type = "status", cluster = cluster } },
    response = reply(":mag: " .. (cluster and ("*" .. cluster .. "*") or "Every cluster") .. ":"),
  }
end

local function override(cmd, list)
  local cluster, namespaces, all, rest = target(cmd, list)
  if cluster == nil then return refuse(cmd, namespaces) end
  if rest[1] == "clear" and #rest == 1 then
    local action = { type = "override", cluster = cluster, namespaces = namespaces, clear = true }
    if all then action.all = true end
    return {
      actions = { action },
      response = reply(":broom: " .. by(cmd) .. " cleared the overrides of *" .. cluster .. "* (" .. scope(namespaces, all) .. ").", "in_channel"),
    }
  end
  local kind = OVERRIDE_KINDS[rest[1] or ""]
  if kind == nil then return refuse(cmd, "Say `awake`, `asleep`, `skip` or `clear` after the namespaces.") end
  local action = { type = "override", cluster = cluster, namespaces = namespaces, kind = kind }
  if all then action.all = true end
  local index, ends = 2, "until cleared"
  -- `for 3h`, or just `3h`.
  local duration = nil
  if rest[index] == "for" then
    duration = rest[index + 1]
    if duration == nil then return refuse(cmd, "`for` needs a duration such as 4h.") end
    index = index + 2
  elseif rest[index] ~= nil and sandman.time.parse_duration(rest[index]) ~= nil then
    duration = rest[index]
    index = index + 1
  end
  if duration ~= nil then
    if kind == "skip" then return refuse(cmd, "A skip ends with the next scheduled transition: it takes no duration.") end
    local seconds, problem = duration_seconds(cmd, duration)
    if seconds == nil then return refuse(cmd, problem == nil and "`for` needs a duration such as 4h." or problem) end
    action.duration = duration
    ends = "for " .. duration
  elseif rest[index] == "until" then
    if kind == "skip" then return refuse(cmd, "A skip ends with the next scheduled transition: it takes no time.") end
    local zone = cmd.timezone or "UTC"
    local epoch = rest[index + 1] and next_clock(sandman.time.now(), rest[index + 1], zone)
    if epoch == nil then return refuse(cmd, "`until` needs a time of day such as 22:00.") end
    action["until"] = epoch
    ends = "until " .. sandman.time.format(epoch, "%a %H:%M %Z", zone)
    index = index + 2
  end
  if kind == "skip" then ends = "" end
  if rest[index] == "because" then
    local reason = table.concat(rest, " ", index + 1)
    if reason == "" then return refuse(cmd, "`because` needs a reason.") end
    action.reason = reason
    index = #rest + 1
  end
  if rest[index] ~= nil then
    return refuse(cmd, "I did not understand `" .. table.concat(rest, " ", index) .. "`.")
  end
  local what = ({ wake = "keep awake ", sleep = "keep asleep ", skip = "skip the next scheduled transition" })[kind]
  return {
    actions = { action },
    response = reply(":pushpin: " .. by(cmd) .. " set an override on *" .. cluster .. "* (" .. scope(namespaces, all) .. "): "
      .. what .. ends .. (action.reason and (" because " .. action.reason) or "") .. ".", "in_channel"),
  }
end

local HANDLERS = {
  ["/k8s-wake"] = wake,
  ["/k8s-sleep"] = sleep,
  ["/k8s-status"] = status,
  ["/k8s-override"] = override,
}

function handle(cmd)
  local list = words(cmd.text)
  local handler = HANDLERS[cmd.command]
  if handler == nil or list[1] == "help" or (#list == 0 and cmd.command ~= "/k8s-status") then
    return { actions = { { type = "help" } }, response = reply(HELP) }
  end
  return handler(cmd, list)
end
