-- Hostile at load: the top level spends its time in host code (JSON), a few instructions per
-- millisecond, so only the load deadline stops it.
local value = { string.rep("x", 256 * 1024) }
while true do sandman.json.decode(sandman.json.encode(value)) end
function decide(ctx) return nil end
