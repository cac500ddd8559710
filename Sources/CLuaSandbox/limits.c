#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>

#include "CLuaSandbox.h"
#include "bounded.h"

/// Error messages longer than this are cut before the traceback is added (the handler's
/// allocations are not capped).
#define MAXIMUM_MESSAGE 4096

static sandman_limits *limits_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (sandman_limits *)ud;
}

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sandman_limits *limits = (sandman_limits *)ud;
    size_t old = ptr != NULL ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        limits->used -= old;
        return NULL;
    }
    if (nsize > old && limits->host_depth == 0 && limits->limit > 0 && limits->used - old + nsize > limits->limit) {
        return NULL;
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL) {
        return NULL;
    }
    limits->used = limits->used - old + nsize;
    return block;
}

lua_State *sandman_lua_newstate(sandman_limits *limits) {
    return lua_newstate(capped_alloc, limits);
}

static int expired(const sandman_limits *limits) {
    return __atomic_load_n(&limits->expired, __ATOMIC_ACQUIRE);
}

/// The count hook: raises once the deadline has passed or the instruction budget is spent, and
/// from then on re-arms itself to run on every instruction, so a script's pcall cannot swallow it.
static void limit_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    sandman_limits *limits = limits_of(L);
    if (expired(limits)) {
        lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "time limit exceeded");
        return;
    }
    if (limits->exhausted) {
        lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget exceeded");
        return;
    }
    limits->instructions += __atomic_load_n(&limits->hook_period, __ATOMIC_RELAXED);
    if (limits->instruction_limit > 0 && limits->instructions > limits->instruction_limit) {
        limits->exhausted = 1;
        lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget exceeded");
    }
}

void sandman_lua_checkpoint(lua_State *L, long long cost) {
    sandman_limits *limits = limits_of(L);
    if (expired(limits)) {
        luaL_error(L, "time limit exceeded");
    }
    if (__atomic_load_n(&limits->hook_period, __ATOMIC_RELAXED) == 0) {
        return;
    }
    limits->instructions += cost;
    if (limits->exhausted || (limits->instruction_limit > 0 && limits->instructions > limits->instruction_limit)) {
        limits->exhausted = 1;
        lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget exceeded");
    }
}

void sandman_lua_arm_budget(lua_State *L, sandman_limits *limits, int period) {
    __atomic_store_n(&limits->hook_period, period, __ATOMIC_RELAXED);
    lua_sethook(L, limit_hook, LUA_MASKCOUNT, period);
}

void sandman_lua_expire(lua_State *L, sandman_limits *limits) {
    __atomic_store_n(&limits->expired, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&limits->hook_period, 1, __ATOMIC_RELAXED);
    lua_sethook(L, limit_hook, LUA_MASKCOUNT, 1);
}

int sandman_lua_limits_expired(const sandman_limits *limits) {
    return expired(limits);
}

void sandman_lua_reset_limits(lua_State *L, sandman_limits *limits) {
    lua_sethook(L, NULL, 0, 0);
    __atomic_store_n(&limits->expired, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&limits->hook_period, 0, __ATOMIC_RELAXED);
    limits->exhausted = 0;
    limits->instructions = 0;
}

// MARK: - Protected calls with a traceback

/// The error message (a string or number; other values are described, no metamethod is run),
/// cut to MAXIMUM_MESSAGE bytes, followed by the Lua traceback.
static int traceback_handler(lua_State *L) {
    sandman_limits *limits = limits_of(L);
    limits->host_depth += 1;
    const char *message;
    size_t length = 0;
    int type = lua_type(L, 1);
    if (type == LUA_TSTRING || type == LUA_TNUMBER) {
        message = lua_tolstring(L, 1, &length);
        if (length > MAXIMUM_MESSAGE) {
            lua_pushlstring(L, message, MAXIMUM_MESSAGE);
            lua_pushfstring(L, "... (%I more bytes)", (lua_Integer)(length - MAXIMUM_MESSAGE));
            lua_concat(L, 2);
            message = lua_tostring(L, -1);
        }
    } else {
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, message, 1);
    limits->host_depth -= 1;
    return 1;
}

int sandman_lua_pcall_traceback(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

// MARK: - Host functions

static int host_trampoline(lua_State *L) {
    sandman_host_function function = (sandman_host_function)lua_touserdata(L, lua_upvalueindex(1));
    sandman_limits *limits = limits_of(L);
    limits->host_depth += 1;
    int results = function(L);
    if (results < 0) {
        // Still uncapped: a host function refused a value for lack of memory left under the cap,
        // and its message must not fail the same way.
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        limits->host_depth -= 1;
        return lua_error(L);
    }
    limits->host_depth -= 1;
    return results;
}

void sandman_lua_push_host_function(lua_State *L, sandman_host_function function, int extra) {
    lua_pushlightuserdata(L, (void *)function);
    if (extra > 0) {
        lua_insert(L, -(extra + 1));
    }
    lua_pushcclosure(L, host_trampoline, extra + 1);
}

// MARK: - Libraries

static int open_libraries(lua_State *L) {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    sandman_bound_string_library(L);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    sandman_bound_table_library(L);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
    sandman_bound_os_library(L);
    lua_pop(L, 6);
    return 0;
}

int sandman_lua_open_sandbox_libraries(lua_State *L) {
    lua_pushcfunction(L, open_libraries);
    return lua_pcall(L, 0, 0, 0);
}
