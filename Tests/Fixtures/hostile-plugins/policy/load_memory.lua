-- Hostile at load: the top level keeps everything it allocates.
local kept, chunk = {}, string.rep("x", 1024 * 1024)
for i = 1, 1000 do kept[i] = chunk .. i end
function decide(ctx) return nil end
