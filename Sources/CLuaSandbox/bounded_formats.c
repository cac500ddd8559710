// Format-length limits for the library functions whose cost grows with their format rather than
// their data: string.pack, string.unpack, string.packsize and os.date.
#include <lua.h>
#include <lauxlib.h>

#include "bounded.h"

#define STRINGIFY(x) #x
#define TEXT(x) STRINGIFY(x)

/// Runs the original function (upvalue 1) on the same stack once the format is short enough;
/// called directly, it reports argument errors under its own name.
static int short_format_only(lua_State *L) {
    size_t length = 0;
    luaL_optlstring(L, 1, "", &length);
    luaL_argcheck(L, length <= SANDMAN_MAXIMUM_FORMAT, 1, "format longer than " TEXT(SANDMAN_MAXIMUM_FORMAT) " bytes");
    return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

void sandman_limit_format_length(lua_State *L, const char *name) {
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, short_format_only, 1);
    lua_setfield(L, -2, name);
}

void sandman_bound_os_library(lua_State *L) {
    sandman_limit_format_length(L, "date");
}
