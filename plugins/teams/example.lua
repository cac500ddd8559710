-- An example team rule: during a release freeze the team's namespaces stay awake, whatever the
-- schedule says, so that hotfixes can be tested at any hour. Copy this file to
-- teams/<your team>.lua (the team names of clusters/*.yaml) and edit the list.
--
-- A team file runs after every policy file, for that team's namespaces only, and sees what the
-- policies decided as ctx.proposal. Returning nil leaves that decision (or the schedule) alone.

local FREEZES = {
  { from = "2026-12-18", to = "2027-01-06", reason = "year-end release freeze" },
  { from = "2026-06-29", to = "2026-07-03", reason = "summer launch week" },
}

-- Namespaces that never follow the freeze (batch jobs can wait).
local EXEMPT = { ["example-batch"] = true }

-- Whether someone asked, through an override, for the namespace to sleep.
local function sleep_requested(ctx)
  for _, override in ipairs(ctx.overrides or {}) do
    if override.kind == "sleep" and (override["until"] == nil or override["until"] > ctx.now) then
      return true
    end
  end
  return false
end

function decide(ctx)
  if ctx.action ~= "sleep" or EXEMPT[ctx.namespace] then return nil end
  -- A person's explicit override wins over the freeze.
  if sleep_requested(ctx) then return nil end

  local zone = ctx.schedule and ctx.schedule.timeZone or "UTC"
  local day = sandman.time.format(ctx.now, "%F", zone)
  for _, freeze in ipairs(FREEZES) do
    if day >= freeze.from and day <= freeze.to then
      return {
        action = "keep",
        reason = string.format("%s (%s to %s): %s stays awake", freeze.reason, freeze.from, freeze.to, ctx.namespace),
      }
    end
  end
  return nil
end
