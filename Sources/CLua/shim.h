// Lua 5.4's C API as Swift can call it: the macros of lua.h/lauxlib.h as static inline functions.
// The sandbox's limits and host-function trampolines are in CLuaSandbox. Only the Scripting
// module imports this.
#ifndef SANDMAN_CLUA_SHIM_H
#define SANDMAN_CLUA_SHIM_H

#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>

static inline int sandman_lua_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}

static inline void sandman_lua_call(lua_State *L, int nargs, int nresults) {
    lua_call(L, nargs, nresults);
}

static inline const char *sandman_lua_tostring(lua_State *L, int index) {
    return lua_tostring(L, index);
}

static inline lua_Number sandman_lua_tonumber(lua_State *L, int index) {
    return lua_tonumber(L, index);
}

static inline lua_Integer sandman_lua_tointeger(lua_State *L, int index) {
    return lua_tointeger(L, index);
}

static inline void sandman_lua_pop(lua_State *L, int count) {
    lua_pop(L, count);
}

static inline void sandman_lua_newtable(lua_State *L) {
    lua_newtable(L);
}

static inline void sandman_lua_pushcfunction(lua_State *L, lua_CFunction function) {
    lua_pushcfunction(L, function);
}

static inline void sandman_lua_insert(lua_State *L, int index) {
    lua_insert(L, index);
}

static inline void sandman_lua_remove(lua_State *L, int index) {
    lua_remove(L, index);
}

static inline int sandman_lua_isnil(lua_State *L, int index) {
    return lua_isnil(L, index);
}

static inline int sandman_lua_upvalueindex(int index) {
    return lua_upvalueindex(index);
}

static inline int sandman_lua_registryindex(void) {
    return LUA_REGISTRYINDEX;
}

static inline void *sandman_lua_getextraspace(lua_State *L) {
    return lua_getextraspace(L);
}

static inline int sandman_lua_isinteger(lua_State *L, int index) {
    return lua_isinteger(L, index);
}

static inline int sandman_luaL_loadtext(lua_State *L, const char *buffer, size_t size, const char *name) {
    return luaL_loadbufferx(L, buffer, size, name, "t");
}

#endif
