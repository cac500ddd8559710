// Lua 5.4's C API as Swift can call it: the macros of lua.h/lauxlib.h as static inline functions,
// plus a protected-call trampoline so that Lua errors never longjmp through Swift frames.
// Only the Scripting module imports this.
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

/// A host function written in Swift: it returns the number of results it pushed, or a negative
/// value after pushing an error message. It must never raise a Lua error itself.
typedef int (*sandman_host_function)(lua_State *L);

/// Calls the Swift host function stored as upvalue 1 (a light userdata) and turns its error
/// sentinel into a Lua error here, in C, after the Swift frames have returned.
static inline int sandman_lua_host_trampoline(lua_State *L) {
    sandman_host_function function = (sandman_host_function)lua_touserdata(L, lua_upvalueindex(1));
    int results = function(L);
    if (results < 0) {
        return lua_error(L);
    }
    return results;
}

/// Pushes a C closure that calls `function` through the trampoline, with `extra` extra upvalues
/// taken from the stack top (they become upvalues 2...extra+1).
static inline void sandman_lua_push_host_function(lua_State *L, sandman_host_function function, int extra) {
    lua_pushlightuserdata(L, (void *)function);
    if (extra > 0) {
        lua_insert(L, -(extra + 1));
    }
    lua_pushcclosure(L, sandman_lua_host_trampoline, extra + 1);
}

// MARK: - Limits (added for the Scripting runtime)

#include <stdlib.h>

/// What bounds one Lua state: memory (checked by `sandman_lua_alloc` on the state's own thread),
/// and an instruction budget and a deadline (enforced by `sandman_lua_limit_hook`). The watchdog
/// thread only sets `expired` and arms the hook; everything else belongs to the state's thread.
typedef struct sandman_limits {
    size_t used;
    /// Allocation cap in bytes while plugin code runs; 0 means none.
    size_t limit;
    /// Greater than zero while host (Swift) code runs inside the state: its allocations are not
    /// capped, so the host never meets a memory error it would have to raise through Swift frames.
    int host_depth;
    /// Set when an allocation was refused because of the cap.
    int denied;
    /// Instructions counted since the count hook was armed, and the budget (0 means none).
    long long instructions;
    long long instruction_limit;
    int hook_period;
    /// Set by the hook once the budget is spent; the hook then raises on every instruction.
    int exhausted;
    /// Set by the watchdog at the deadline; the hook then raises on every instruction.
    int expired;
} sandman_limits;

static inline void *sandman_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sandman_limits *limits = (sandman_limits *)ud;
    size_t old = ptr != NULL ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        limits->used -= old;
        return NULL;
    }
    if (nsize > old && limits->host_depth == 0 && limits->limit > 0 && limits->used - old + nsize > limits->limit) {
        limits->denied = 1;
        return NULL;
    }
    void *block = realloc(ptr, nsize);
    if (block == NULL) {
        return NULL;
    }
    limits->used = limits->used - old + nsize;
    return block;
}

static inline sandman_limits *sandman_lua_limits(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (sandman_limits *)ud;
}

