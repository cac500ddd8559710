-- Hostile at load: the top level spends its time in host code (JSON), a few instructions per
-- second, so only the load deadline stops it.
local text = sandman.json.encode({ string.rep("x", 4 * 1024 * 1024) })
while true do sandman.json.decode(text) end
function decide(ctx) return nil end
