-- Sandman's default sleep policy (docs/plugins.md, "Default plugins").
--
-- The hub asks the policy files whenever a schedule (a SleepInfo in the namespace, or a hub
-- schedule of clusters/<cluster>.yaml) wants a transition now; ctx.action says which one.
--
-- 1. Waking is never objected to, and schedules listed in TRUSTED_SCHEDULES are followed as
--    they are.
-- 2. Production sleeps only when the schedule says so explicitly: a SleepInfo in the namespace
--    (or a trusted hub schedule). Any other sleep is answered "keep".
-- 3. Other tiers sleep only inside their hub policy window, read in the schedule's time zone:
--    development follows the seed's `default` policy (18:00-08:00), staging the `conservative`
--    one (20:00-06:00), every day. A sleep asked for outside the window is answered "keep".
-- Otherwise no opinion (nil): the schedule stands.

local POLICIES = {
  default = { sleep = "18:00", wake = "08:00" },
  conservative = { sleep = "20:00", wake = "06:00" },
}

local TIER_POLICY = {
  development = "default",
  staging = "conservative",
}

-- Schedules (SleepInfo or hub schedule names) followed as they are, in every tier, outside the
-- windows too. `long-weekend` is the staging hub schedule of clusters/staging.yaml that puts the
-- batch namespaces to sleep on Friday at 18:00, before the conservative window opens.
local TRUSTED_SCHEDULES = { ["long-weekend"] = true }

local function minutes(clock)
  local hour, minute = clock:match("^(%d%d?):(%d%d)$")
  return tonumber(hour) * 60 + tonumber(minute)
end

-- Windows in minutes of the day, worked out once when the file loads.
for _, policy in pairs(POLICIES) do
  policy.from, policy["until"] = minutes(policy.sleep), minutes(policy.wake)
end

-- Whether the minute of the day `now` lies in [sleep, wake), a window that may cross midnight.
local function inside(now, sleep, wake)
  if sleep > wake then
    return now >= sleep or now < wake
  end
  return now >= sleep and now < wake
end

local function decide(ctx)
  local schedule = ctx.schedule or {}
  if ctx.action ~= "sleep" or TRUSTED_SCHEDULES[schedule.name] then return nil end

  if ctx.tier == "production" then
    if schedule.source == "SleepInfo" then return nil end
    return { action = "keep", reason = "production sleeps only on a SleepInfo schedule" }
  end

  local name = TIER_POLICY[ctx.tier]
  local policy = POLICIES[name]
  if policy == nil then return nil end
  local zone = schedule.timeZone or "UTC"
  local now = sandman.time.local_parts(ctx.now, zone)
  if inside(now.hour * 60 + now.min, policy.from, policy["until"]) then
    return nil
  end
  return {
    action = "keep",
    reason = string.format("%s policy for %s: sleeps only between %s and %s %s", name, ctx.tier, policy.sleep, policy.wake, zone),
  }
end

return { decide = decide }
