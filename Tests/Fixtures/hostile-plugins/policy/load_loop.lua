-- Hostile at load: the top level never returns (a Lua loop: the instruction budget stops it).
while true do end
function decide(ctx) return nil end
