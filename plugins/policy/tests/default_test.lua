-- Properties of policy/default.lua that are easier to state as loops than as YAML cases.
local policy = plugin("policy/default.lua")

-- Monday 2026-03-02 00:00 in Europe/Rome.
local MIDNIGHT = 1772406000

local function sleep_at(hour, minute, tier, source)
  return policy.decide({
    cluster = "c", tier = tier, namespace = "web", action = "sleep",
    now = MIDNIGHT + hour * 3600 + (minute or 0) * 60,
    schedule = { source = source or "hub", name = "s", timeZone = "Europe/Rome" },
  })
end

test("development may sleep exactly from 18:00 to 08:00", function()
  for hour = 0, 23 do
    local expected = (hour >= 18 or hour < 8) and "allowed" or "keep"
    local decision = sleep_at(hour, 30, "development")
    assert_eq(decision and decision.action or "allowed", expected, "at " .. hour .. ":30")
  end
end)

test("staging may sleep exactly from 20:00 to 06:00", function()
  for hour = 0, 23 do
    local expected = (hour >= 20 or hour < 6) and "allowed" or "keep"
    local decision = sleep_at(hour, 0, "staging")
    assert_eq(decision and decision.action or "allowed", expected, "at " .. hour .. ":00")
  end
end)

test("production never sleeps on a hub schedule, at any hour", function()
  for hour = 0, 23 do
    assert_eq(sleep_at(hour, 0, "production", "hub").action, "keep", "at " .. hour .. ":00")
    assert_nil(sleep_at(hour, 0, "production", "SleepInfo"), "at " .. hour .. ":00 on a SleepInfo")
  end
end)

test("the window follows summer time (CEST)", function()
  -- Wednesday 2026-07-01 19:00 CEST is 17:00 UTC: inside the window in Rome, not in UTC.
  local ctx = { cluster = "c", tier = "development", namespace = "web", action = "sleep", now = 1782925200, schedule = { source = "hub" } }
  assert_eq(policy.decide(ctx).action, "keep")
  ctx.schedule.timeZone = "Europe/Rome"
  assert_nil(policy.decide(ctx))
end)

test("an unknown time zone is an error", function()
  assert_error(function()
    policy.decide({ cluster = "c", tier = "development", namespace = "web", action = "sleep", now = MIDNIGHT, schedule = { timeZone = "Mars/Olympus" } })
  end, "unknown time zone")
end)