/// The count hook: raises once the deadline has passed or the instruction budget is spent, and
/// from then on re-arms itself to run on every instruction, so a script's pcall cannot swallow it.
static inline void sandman_lua_limit_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    sandman_limits *limits = sandman_lua_limits(L);
    if (__atomic_load_n(&limits->expired, __ATOMIC_ACQUIRE)) {
        lua_sethook(L, sandman_lua_limit_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "time limit exceeded");
        return;
    }
    if (limits->exhausted) {
        lua_sethook(L, sandman_lua_limit_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget exceeded");
        return;
    }
    limits->instructions += limits->hook_period;
    if (limits->instruction_limit > 0 && limits->instructions > limits->instruction_limit) {
        limits->exhausted = 1;
        lua_sethook(L, sandman_lua_limit_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction budget exceeded");
    }
}

/// Creates a state whose allocations go through `sandman_lua_alloc` with `limits`.
static inline lua_State *sandman_lua_newstate(sandman_limits *limits) {
    return lua_newstate(sandman_lua_alloc, limits);
}

/// Arms the count hook to count instructions every `period` instructions. Like `lua_sethook`,
/// which Lua documents as callable asynchronously, this may be called from the watchdog thread.
static inline void sandman_lua_arm_budget(lua_State *L, sandman_limits *limits, int period) {
    limits->hook_period = period;
    lua_sethook(L, sandman_lua_limit_hook, LUA_MASKCOUNT, period);
}

/// Marks the deadline as passed and arms the hook on every instruction (watchdog thread).
static inline void sandman_lua_expire(lua_State *L, sandman_limits *limits) {
    __atomic_store_n(&limits->expired, 1, __ATOMIC_RELEASE);
    limits->hook_period = 1;
    lua_sethook(L, sandman_lua_limit_hook, LUA_MASKCOUNT, 1);
}

static inline int sandman_lua_limits_expired(sandman_limits *limits) {
    return __atomic_load_n(&limits->expired, __ATOMIC_ACQUIRE);
}

/// Turns the hook off and clears the per-call counters (the state's own thread, between calls).
static inline void sandman_lua_reset_limits(lua_State *L, sandman_limits *limits) {
    lua_sethook(L, NULL, 0, 0);
    __atomic_store_n(&limits->expired, 0, __ATOMIC_RELEASE);
    limits->exhausted = 0;
    limits->instructions = 0;
    limits->denied = 0;
}

// MARK: - Protected calls with a traceback

/// Message handler: the error message (or a description of a non-string error object) followed
/// by the Lua traceback.
static inline int sandman_lua_traceback_handler(lua_State *L) {
    const char *message = NULL;
    if (lua_type(L, 1) == LUA_TSTRING) {
        message = lua_tostring(L, 1);
    } else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
        message = lua_tostring(L, -1);
    } else {
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, message, 1);
    return 1;
}

/// `lua_pcall` with `sandman_lua_traceback_handler` as message handler; the caller has made room
/// for one more stack slot.
static inline int sandman_lua_pcall_traceback(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, sandman_lua_traceback_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

// MARK: - Host functions that respect the limits

/// Like `sandman_lua_host_trampoline`, and while the Swift function runs its allocations are not
/// capped; an error it reports is raised here with the position of the calling Lua code.
static inline int sandman_lua_limited_host_trampoline(lua_State *L) {
    sandman_host_function function = (sandman_host_function)lua_touserdata(L, lua_upvalueindex(1));
    sandman_limits *limits = sandman_lua_limits(L);
    limits->host_depth += 1;
    int results = function(L);
    limits->host_depth -= 1;
    if (results < 0) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    }
    return results;
}

/// Pushes a C closure that calls `function` through `sandman_lua_limited_host_trampoline`, with
/// `extra` extra upvalues taken from the stack top (they become upvalues 2...extra+1).
static inline void sandman_lua_push_limited_host_function(lua_State *L, sandman_host_function function, int extra) {
    lua_pushlightuserdata(L, (void *)function);
    if (extra > 0) {
        lua_insert(L, -(extra + 1));
    }
    lua_pushcclosure(L, sandman_lua_limited_host_trampoline, extra + 1);
}

/// Opens only the standard libraries the sandbox draws from: base, string, table, math, utf8, os.
/// A `lua_CFunction`, to be called in protected mode (opening allocates).
static inline int sandman_lua_open_sandbox_libraries(lua_State *L) {
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
    lua_pop(L, 6);
    return 0;
}

static inline int sandman_lua_open_sandbox_libraries_protected(lua_State *L) {
    lua_pushcfunction(L, sandman_lua_open_sandbox_libraries);
    return lua_pcall(L, 0, 0, 0);
}

#endif
