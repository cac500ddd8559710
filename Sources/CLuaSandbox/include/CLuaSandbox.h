// The limits of Sandman's Lua sandbox, in C: a capped allocator, a count hook that raises at the
// deadline or when the instruction budget is spent, protected calls with a traceback, host
// functions that run uncapped, and replacements for the standard library functions that can run
// long on small input (they check the deadline and count their steps against the budget).
// Only the Scripting module's LuaState imports this.
#ifndef SANDMAN_CLUA_SANDBOX_H
#define SANDMAN_CLUA_SANDBOX_H

#include <stddef.h>

typedef struct lua_State lua_State;

/// What bounds one Lua state. `expired` and `hook_period` are written by the watchdog thread
/// (atomically); everything else belongs to the state's own thread.
typedef struct sandman_limits {
    size_t used;
    /// Allocation cap in bytes while plugin code runs; 0 means none.
    size_t limit;
    /// Greater than zero while host code runs inside the state: its allocations are not capped,
    /// so the host never meets a memory error it would have to raise through Swift frames.
    int host_depth;
    /// Instructions counted since the count hook was armed, and the budget (0 means none).
    long long instructions;
    long long instruction_limit;
    /// Instructions between two runs of the count hook; 0 while the budget is not armed.
    int hook_period;
    /// Set once the budget is spent; the hook then raises on every instruction.
    int exhausted;
    /// Set by the watchdog at the deadline; the hook then raises on every instruction.
    int expired;
} sandman_limits;

/// A state whose allocations go through the capped allocator with `limits`.
lua_State *sandman_lua_newstate(sandman_limits *limits);

/// Opens base, string, table, math, utf8 and os, and replaces their functions that can run long
/// on small input by bounded ones (see docs/plugins.md, "What can run long"). LUA_OK or an error.
int sandman_lua_open_sandbox_libraries(lua_State *L);

/// Arms the count hook to count instructions every `period` instructions. Like `lua_sethook`,
/// which Lua documents as callable asynchronously, this may be called from the watchdog thread.
void sandman_lua_arm_budget(lua_State *L, sandman_limits *limits, int period);

/// Marks the deadline as passed and arms the hook on every instruction (watchdog thread).
void sandman_lua_expire(lua_State *L, sandman_limits *limits);

int sandman_lua_limits_expired(const sandman_limits *limits);

/// Turns the hook off and clears the per-call counters (the state's own thread, between calls).
void sandman_lua_reset_limits(lua_State *L, sandman_limits *limits);

/// `lua_pcall` with a message handler that appends the Lua traceback; the caller has made room
/// for one more stack slot. The handler runs no Lua code and is not memory-capped.
int sandman_lua_pcall_traceback(lua_State *L, int nargs, int nresults);

/// A host function written in Swift: it returns the number of results it pushed, or a negative
/// value after pushing an error message. It must never raise a Lua error itself.
typedef int (*sandman_host_function)(lua_State *L);

/// Pushes a C closure that calls `function` uncapped and raises its error (with the position of
/// the calling Lua code) once the Swift frames have returned. `extra` values from the stack top
/// become upvalues 2...extra+1.
void sandman_lua_push_host_function(lua_State *L, sandman_host_function function, int extra);

#endif
